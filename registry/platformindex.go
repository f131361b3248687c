package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// platformSelection is what a platform choice keeps of a source index.
type platformSelection struct {
	children []v1.Descriptor // the children kept, in the source index's order
	missing  []string        // requested platforms the index lacks, left out (skip)
	// raw and digest are the index to put for a platform list: the source index itself
	// when every child is kept, else a new index holding only the kept children.
	raw    []byte
	digest string
}

// selectPlatforms picks, for each platform p asks for, the child of idx (raw, mt) that
// carries it. A platform the index lacks fails the selection (naming the platforms it
// has) unless p skips missing ones; a selection left with no child always fails.
func selectPlatforms(idx *v1.IndexManifest, raw []byte, mt types.MediaType, p Platform) (platformSelection, error) {
	var sel platformSelection
	keep := map[v1.Hash]bool{}
	for _, w := range p.want {
		child, err := pickChild(idx, w)
		if err != nil {
			sel.missing = append(sel.missing, w.String())
			continue
		}
		keep[child.Digest] = true
	}
	has := platformList(idx)
	switch {
	case len(keep) == 0 && len(p.want) == 1:
		return sel, fmt.Errorf("the index has no %s manifest (it has: %s)", p, has)
	case len(keep) == 0:
		return sel, fmt.Errorf("the index has none of the platforms %s (it has: %s)", p, has)
	case len(sel.missing) > 0 && !p.skipMissing:
		return sel, fmt.Errorf("the index lacks %s (it has: %s); --platform-missing skip leaves a missing platform out", strings.Join(sel.missing, ", "), has)
	}
	for _, m := range idx.Manifests {
		if keep[m.Digest] {
			sel.children = append(sel.children, m)
		}
	}
	if len(sel.children) == len(idx.Manifests) {
		sel.raw = raw
		d, _, err := v1.SHA256(bytes.NewReader(raw))
		if err != nil {
			return sel, err
		}
		sel.digest = d.String()
		return sel, nil
	}
	out := *idx
	out.Manifests = sel.children
	out.Subject = nil // the new index refers to nothing the source's referrers were about
	if out.MediaType == "" {
		out.MediaType = mt
	}
	b, err := json.Marshal(out)
	if err != nil {
		return sel, fmt.Errorf("build the %s index: %w", p, err)
	}
	d, _, err := v1.SHA256(bytes.NewReader(b))
	if err != nil {
		return sel, err
	}
	sel.raw, sel.digest = b, d.String()
	return sel, nil
}

// checkImagePlatform checks a single-platform image (got from its config) against p: it
// must carry one of the requested platforms, and, unless p skips missing ones, all of
// them (a list of two cannot all be one image). It returns the requested platforms left out.
func checkImagePlatform(src fmt.Stringer, got *v1.Platform, p Platform) ([]string, error) {
	var missing []string
	for _, w := range p.want {
		if !platformMatches(w, got) {
			missing = append(missing, w.String())
		}
	}
	switch {
	case len(missing) == len(p.want) && len(p.want) == 1:
		return nil, fmt.Errorf("%s is a single-platform image for %s, not %s: use --platform auto or the matching platform", src, platformString(got), p)
	case len(missing) == len(p.want):
		return nil, fmt.Errorf("%s is a single-platform image for %s, none of %s", src, platformString(got), p)
	case len(missing) > 0 && !p.skipMissing:
		return nil, fmt.Errorf("%s is a single-platform image for %s: it lacks %s; --platform-missing skip copies it as it is", src, platformString(got), strings.Join(missing, ", "))
	}
	return slices.Clip(missing), nil
}
