package stages

import (
	"context"
	"fmt"
	"github.com/airgap-charts/airgap-charts/config"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/airgap-charts/airgap-charts/registry"
)

// probeOccurrence is one rendered occurrence of a source image as a composition.
type probeOccurrence struct {
	mapping int
	parts   []compPart
	// written is the occurrence as the original render wrote it.
	written string
}

// probeOutcome is what probing learnt: the leaves to change, and why images it could not
// reach are out of reach.
type probeOutcome struct {
	leaves []valueLeaf
	assign map[int]string
	// reasons says, per mapping left unreached, why.
	reasons map[int]string
	renders int
}

// probeEdits finds value edits that turn every rendered occurrence of each source image
// of mappings into its destination: first over the non-empty leaves whose value occurs in
// an image, then, for images still out of reach, over the empty and null leaves (a
// registry a template prefers when set, an override field).
// effective and user are the chart's effective values and the addon's merged layers
// (effectiveValues of ch and ro.Values).
func probeEdits(ctx context.Context, ch *chart.Chart, ro RenderOptions, effective, user map[string]any, mappings []ImageMapping, found []FoundImage) *probeOutcome {
	bySource := map[registry.ImageRef]int{}
	for i, m := range mappings {
		if _, ok := bySource[m.Source]; !ok {
			bySource[m.Source] = i
		}
	}
	forms := imageForms(mappings, found)
	leaves := collectLeaves(effective, user, forms.candidate, false)
	p := &prober{ch: ch, ro: ro, effective: effective, leaves: leaves}
	var occs []probeOccurrence
	seen := map[string]bool{}
	all := make([]int, len(leaves))
	for i := range all {
		all[i] = i
	}
	p.run(ctx, all, func(r *Rendered) {
		markedTokens(r, func(_, tok string) {
			parts, ok := composition(tok)
			if !ok {
				return
			}
			ref, err := registry.ParseImageRef(decodeParts(parts, leaves, nil))
			if err != nil {
				return
			}
			mi, ok := bySource[ref]
			if !ok || seen[fmt.Sprint(mi, tok)] {
				return
			}
			seen[fmt.Sprint(mi, tok)] = true
			occs = append(occs, probeOccurrence{mapping: mi, parts: parts, written: decodeParts(parts, leaves, nil)})
		})
	})
	out := &probeOutcome{assign: map[int]string{}, reasons: map[int]string{}}
	assignLeaves(occs, mappings, leaves, out.assign)

	unreached := unreachedMappings(occs, mappings, leaves, out.assign)
	if len(unreached) > 0 {
		// Empty and null leaves: a value the template prefers once it is set.
		empties := collectLeaves(effective, user, nil, true)
		first := len(leaves)
		leaves = append(leaves, empties...)
		p.leaves = leaves
		idx := make([]int, len(empties))
		for i := range idx {
			idx[i] = first + i
		}
		locs := locationIndexOf(found, bySource, unreached)
		var occs2 []probeOccurrence
		seen2 := map[string]bool{}
		p.run(ctx, idx, func(r *Rendered) {
			for _, f := range markedImages(r) {
				parts, _ := composition(f.Raw)
				for _, w := range f.Where {
					mi, written, ok := locs.match(w, leaves)
					if !ok || seen2[fmt.Sprint(mi, f.Raw)] {
						continue
					}
					seen2[fmt.Sprint(mi, f.Raw)] = true
					occs2 = append(occs2, probeOccurrence{mapping: mi, parts: parts, written: written})
				}
			}
		})
		assignLeaves(occs2, mappings, leaves, out.assign)
		// A value the template prefers once set stands for the whole reference.
		for _, o := range occs2 {
			if reaches(o, mappings, leaves, out.assign) {
				delete(unreached, o.mapping)
			}
		}
		occs = append(occs, occs2...)
	}
	pruneAssignments(occs, mappings, leaves, out.assign)
	for mi := range unreached {
		out.reasons[mi] = unreachedReason(mi, occs, leaves, p.broken)
	}
	out.leaves = leaves
	out.renders = p.renders
	return out
}

// assignLeaves picks leaf values, one leaf at a time, the value that brings the most
// images to their destination first (ties: the leaf nearer the start of the reference,
// the host), until no occurrence can get closer. A leaf once given a value keeps it, so
// one global.registry shared by six images is one edit.
func assignLeaves(occs []probeOccurrence, mappings []ImageMapping, leaves []valueLeaf, assign map[int]string) {
	for range leaves {
		type vote struct {
			mappings map[int]bool
			pos      int
		}
		votes := map[leafEditKey]*vote{}
		for _, o := range occs {
			if reaches(o, mappings, leaves, assign) {
				continue
			}
			for pos, e := range editOptions(o, mappings, leaves, assign) {
				v := votes[e]
				if v == nil {
					v = &vote{mappings: map[int]bool{}, pos: pos}
					votes[e] = v
				}
				v.mappings[o.mapping] = true
				if pos < v.pos {
					v.pos = pos
				}
			}
		}
		// A tag@digest is right for one image: never given to a leaf other images use.
		users := leafUsers(occs)
		for k, v := range votes {
			if k.pinned && len(users[k.leaf]) > len(v.mappings) {
				delete(votes, k)
			}
		}
		if len(votes) == 0 {
			return
		}
		keys := make([]leafEditKey, 0, len(votes))
		for k := range votes {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			a, b := votes[keys[i]], votes[keys[j]]
			if len(a.mappings) != len(b.mappings) {
				return len(a.mappings) > len(b.mappings)
			}
			if a.pos != b.pos {
				return a.pos < b.pos
			}
			if keys[i].leaf != keys[j].leaf {
				return keys[i].leaf < keys[j].leaf
			}
			return keys[i].value < keys[j].value
		})
		assign[keys[0].leaf] = keys[0].value
	}
}

// pruneAssignments drops the leaf values no occurrence reaching its destination needs
// (half of a composition that could not be completed).
func pruneAssignments(occs []probeOccurrence, mappings []ImageMapping, leaves []valueLeaf, assign map[int]string) {
	used := map[int]bool{}
	for _, o := range occs {
		if !reaches(o, mappings, leaves, assign) {
			continue
		}
		for _, p := range o.parts {
			if p.leaf >= 0 {
				used[p.leaf] = true
			}
		}
	}
	for l := range assign {
		if !used[l] {
			delete(assign, l)
		}
	}
}

type leafEditKey struct {
	leaf  int
	value string
	// pinned: the value carries a digest (tag@digest), right for its image only.
	pinned bool
}

// editOptions lists, nearest the start first, the edits of one not yet assigned leaf of o
// that make o its destination with the assignments so far.
func editOptions(o probeOccurrence, mappings []ImageMapping, leaves []valueLeaf, assign map[int]string) []leafEditKey {
	var out []leafEditKey
	for i, want := range pinWants(o.written, mappings[o.mapping]) {
		opts := editOptionsFor(o, want, leaves, assign)
		for j := range opts {
			opts[j].pinned = i == 0 && pinning(mappings[o.mapping].Source, mappings[o.mapping].Destination)
		}
		out = append(out, opts...)
	}
	return out
}

// editOptionsFor lists the edits of one leaf of o that make it read want.
func editOptionsFor(o probeOccurrence, want string, leaves []valueLeaf, assign map[int]string) []leafEditKey {
	var out []leafEditKey
	for j, part := range o.parts {
		if part.leaf < 0 || part.leaf >= len(leaves) {
			continue
		}
		if _, done := assign[part.leaf]; done {
			continue
		}
		a := decodeParts(o.parts[:j], leaves, assign)
		b := decodeParts(o.parts[j+1:], leaves, assign)
		if len(want) <= len(a)+len(b) || !strings.HasPrefix(want, a) || !strings.HasSuffix(want, b) {
			continue
		}
		// Around this leaf the occurrence must read as the original wrote it.
		a0, b0 := decodeParts(o.parts[:j], leaves, nil), decodeParts(o.parts[j+1:], leaves, nil)
		if len(o.written) < len(a0)+len(b0) || !strings.HasPrefix(o.written, a0) || !strings.HasSuffix(o.written, b0) {
			continue
		}
		value := want[len(a) : len(want)-len(b)]
		if value == decodeParts(o.parts[j:j+1], leaves, nil) {
			continue // no edit: the leaf already reads so
		}
		out = append(out, leafEditKey{leaf: part.leaf, value: value})
	}
	return out
}

// reaches reports whether o renders as its destination with the assignments.
func reaches(o probeOccurrence, mappings []ImageMapping, leaves []valueLeaf, assign map[int]string) bool {
	ref, err := registry.ParseImageRef(decodeParts(o.parts, leaves, assign))
	return err == nil && sameDestination(ref, mappings[o.mapping].Destination)
}

// unreachedMappings are the mappings not every occurrence of which reaches its
// destination (or with no occurrence at all).
func unreachedMappings(occs []probeOccurrence, mappings []ImageMapping, leaves []valueLeaf, assign map[int]string) map[int]bool {
	reached := map[int]bool{}
	failed := map[int]bool{}
	for _, o := range occs {
		if reaches(o, mappings, leaves, assign) {
			reached[o.mapping] = true
		} else {
			failed[o.mapping] = true
		}
	}
	out := map[int]bool{}
	for i := range mappings {
		if !reached[i] || failed[i] {
			out[i] = true
		}
	}
	return out
}

func unreachedReason(mi int, occs []probeOccurrence, leaves []valueLeaf, broken map[int]bool) string {
	var used []string
	seen := map[string]bool{}
	for _, o := range occs {
		if o.mapping != mi {
			continue
		}
		for _, p := range o.parts {
			if p.leaf >= 0 && p.leaf < len(leaves) {
				k := pathString(leaves[p.leaf].Path)
				if !seen[k] {
					seen[k] = true
					used = append(used, k)
				}
			}
		}
	}
	if len(used) == 0 {
		if len(broken) > 0 {
			return "no value the render accepts changed produces it (hard-coded in a template, or its values break the render when changed)"
		}
		return "no value produces it: hard-coded or composed in a template"
	}
	sort.Strings(used)
	return "composed from " + strings.Join(used, ", ") + " with text the values cannot change"
}

// destinationLike writes dst the way written is written: a tag only where written has
// one, a digest only where written has one.
func destinationLike(written string, m ImageMapping) string {
	dst := m.Destination
	_, tag, digest, ok := splitReference(strings.TrimSpace(written))
	if !ok {
		return dst.String()
	}
	s := dst.Name()
	if tag != "" {
		if dst.Tag != "" {
			tag = dst.Tag
		}
		s += ":" + tag
	}
	if digest != "" {
		if dst.Digest != "" {
			digest = dst.Digest
		}
		s += "@" + digest
	} else if tag != "" && pinning(m.Source, dst) {
		s += "@" + dst.Digest
	}
	return s
}

// imageFormsSet holds the spellings of the images probed.
type imageFormsSet struct {
	full []string
	tags []string
	// pinned marks the spellings of images pinned to a digest: their tag leaves are
	// candidates too (the tag becomes tag@digest).
	pinned []bool
}

func imageForms(mappings []ImageMapping, found []FoundImage) imageFormsSet {
	var f imageFormsSet
	pin := false
	add := func(name, tag, digest string) {
		f.pinned = append(f.pinned, pin)
		s := name
		if tag != "" {
			s += ":" + tag
		}
		if digest != "" {
			s += "@" + digest
		}
		f.full = append(f.full, s)
		f.tags = append(f.tags, tag+"@"+digest)
	}
	for _, m := range mappings {
		src := m.Source
		pin = pinning(src, m.Destination)
		add(src.Name(), src.Tag, src.Digest)
		if src.Registry == config.DockerHub {
			add(strings.TrimPrefix(src.Repository, "library/"), src.Tag, src.Digest)
		}
	}
	pin = false
	for _, fi := range found {
		if name, tag, digest, ok := splitReference(strings.TrimSpace(fi.Raw)); ok {
			add(name, tag, digest)
		}
	}
	return f
}

// candidate reports whether a leaf's value takes part in the name of an image: it occurs
// in a spelling of one, and not only inside its tag or digest.
func (f imageFormsSet) candidate(v string) bool {
	if len(v) < 2 || len(v) > 512 || strings.ContainsAny(v, " \t\n") {
		return false
	}
	for i, s := range f.full {
		if strings.Contains(s, v) && (!strings.Contains(f.tags[i], v) || f.pinned[i]) {
			return true
		}
	}
	return false
}

// markedImages collects the images of a probe render whose reference holds a marker.
func markedImages(r *Rendered) []FoundImage {
	c := &collector{byRef: map[registry.ImageRef]*FoundImage{}}
	for _, m := range r.Manifests {
		if !strings.Contains(m.Content, "zqv") {
			continue
		}
		for _, doc := range splitDocuments(m.Content) {
			if !strings.Contains(doc, "zqv") || isCRD(doc) {
				continue
			}
			root, err := decodeDocument(doc)
			if err != nil || root == nil {
				continue
			}
			c.object(root, m.Template)
		}
	}
	var out []FoundImage
	for _, f := range c.byRef {
		if strings.Contains(f.Raw, "zqv") {
			out = append(out, *f)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Raw < out[j].Raw })
	return out
}

// locationIndex finds the original occurrence at a probe render's location.
type locationIndex struct {
	byPlace map[string][]placed
}

type placed struct {
	mapping int
	name    string
	written string
}

func newPlace(w Location) string { return w.Kind + "\x00" + w.Template + "\x00" + w.Path }

func locationIndexOf(found []FoundImage, bySource map[registry.ImageRef]int, only map[int]bool) locationIndex {
	idx := locationIndex{byPlace: map[string][]placed{}}
	for _, f := range found {
		mi, ok := bySource[f.Ref]
		if !ok || !only[mi] {
			continue
		}
		for _, w := range f.Where {
			if w.Kind == "Chart" {
				continue
			}
			k := newPlace(w)
			idx.byPlace[k] = append(idx.byPlace[k], placed{mapping: mi, name: w.Name, written: f.Raw})
		}
	}
	return idx
}

// match finds the original image at w: same kind, template and path, and the same object
// name once markers are read as their (empty) values; else the only one at that place.
func (x locationIndex) match(w Location, leaves []valueLeaf) (int, string, bool) {
	cands := x.byPlace[newPlace(w)]
	name := w.Name
	if parts, ok := composition(name); ok {
		name = decodeParts(parts, leaves, nil)
	}
	for _, c := range cands {
		if c.name == name {
			return c.mapping, c.written, true
		}
	}
	if len(cands) == 1 {
		return cands[0].mapping, cands[0].written, true
	}
	return 0, "", false
}
