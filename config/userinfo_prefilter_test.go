package config

import "testing"

// The shortcut never changes what RedactURLs returns: on texts with and without user
// information it agrees with the regexp alone.
func TestRedactURLsShortcutAgreesWithRegexp(t *testing.T) {
	for _, s := range []string{
		"", "no url here", "docker.io/org/app:1@sha256:abc", `{"repository":"https://charts.example.com","image":"a@sha256:0"}`,
		"https://user:pass@charts.example.com/x", "oci://u@host/ns", `"http://a:b@h"`, "x://@host", "://a@b", "https://host/p@q",
		"see https://host/ and then oci://tok:en@reg.example/ns", "HTTPS://U:P@HOST", "https://üser:päss@host", "https://a b@host",
		"https://a\tb@host", "git+ssh://git@github.com/x", "https://a\\b@host", "https://a#b@host", "https://a?b@host",
	} {
		if got, want := RedactURLs(s), userinfoRE.ReplaceAllString(s, "${1}"); got != want {
			t.Errorf("%q: %q, the regexp gives %q", s, got, want)
		}
	}
	if RedactURLs("https://user:secret@host/charts") != "https://host/charts" {
		t.Error("the password was left in")
	}
}
