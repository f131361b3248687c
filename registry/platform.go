package registry

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Platform is the --platform choice, parsed once: auto (the zero value) copies an index
// intact with every child; one os/arch[/variant] copies that child only and the tag points
// at it; a list of two or more copies an index holding exactly those children (a new
// index, whose digest differs from the source's).
type Platform struct {
	want []v1.Platform // nil: auto; sorted by String, no duplicates
	// skipMissing leaves out a requested platform an image lacks (--platform-missing
	// skip) instead of failing the image.
	skipMissing bool
}

// PlatformAuto copies an index intact, every child included.
var PlatformAuto = Platform{}

// What --platform-missing does with a requested platform an image lacks.
const (
	PlatformMissingFail = "fail"
	PlatformMissingSkip = "skip"
)

// ParsePlatform reads "auto" (or empty), one os/arch[/variant], or a comma-separated list
// of them ("linux/amd64,linux/arm64").
func ParsePlatform(s string) (Platform, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "auto" {
		return Platform{}, nil
	}
	var p Platform
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		one, err := v1.ParsePlatform(part)
		if part == "auto" || err != nil || one.OS == "" || one.Architecture == "" || one.OSVersion != "" {
			return Platform{}, fmt.Errorf("platform %q: want auto, os/arch[/variant] (e.g. linux/amd64) or a comma-separated list of them", s)
		}
		if !slices.ContainsFunc(p.want, func(q v1.Platform) bool { return q.String() == one.String() }) {
			p.want = append(p.want, *one)
		}
	}
	sort.Slice(p.want, func(i, j int) bool { return p.want[i].String() < p.want[j].String() })
	return p, nil
}

// MustParsePlatform is ParsePlatform for literals; it panics on a bad one.
func MustParsePlatform(s string) Platform {
	p, err := ParsePlatform(s)
	if err != nil {
		panic(err)
	}
	return p
}

// WithMissing returns p with what a requested platform an image lacks does: "skip"
// leaves it out (with a note), "fail" (or empty) fails the image.
func (p Platform) WithMissing(policy string) (Platform, error) {
	switch policy {
	case "", PlatformMissingFail:
		p.skipMissing = false
	case PlatformMissingSkip:
		p.skipMissing = true
	default:
		return p, fmt.Errorf("platform-missing %q: want fail or skip", policy)
	}
	return p, nil
}

// Auto reports whether p copies indexes intact.
func (p Platform) Auto() bool { return len(p.want) == 0 }

// List reports whether p asks for two or more platforms (a filtered index).
func (p Platform) List() bool { return len(p.want) > 1 }

// SkipsMissing reports whether a requested platform an image lacks is left out.
func (p Platform) SkipsMissing() bool { return p.skipMissing }

// String is "auto" or the requested platforms, sorted, comma-separated: the same choice
// always reads the same (it is part of an image job's identity).
func (p Platform) String() string {
	if p.Auto() {
		return "auto"
	}
	out := make([]string, len(p.want))
	for i, w := range p.want {
		out[i] = w.String()
	}
	return strings.Join(out, ",")
}

// platformMatches reports whether got satisfies want; an arm64 variant of "" and "v8" are
// the same thing, and a want without variant accepts any.
func platformMatches(want v1.Platform, got *v1.Platform) bool {
	if got == nil || got.OS != want.OS || got.Architecture != want.Architecture {
		return false
	}
	if want.Variant == "" || want.Variant == got.Variant {
		return true
	}
	norm := func(v string) string {
		if want.Architecture == "arm64" && v == "v8" {
			return ""
		}
		return v
	}
	return norm(want.Variant) == norm(got.Variant)
}

// pickChild finds the child of idx for want.
func pickChild(idx *v1.IndexManifest, want v1.Platform) (v1.Descriptor, error) {
	for _, m := range idx.Manifests {
		if platformMatches(want, m.Platform) {
			return m, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("the index has no %s manifest (it has: %s)", &want, platformList(idx))
}

func platformList(idx *v1.IndexManifest) string {
	var out []string
	for _, m := range idx.Manifests {
		if m.Platform != nil && m.Platform.OS != "unknown" {
			out = append(out, m.Platform.String())
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		return "no platforms"
	}
	return strings.Join(out, ", ")
}
