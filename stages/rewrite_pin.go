package stages

import (
	"context"
	"fmt"
	"strings"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/airgap-charts/airgap-charts/registry"
)

// Digest pinning: a mapping whose destination carries a digest its source reference does
// not (the engine's --pin-digests gives each destination the digest its tag holds) is
// written repo:tag@sha256:… wherever the rewrite writes it: whole references, a tag value
// (tag@digest), an empty digest value, and template literals.

// pinning reports whether dst pins a digest src's reference does not carry.
func pinning(src, dst registry.ImageRef) bool { return dst.Digest != "" && src.Digest == "" }

// sameDestination reports whether ref, as rendered, is dst: equal, or for a pinned dst
// the same repository at the same digest without the tag (a chart that writes
// repo@digest when given a digest).
func sameDestination(ref, dst registry.ImageRef) bool {
	if ref == dst {
		return true
	}
	return dst.Digest != "" && ref.Tag == "" && ref.Digest == dst.Digest && ref.Name() == dst.Name()
}

// digestOnly is dst without its tag: the form a chart writing repo@digest renders.
func digestOnly(dst registry.ImageRef) registry.ImageRef {
	dst.Tag = ""
	return dst
}

// pinMap plans the pin of an image map whose repository is written without tag or
// digest: an empty digest value gets the digest, else the tag value becomes tag@digest.
// tag is the tag in effect ("" when the template falls back to the appVersion).
func (p *planner) pinMap(in chartInstance, path []string, m map[string]any, keys imageMapKeys, tag string, src, dst registry.ImageRef) {
	if !pinning(src, dst) {
		return
	}
	if keys.digest != "" && isEmpty(m[keys.digest]) {
		p.setValue(in, appendPath(path, keys.digest), dst.Digest)
		return
	}
	if keys.tag == "" {
		return // the tag comes from the template: left unpinned, the verification says so
	}
	if tag == "" || tag == src.Tag {
		tag = dst.Tag
	}
	if tag == "" {
		return
	}
	p.setValue(in, appendPath(path, keys.tag), tag+"@"+dst.Digest)
}

// unpinnedReason says why ref, a destination rendered without the digest pinned for it,
// is not accepted; "" when it is no such reference.
func unpinnedReason(ref registry.ImageRef, images []ImageMapping) string {
	for _, m := range images {
		d := m.Destination
		if d.Digest != "" && ref.Digest == "" && ref.Name() == d.Name() && ref.Tag == d.Tag {
			return "private but not pinned to its digest (--pin-digests): the chart composes the reference where the rewrite cannot add the digest"
		}
	}
	return ""
}

// pinWants are what a probed occurrence written as written should read: its destination,
// and for a pinned one also the destination without the digest, so that a host edited
// first (one leaf at a time) and a tag made tag@digest next both count as progress.
func pinWants(written string, m ImageMapping) []string {
	wants := []string{destinationLike(written, m)}
	if pinning(m.Source, m.Destination) {
		base := m
		base.Destination.Digest = ""
		wants = append(wants, destinationLike(written, base))
	}
	return wants
}

// unpinnedProbe is a probe of the destinations without their digests.
type unpinnedProbe struct {
	res     *RewriteResult
	renders int
}

// probeUnpinned probes again for the unpinned destinations when probing for the pinned
// ones left images unreached (a tag shared by several images, a tag from template text
// cannot take a digest each): those images are then at least private, and the
// verification reports them as not pinned. It returns the better of the two plans.
func (v *verifier) probeUnpinned(ctx context.Context, probe *probeOutcome, probed *RewriteResult, probeErr error) (unpinnedProbe, bool) {
	pinned := false
	for _, m := range v.in.Images {
		pinned = pinned || pinning(m.Source, m.Destination)
	}
	if !pinned || (probeErr == nil && len(probe.reasons) == 0) {
		return unpinnedProbe{}, false
	}
	base := make([]ImageMapping, len(v.in.Images))
	for i, m := range v.in.Images {
		base[i] = m
		if pinning(m.Source, m.Destination) {
			base[i].Destination.Digest = ""
		}
	}
	p2 := probeEdits(ctx, v.in.Chart, v.in.Render, v.effective, v.user, base, v.in.Found)
	res, err := v.attempt(ctx, func(work *chart.Chart) (*RewritePlan, error) {
		return planFromProbe(work, p2, v.in.Images)
	})
	if err != nil {
		return unpinnedProbe{}, false
	}
	if probeErr == nil && publicScore(res, v.in.Images) >= publicScore(probed, v.in.Images) {
		return unpinnedProbe{}, false
	}
	return unpinnedProbe{res: res, renders: p2.renders + res.Renders}, true
}

// leafUsers lists, per leaf, the mappings whose occurrences compose it.
func leafUsers(occs []probeOccurrence) map[int]map[int]bool {
	out := map[int]map[int]bool{}
	for _, o := range occs {
		for _, p := range o.parts {
			if p.leaf < 0 {
				continue
			}
			if out[p.leaf] == nil {
				out[p.leaf] = map[int]bool{}
			}
			out[p.leaf][o.mapping] = true
		}
	}
	return out
}

// publicScore weighs a rewrite's images left outside their pinned destinations: one an
// unpinned private reference counts 1, any other (public, or a wrong digest) 2. Without
// pinning it is twice the number of public images.
func publicScore(res *RewriteResult, images []ImageMapping) int {
	n := 0
	for _, p := range res.Public {
		if unpinnedReason(p.Image, images) != "" {
			n++
		} else {
			n += 2
		}
	}
	return n
}

// maxPinTries bounds the trial rewrites pinTags renders for one chart.
const maxPinTries = 8

// pinTags tries, for each image the rewrite left private but unpinned, the value that
// holds its tag alone (or an empty tag value, where the chart falls back to its
// appVersion) set to tag@digest; a trial is kept when the verification renders are better
// for it (so a value other images share, or that is not the image's tag, is never kept).
func (v *verifier) pinTags(ctx context.Context, best *RewriteResult) *RewriteResult {
	tries := 0
	for _, m := range v.in.Images {
		if !pinning(m.Source, m.Destination) || m.Destination.Tag == "" || !unpinnedIn(best, m.Destination) {
			continue
		}
		for _, leaf := range v.tagLeaves(m.Source.Tag) {
			if tries >= maxPinTries || ctx.Err() != nil {
				return best
			}
			tries++
			value := m.Destination.Tag + "@" + m.Destination.Digest
			res, err := v.attempt(ctx, func(work *chart.Chart) (*RewritePlan, error) {
				return withValue(work, best.Plan, leaf.Path, value)
			})
			if err != nil {
				continue
			}
			res.Renders += best.Renders
			if publicScore(res, v.in.Images) < publicScore(best, v.in.Images) {
				res.Probed = best.Probed
				best = res
				break
			}
			best.Renders = res.Renders
		}
	}
	return best
}

// unpinnedIn reports whether res leaves dst rendered without its digest.
func unpinnedIn(res *RewriteResult, dst registry.ImageRef) bool {
	for _, p := range res.Public {
		if p.Image.Digest == "" && p.Image.Name() == dst.Name() && p.Image.Tag == dst.Tag {
			return true
		}
	}
	return false
}

// tagLeaves are the values that may hold an image's tag: those equal to it, then empty
// ones under a tag key.
func (v *verifier) tagLeaves(tag string) []valueLeaf {
	out := collectLeaves(v.effective, v.user, func(s string) bool { return s == tag }, false)
	for _, l := range collectLeaves(v.effective, v.user, nil, true) {
		for _, k := range tagKeys {
			if len(l.Path) > 0 && l.Path[len(l.Path)-1] == k {
				out = append(out, l)
			}
		}
	}
	return out
}

// withValue is plan with the value at path (from the top of the effective values) set.
func withValue(work *chart.Chart, plan *RewritePlan, path []string, value string) (*RewritePlan, error) {
	p := &planner{root: work, edits: map[string]int{}}
	p.setTop(chartInstances(work), path, value)
	if len(p.errs) > 0 {
		return nil, fmt.Errorf("pin %s: %v", pathString(path), p.errs)
	}
	out := &RewritePlan{TemplateEdits: plan.TemplateEdits, Unmatched: plan.Unmatched}
	replaced := map[string]bool{}
	for _, e := range p.valueEdits {
		replaced[e.Chart+"\x00"+pathString(e.Path)] = true
	}
	for _, e := range plan.ValueEdits {
		if !replaced[e.Chart+"\x00"+pathString(e.Path)] {
			out.ValueEdits = append(out.ValueEdits, e)
		}
	}
	out.ValueEdits = append(out.ValueEdits, p.valueEdits...)
	return out, nil
}

// composedTagLiteral finds, for a pinned image whose host-qualified name a template
// writes with the tag from an expression ("quay.io/org/app:{{ .Chart.AppVersion }}"),
// that whole reference, and its pinned replacement (the tag the render gave, and the
// digest). It declines when another mapping has the same name: the expression may give
// each its own tag.
func (p *planner) composedTagLiteral(text, name string, mi int) (old, new string, ok bool) {
	m := p.mappings[mi]
	if !pinning(m.Source, m.Destination) || m.Destination.Tag == "" {
		return "", "", false
	}
	for i, o := range p.mappings {
		if i != mi && o.Source.Name() == m.Source.Name() && o.Source.Tag != m.Source.Tag {
			return "", "", false
		}
	}
	start := strings.Index(text, name+":{{")
	if start < 0 {
		return "", "", false
	}
	end := strings.Index(text[start:], "}}")
	if end < 0 {
		return "", "", false
	}
	old = text[start : start+end+2]
	if strings.Contains(old[len(name):], "\n") {
		return "", "", false
	}
	return old, m.Destination.Name() + ":" + m.Destination.Tag + "@" + m.Destination.Digest, true
}
