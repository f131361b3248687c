package config

import (
	"net/url"
	"regexp"
)

// userinfoRE matches the scheme and user information (user:password@) of a URL in text.
var userinfoRE = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s@"'<>\\]+@`)

// RedactURLs removes the user information of every URL in text, so that a password given
// in a repository URL (https://user:pass@host/charts, oci://user:pass@host/ns) never reaches
// an error, a log line, a report or a file, whatever library echoed it.
func RedactURLs(text string) string {
	return userinfoRE.ReplaceAllString(text, "${1}")
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
