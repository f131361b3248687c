package stages

import (
	"regexp"
	"strings"

	"github.com/airgap-charts/airgap-charts/registry"
)

// registryHost matches a registry host as the first path component of a reference:
// a DNS name with at least one dot, "localhost", or either with a port; or an IPv4 address.
var registryHost = regexp.MustCompile(`^(?:localhost|[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+)(?::[0-9]{1,5})?$`)

// notInReference are characters no image reference holds; a token holding one is prose,
// a template, a shell construct or a list, never a reference.
const notInReference = " \t\r\n\"'`,;=()[]{}<>|\\$*?!#%^&+~"

// strictImageRef reports whether s, a whole token of free text (an argument, an env value,
// a word of a ConfigMap), is certainly an image reference: no scheme, a registry host
// as first path component, at least one more component, a tag or a digest, and a
// reference go-containerregistry accepts. "latest", "v1.2", "foo:bar",
// "http://x:80/y" and "example.com:443" are not. Neither are the shapes labels, taints
// and selectors are written in (labelShaped).
func strictImageRef(s string) (registry.ImageRef, bool) {
	if s == "" || len(s) > 512 || strings.Contains(s, "://") || strings.ContainsAny(s, notInReference) {
		return registry.ImageRef{}, false
	}
	host, rest, ok := strings.Cut(s, "/")
	if !ok || rest == "" || !registryHost.MatchString(host) {
		return registry.ImageRef{}, false
	}
	name, digest, hasDigest := strings.Cut(s, "@")
	tag := ""
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		tag = name[i+1:]
	}
	if tag == "" && !hasDigest {
		return registry.ImageRef{}, false
	}
	if labelShaped(host, rest, tag, digest) {
		return registry.ImageRef{}, false
	}
	ref, err := registry.ParseImageRef(s)
	if err != nil {
		return registry.ImageRef{}, false
	}
	return ref, true
}

// labelShaped reports whether host/rest (tag and digest already cut out of rest's end)
// reads as a label, annotation, taint or selector written prefix/name:value rather than
// as an image:
//   - the prefix is one Kubernetes reserves for its own labels and annotations
//     (kubernetes.io, k8s.io and their subdomains), except registry.k8s.io, the
//     project's image registry: "app.kubernetes.io/component:webhook",
//     "node-role.kubernetes.io/control-plane:NoSchedule";
//   - or the name is a single path component after a host without a port, and the part
//     after ':' is not version-like (no digit, not "latest") and no digest pins it:
//     "eks.amazonaws.com/compute-type:fargate". Images written that way carry a version
//     ("registry.k8s.io/pause:3.10"); a host with a port is never a label prefix.
func labelShaped(host, rest, tag, digest string) bool {
	if reservedLabelHost(host) {
		return true
	}
	if digest != "" || strings.Contains(host, ":") || host == "localhost" {
		return false
	}
	name := rest
	if i := strings.IndexAny(name, "@"); i >= 0 {
		name = name[:i]
	}
	if tag != "" {
		name = strings.TrimSuffix(name, ":"+tag)
	}
	return !strings.Contains(name, "/") && !versionLike(tag)
}

// reservedLabelHost reports whether host is kubernetes.io, k8s.io or a subdomain of
// either, other than the registry.k8s.io registry (and its subdomains).
func reservedLabelHost(host string) bool {
	h := host
	if i := strings.IndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	if h == "registry.k8s.io" || strings.HasSuffix(h, ".registry.k8s.io") {
		return false
	}
	return h == "kubernetes.io" || h == "k8s.io" || strings.HasSuffix(h, ".kubernetes.io") || strings.HasSuffix(h, ".k8s.io")
}

// versionLike: a tag with a digit in it, or "latest".
func versionLike(tag string) bool {
	return tag == "latest" || strings.ContainsAny(tag, "0123456789")
}

// keyedImageRef parses the value of a field whose key names an image ("image",
// "sidecarImage", FOO_IMAGE, --consul-image), where a reference without a registry host
// ("nats:2.10", "natsio/exporter:0.14.0") is accepted. Still rejected: prose, templates,
// URLs, Kubernetes label prefixes, numbers and times ("12:30"), host:port ("example.com:443"),
// and single words without a tag ("true", "IfNotPresent"). needTag also rejects a
// reference with neither tag nor digest (free text: "image: nats" says nothing about which
// nats); without it an untagged reference needs a '/' ("bitnami/nginx").
func keyedImageRef(s string, needTag bool) (registry.ImageRef, bool) {
	s = unquote(strings.TrimSpace(s))
	if s == "" || len(s) > 512 || strings.Contains(s, "://") || strings.ContainsAny(s, notInReference) {
		return registry.ImageRef{}, false
	}
	name, _, hasDigest := strings.Cut(s, "@")
	repo, hasTag := name, false
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		repo, hasTag = name[:i], true
	}
	if !hasTag && !hasDigest && (needTag || !strings.Contains(repo, "/")) {
		return registry.ImageRef{}, false
	}
	if !strings.ContainsAny(repo, "abcdefghijklmnopqrstuvwxyz") {
		return registry.ImageRef{}, false
	}
	host, _, hasPath := strings.Cut(repo, "/")
	if !hasPath && strings.Contains(repo, ".") {
		return registry.ImageRef{}, false
	}
	if hasPath && strings.ContainsAny(host, ".:") && (!registryHost.MatchString(host) || reservedLabelHost(host)) {
		return registry.ImageRef{}, false
	}
	ref, err := registry.ParseImageRef(s)
	if err != nil {
		return registry.ImageRef{}, false
	}
	return ref, true
}

// hasTagOrDigest reports whether a reference as written names a tag or a digest.
func hasTagOrDigest(s string) bool {
	name, _, hasDigest := strings.Cut(s, "@")
	return hasDigest || strings.LastIndex(name, ":") > strings.LastIndex(name, "/")
}

// hasRegistryHost reports whether the first path component of a reference is a host.
func hasRegistryHost(s string) bool {
	host, _, ok := strings.Cut(s, "/")
	return ok && (host == "localhost" || strings.ContainsAny(host, ".:"))
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// textTokens splits free text into candidate tokens: on white space, quotes and the
// punctuation that surrounds values in command lines and config files, so that
// "--image=quay.io/a/b:1", `"quay.io/a/b:1",` and "image: quay.io/a/b:1" all yield the
// reference alone. Trailing dots and colons (end of a sentence, a YAML key) are trimmed.
func textTokens(s string) []string {
	var out []string
	eachTextToken(s, func(tok string, _ bool) { out = append(out, tok) })
	return out
}

// tokenSeparator marks the bytes textTokens splits at (all ASCII, so a multi-byte
// character is never split).
var tokenSeparator = func() (t [256]bool) {
	for _, c := range " \t\r\n\"'`,;=()[]{}<>|\\" {
		t[c] = true
	}
	return t
}()

// eachTextToken calls fn with every token of s (see textTokens), without allocating, and
// whether the token holds a '/'.
func eachTextToken(s string, fn func(tok string, slash bool)) {
	start, slash := -1, false
	for i := 0; i <= len(s); i++ {
		if i < len(s) && !tokenSeparator[s[i]] {
			if start < 0 {
				start, slash = i, false
			}
			if s[i] == '/' {
				slash = true
			}
			continue
		}
		if start >= 0 {
			if tok := strings.TrimRight(s[start:i], ".:"); tok != "" {
				fn(tok, slash)
			}
			start = -1
		}
	}
}

// imageRefsInText returns the tokens of s that are references: those strictImageRef
// accepts, and those equal to an image the chart's values name (known, see
// valueimages.go; all of them carry a tag or digest), with the token as written.
func imageRefsInText(s string, known map[string]bool) []textRef {
	if !strings.Contains(s, "/") && (len(known) == 0 || !strings.Contains(s, ":")) {
		return nil
	}
	var out []textRef
	eachTextToken(s, func(tok string, slash bool) {
		if len(known) > 0 && strings.ContainsAny(tok, ":@") && known[tok] {
			if ref, ok := keyedImageRef(tok, true); ok {
				out = append(out, textRef{raw: tok, ref: ref})
				return
			}
		}
		if slash {
			if ref, ok := strictImageRef(tok); ok {
				out = append(out, textRef{raw: tok, ref: ref})
			}
		}
	})
	return out
}

type textRef struct {
	raw string
	ref registry.ImageRef
}
