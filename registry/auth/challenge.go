package auth

import (
	"net/http"
	"strings"
)

// authChallenge is one WWW-Authenticate challenge: its scheme (lower case) and parameters.
type authChallenge struct {
	scheme string
	params map[string]string
}

// responseChallenge returns the challenge of a 401 answer, preferring Bearer over Basic;
// ok is false when the answer carries none.
func responseChallenge(resp *http.Response) (authChallenge, bool) {
	if resp == nil || resp.StatusCode != http.StatusUnauthorized {
		return authChallenge{}, false
	}
	var found []authChallenge
	for _, h := range resp.Header.Values("WWW-Authenticate") {
		if c, ok := parseChallenge(h); ok {
			found = append(found, c)
		}
	}
	for _, c := range found {
		if c.scheme == "bearer" {
			return c, true
		}
	}
	if len(found) > 0 {
		return found[0], true
	}
	return authChallenge{}, false
}

// parseChallenge reads `Scheme key="value", key=token, …` (RFC 7235, one challenge).
func parseChallenge(h string) (authChallenge, bool) {
	h = strings.TrimSpace(h)
	scheme, rest, _ := strings.Cut(h, " ")
	if scheme == "" {
		return authChallenge{}, false
	}
	c := authChallenge{scheme: strings.ToLower(scheme), params: map[string]string{}}
	for rest = strings.TrimSpace(rest); rest != ""; rest = strings.TrimLeft(rest, " ,") {
		key, after, ok := strings.Cut(rest, "=")
		if !ok {
			break
		}
		key = strings.ToLower(strings.TrimSpace(key))
		var val string
		val, rest = challengeValue(strings.TrimLeft(after, " "))
		c.params[key] = val
	}
	return c, true
}

// challengeValue reads a quoted string (with backslash escapes) or a token, and returns
// it with what follows.
func challengeValue(s string) (val, rest string) {
	if !strings.HasPrefix(s, `"`) {
		end := strings.IndexAny(s, ", ")
		if end < 0 {
			return s, ""
		}
		return s[:end], s[end:]
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), s[i+1:]
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), ""
}
