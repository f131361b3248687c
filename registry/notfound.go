package registry

import (
	"errors"
	"github.com/airgap-charts/airgap-charts/config"
	"net/http"
	"regexp"
	"strings"

	ggcrtransport "github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// NotFoundError says an image, or a manifest it needs, is not at the source: the
// registry answered 404 (MANIFEST_UNKNOWN, NAME_UNKNOWN) when asked for it. Its message
// starts with the image and says so first, naming the mirror it was asked through.
type NotFoundError struct {
	Image  string // the source reference as the chart names it
	Mirror string // the mirror host[/path] it was pulled through, empty when none
	What   string // what is missing when not the image itself ("manifest sha256:… (linux/arm64)")
	Err    error
}

func (e *NotFoundError) Error() string {
	s := e.Image + ": not found at the source"
	if e.Mirror != "" {
		s += " (through mirror " + e.Mirror + ")"
	}
	if e.What != "" {
		s += ": " + e.What + " is missing"
	}
	var te *ggcrtransport.Error
	if errors.As(e.Err, &te) {
		if msg := registryMessage(te); msg != "" {
			s += "; the registry said: " + msg
		}
	}
	return s
}

func (e *NotFoundError) Unwrap() error { return e.Err }

// isNotFound reports whether err is a registry's 404 for a manifest or repository.
func isNotFound(err error) bool {
	var te *ggcrtransport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}

// registryMessage is the registry's own words for an error, codes first, without what
// repeats the request (names, revisions).
func registryMessage(te *ggcrtransport.Error) string {
	var parts []string
	for _, d := range te.Errors {
		p := string(d.Code)
		if d.Message != "" {
			p += ": " + d.Message
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}

// mirrorOf is the mirror src is pulled through, as --registry-mirror gave it, or "".
func (c *Client) mirrorOf(src ImageRef) string {
	m, ok := c.mirrors[config.HostKey(src.Registry)]
	if !ok {
		return ""
	}
	if m.prefix != "" {
		return m.host + "/" + m.prefix
	}
	return m.host
}

// digestRE matches a content digest.
var digestRE = regexp.MustCompile(`sha(?:256|384|512):[a-f0-9]{32,128}`)

// oncePerDigest shortens the repeats of a digest in msg: the first occurrence stays whole,
// later ones are dropped where they follow '@' (a reference already named) and otherwise
// cut to their first 12 hex digits and "…", so a message names each digest once.
func oncePerDigest(msg string) string {
	seen := map[string]bool{}
	var b strings.Builder
	last := 0
	for _, loc := range digestRE.FindAllStringIndex(msg, -1) {
		d := msg[loc[0]:loc[1]]
		if !seen[d] {
			seen[d] = true
			continue
		}
		start := loc[0]
		b.WriteString(msg[last:start])
		if start > 0 && msg[start-1] == '@' {
			s := b.String()
			b.Reset()
			b.WriteString(s[:len(s)-1])
		} else {
			algo, hex, _ := strings.Cut(d, ":")
			b.WriteString(algo + ":" + hex[:12] + "…")
		}
		last = loc[1]
	}
	b.WriteString(msg[last:])
	return b.String()
}

// readableError is err with each digest named once in its message.
type readableError struct{ err error }

func (e *readableError) Error() string { return oncePerDigest(e.err.Error()) }
func (e *readableError) Unwrap() error { return e.err }
