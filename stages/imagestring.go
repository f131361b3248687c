package stages

import (
	"regexp"
	"strings"

	"github.com/airgap-charts/airgap-charts/registry"
)

// registryHost matches a registry host as the first path component of a reference:
// a DNS name with at least one dot, "localhost", or either with a port; or an IPv4 address.
var registryHost = regexp.MustCompile(`^(?:localhost|[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+)(?::[0-9]{1,5})?$`)

// strictImageRef reports whether s, a whole token of free text (an argument, an env value,
// a word of a ConfigMap), is certainly an image reference: no scheme, a registry host
// as first path component, at least one more component, a tag or a digest, and a
// reference go-containerregistry accepts. "latest", "v1.2", "foo:bar",
// "http://x:80/y" and "example.com:443" are not.
func strictImageRef(s string) (registry.ImageRef, bool) {
	if s == "" || len(s) > 512 || strings.Contains(s, "://") || strings.ContainsAny(s, " \t\r\n\"'`,;=()[]{}<>|\\$*?!#%^&+~") {
		return registry.ImageRef{}, false
	}
	host, rest, ok := strings.Cut(s, "/")
	if !ok || rest == "" || !registryHost.MatchString(host) {
		return registry.ImageRef{}, false
	}
	name, _, hasDigest := strings.Cut(s, "@")
	hasTag := strings.LastIndex(name, ":") > strings.LastIndex(name, "/")
	if !hasTag && !hasDigest {
		return registry.ImageRef{}, false
	}
	ref, err := registry.ParseImageRef(s)
	if err != nil {
		return registry.ImageRef{}, false
	}
	return ref, true
}

// textTokens splits free text into candidate tokens: on white space, quotes and the
// punctuation that surrounds values in command lines and config files, so that
// "--image=quay.io/a/b:1", `"quay.io/a/b:1",` and "image: quay.io/a/b:1" all yield the
// reference alone. Trailing dots and colons (end of a sentence, a YAML key) are trimmed.
func textTokens(s string) []string {
	fields := strings.FieldsFunc(s, func(r rune) bool {
		switch r {
		case ' ', '\t', '\r', '\n', '"', '\'', '`', ',', ';', '=', '(', ')', '[', ']', '{', '}', '<', '>', '|', '\\':
			return true
		}
		return false
	})
	out := fields[:0]
	for _, f := range fields {
		f = strings.TrimRight(f, ".:")
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

// imageRefsInText returns every token of s that strictImageRef accepts, with the token as
// written.
func imageRefsInText(s string) []textRef {
	if !strings.Contains(s, "/") {
		return nil
	}
	var out []textRef
	for _, tok := range textTokens(s) {
		if ref, ok := strictImageRef(tok); ok {
			out = append(out, textRef{raw: tok, ref: ref})
		}
	}
	return out
}

type textRef struct {
	raw string
	ref registry.ImageRef
}
