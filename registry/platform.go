package registry

import (
	"fmt"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// PlatformAuto copies an index intact, every child included.
const PlatformAuto = "auto"

// parsePlatform reads "auto" (or empty) as nil, else os/arch[/variant].
func parsePlatform(s string) (*v1.Platform, error) {
	if s == "" || s == PlatformAuto {
		return nil, nil
	}
	p, err := v1.ParsePlatform(s)
	if err != nil || p.OS == "" || p.Architecture == "" {
		return nil, fmt.Errorf("platform %q: want auto or os/arch[/variant], e.g. linux/amd64", s)
	}
	return p, nil
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
	return v1.Descriptor{}, fmt.Errorf("the index has no %s manifest (it has: %s)", want, platformList(idx))
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
