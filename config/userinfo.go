package config

import (
	"net/url"
	"regexp"
	"strings"
)

// userinfoRE matches the scheme and user information (user:password@) of a URL in text.
var userinfoRE = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s@"'<>\\]+@`)

// RedactURLs removes the user information of every URL in text, so that a password given
// in a repository URL (https://user:pass@host/charts, oci://user:pass@host/ns) never reaches
// an error, a log line, a report or a file, whatever library echoed it.
func RedactURLs(text string) string {
	if !mayHoldUserinfo(text) {
		return text // the common case (a report of hundreds of images) without the regexp
	}
	return userinfoRE.ReplaceAllString(text, "${1}")
}

// mayHoldUserinfo reports whether userinfoRE can match text: some "://" followed by at
// least one character that may be user information, then "@".
func mayHoldUserinfo(text string) bool {
	for i := strings.Index(text, "://"); i >= 0; {
		j := i + 3
		for j < len(text) && !strings.ContainsRune("/?#@\"'<>\\ \t\n\f\r", rune(text[j])) {
			j++
		}
		if j > i+3 && j < len(text) && text[j] == '@' {
			return true
		}
		k := strings.Index(text[i+3:], "://")
		if k < 0 {
			return false
		}
		i += 3 + k
	}
	return false
}

// SplitUserinfo takes the user information out of a repository URL: clean is the URL
// without it, and user, pass what it held (ok false when it held nothing). A URL that does
// not parse is returned with its user information cut by RedactURLs.
func SplitUserinfo(raw string) (clean, user, pass string, ok bool) {
	u, err := url.Parse(raw)
	if err != nil {
		return RedactURLs(raw), "", "", false
	}
	if u.User == nil {
		return raw, "", "", false
	}
	user = u.User.Username()
	pass, _ = u.User.Password()
	u.User = nil
	return u.String(), user, pass, true
}
