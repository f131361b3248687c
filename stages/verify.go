package stages

import (
	"context"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/airgap-charts/airgap-charts/registry"
)

// verifier renders rewritten charts the two ways they are installed and lists what is
// still public.
type verifier struct {
	in    RewriteInput
	dests map[registry.ImageRef]bool
	// effective are the original chart's effective values with the addon's layers, worked
	// out when first needed (probing, a substitution guard): most charts need neither.
	effective    map[string]any
	effectiveErr error
	effectiveSet bool
	user         map[string]any
	// reasons says, per source image, why the rewrite could not reach it.
	reasons map[registry.ImageRef]string
}

func newVerifier(in RewriteInput) *verifier {
	v := &verifier{in: in, dests: map[registry.ImageRef]bool{}, user: MergeValues(in.Render.Values...),
		reasons: map[registry.ImageRef]string{}}
	for _, m := range in.Images {
		v.dests[m.Destination] = true
		if m.Destination.Digest != "" {
			v.dests[digestOnly(m.Destination)] = true // a pinned reference written repo@digest
		}
	}
	return v
}

// effectiveValues are the original chart's effective values with the addon's layers.
func (v *verifier) effectiveValues() (map[string]any, error) {
	if !v.effectiveSet {
		v.effective, _, v.effectiveErr = effectiveValues(v.in.Chart, v.in.Render.Values)
		v.effectiveSet = true
	}
	return v.effective, v.effectiveErr
}

// maxGuardValues bounds how many values a chart's substitution guards may ask for.
const maxGuardValues = 3

// attempt plans on a fresh copy of the chart, applies the plan and verifies it. A chart
// whose render refuses substituted images until a value allows them (Bitnami's
// global.security.allowInsecureImages) gets that value, in the packaged values and the
// consumer overrides alike.
func (v *verifier) attempt(ctx context.Context, plan func(work *chart.Chart) (*RewritePlan, error)) (*RewriteResult, error) {
	work := cloneChart(v.in.Chart)
	p, err := plan(work)
	if err != nil {
		return nil, err
	}
	if err := ApplyRewrite(work, p); err != nil {
		return nil, err
	}
	res := &RewriteResult{Chart: work, Plan: p}
	for guards := 0; ; guards++ {
		res.Overrides = ConsumerOverrides(work, p)
		user := v.userLayer(res.Overrides)
		public, uses, n, err := v.check(ctx, work, p, res.Overrides, user)
		res.Renders += n
		if err != nil {
			if e, ok := v.guardValue(err, p); ok && guards < maxGuardValues {
				p.ValueEdits = append(p.ValueEdits, e)
				if err := ApplyRewrite(work, &RewritePlan{ValueEdits: []ValueEdit{e}}); err != nil {
					return nil, err
				}
				continue
			}
			return nil, fmt.Errorf("render after rewrite: %w", err)
		}
		res.Public, res.Uses = public, uses
		res.UserKeys = leafPaths(user)
		return res, nil
	}
}

// check renders (a) work with the addon's values (and the keys the addon's values set
// that the rewrite changed), and (b) the original chart with the consumer overrides on
// top, and returns the images of either that are not destinations of this run. (b) is
// not rendered when it must render what (a) did: no template was edited and both see the
// same effective values. What (b) needs does not depend on (a), so it is done beside (a):
// the render itself when (b) is needed whatever (a) gives, else the effective values that
// decide it.
func (v *verifier) check(ctx context.Context, work *chart.Chart, plan *RewritePlan, overrides, user map[string]any) ([]PublicRef, []registry.ImageRef, int, error) {
	roB := v.in.Render
	roB.Values = append(append([]map[string]any{}, v.in.Render.Values...), overrides)
	var b consumerCheck
	done := make(chan struct{})
	needB := len(plan.TemplateEdits) > 0 || len(user) > 0
	go func() {
		defer close(done)
		if needB {
			b.render(ctx, v.in.Chart, roB)
			return
		}
		b.values, _, b.valuesErr = effectiveValues(v.in.Chart, roB.Values)
	}()
	roA := v.in.Render
	roA.Values = append(append([]map[string]any{}, v.in.Render.Values...), user)
	imagesA, errA := renderImages(ctx, work, roA)
	<-done
	n := 1
	if needB {
		n = 2
	}
	if errA != nil {
		return nil, nil, n, errA
	}
	public := v.publicOf(imagesA.found, RenderPackaged)
	if !needB && b.valuesErr == nil && sameValues(imagesA.values, b.values) {
		public = append(public, v.publicOf(imagesA.found, RenderConsumer)...)
		return public, v.usesOf(imagesA.found), 1, nil
	}
	if !needB {
		b.render(ctx, v.in.Chart, roB)
		n = 2
	}
	if b.err != nil {
		return nil, nil, n, b.err
	}
	return append(public, v.publicOf(b.found, RenderConsumer)...), v.usesOf(append(imagesA.found, b.found...)), n, nil
}

// renderedImages are a render's images and the effective values it was given.
type renderedImages struct {
	found  []FoundImage
	values map[string]any
}

// renderImages renders ch and extracts its images; an error is the render's or the
// extraction's, as the packaged chart's verification reports them.
func renderImages(ctx context.Context, ch *chart.Chart, ro RenderOptions) (renderedImages, error) {
	r, err := Render(ctx, ch, ro)
	if err != nil {
		return renderedImages{}, err
	}
	found, err := Extract(r, ch)
	if err != nil {
		return renderedImages{}, fmt.Errorf("extract after rewrite: %w", err)
	}
	return renderedImages{found: found, values: r.values}, nil
}

// consumerCheck is the consumer render (b), or the effective values that decide whether
// it is needed.
type consumerCheck struct {
	values    map[string]any
	valuesErr error
	found     []FoundImage
	err       error
}

func (b *consumerCheck) render(ctx context.Context, ch *chart.Chart, ro RenderOptions) {
	rb, err := Render(ctx, ch, ro)
	if err != nil {
		b.err = fmt.Errorf("original chart with the consumer overrides: %w", err)
		return
	}
	if b.found, err = Extract(rb, ch); err != nil {
		b.err = fmt.Errorf("extract with the consumer overrides: %w", err)
	}
}

// usesOf lists, once each and sorted, the destination references among images.
func (v *verifier) usesOf(images []FoundImage) []registry.ImageRef {
	seen := map[registry.ImageRef]bool{}
	var out []registry.ImageRef
	for _, img := range images {
		if v.dests[img.Ref] && !annotationOnly(img) && !seen[img.Ref] {
			seen[img.Ref] = true
			out = append(out, img.Ref)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// sameValues reports whether the rewritten chart with the addon's values (a, the
// effective values its render was given) and the original chart with the consumer
// overrides on top (b, its effective values) see the same values.
func sameValues(a, b map[string]any) bool {
	if a == nil || b == nil {
		return false
	}
	return reflect.DeepEqual(a, copyValues(b))
}

// publicOf lists the images of a render that are not destinations of this run. A
// reference the chart names only in its artifacthub.io/images annotation is not pulled
// by the render and is left out.
func (v *verifier) publicOf(images []FoundImage, render string) []PublicRef {
	var out []PublicRef
	for _, img := range images {
		if v.dests[img.Ref] || annotationOnly(img) {
			continue
		}
		where := Location{}
		for _, w := range img.Where {
			if w.Kind != "Chart" {
				where = w
				break
			}
		}
		out = append(out, PublicRef{Image: img.Ref, Render: render, Where: where, Reason: v.reason(img.Ref)})
	}
	return out
}

func annotationOnly(img FoundImage) bool {
	if img.AnnotationOnly {
		return true
	}
	for _, w := range img.Where {
		if w.Kind != "Chart" {
			return false
		}
	}
	return len(img.Where) > 0
}

func (v *verifier) reason(ref registry.ImageRef) string {
	if why, ok := v.reasons[ref]; ok {
		return why
	}
	for _, m := range v.in.Images {
		if m.Source == ref {
			return "the rewrite found no value or template that produces it"
		}
	}
	if why := unpinnedReason(ref, v.in.Images); why != "" {
		return why
	}
	if ref.Registry == registryOf(v.dests) {
		return "a destination reference this run does not mirror"
	}
	return "not an image of this chart's default render: a value the rewrite changed brought it in"
}

func registryOf(dests map[registry.ImageRef]bool) string {
	for d := range dests {
		return d.Registry
	}
	return ""
}

// userLayer holds the consumer overrides the addon's values or chart-overrides would
// otherwise override: a chart's defaults never win over values given at install.
func (v *verifier) userLayer(overrides map[string]any) map[string]any {
	out := map[string]any{}
	var walk func(x any, path []string)
	walk = func(x any, path []string) {
		if m, ok := x.(map[string]any); ok {
			for k, e := range m {
				walk(e, appendPath(path, k))
			}
			return
		}
		if len(path) > 0 && hasPath(v.user, path) {
			_ = setPath(out, path, x)
		}
	}
	walk(overrides, nil)
	return out
}

func leafPaths(m map[string]any) []string {
	var out []string
	var walk func(x any, path []string)
	walk = func(x any, path []string) {
		if mm, ok := x.(map[string]any); ok {
			for k, e := range mm {
				walk(e, appendPath(path, k))
			}
			return
		}
		out = append(out, pathString(path))
	}
	walk(m, nil)
	sort.Strings(out)
	return out
}

// guardPath finds a value path a render error quotes ('global.security.allowInsecureImages').
var guardPath = regexp.MustCompile("['\"`]([A-Za-z0-9_-]+(?:\\.[A-Za-z0-9_-]+)+)['\"`]")

// guardValue reads a render error for a chart's substitution guard: a message that names
// a boolean value, false in the effective values, to set to true. It returns the edit
// that sets it in the root chart's values.
func (v *verifier) guardValue(err error, plan *RewritePlan) (ValueEdit, bool) {
	msg := err.Error()
	if !strings.Contains(msg, "true") {
		return ValueEdit{}, false
	}
	effective, eerr := v.effectiveValues()
	if eerr != nil {
		return ValueEdit{}, false
	}
	for _, m := range guardPath.FindAllStringSubmatch(msg, -1) {
		path := strings.Split(m[1], ".")
		if b, ok := lookupGlobalAware(effective, path).(bool); !ok || b {
			continue
		}
		done := false
		for _, e := range plan.ValueEdits {
			if e.Chart == "" && reflect.DeepEqual(e.Path, path) {
				done = true
			}
		}
		if !done {
			return ValueEdit{Path: path, Old: false, New: true}, true
		}
	}
	return ValueEdit{}, false
}

// lookupGlobalAware looks path up in effective values; a global is also looked for in
// every subchart's copy of the globals (a child's own global default).
func lookupGlobalAware(effective map[string]any, path []string) any {
	if v := lookupPath(effective, path); v != nil || len(path) == 0 || path[0] != "global" {
		return v
	}
	var found any
	var walk func(m map[string]any)
	walk = func(m map[string]any) {
		for k, x := range m {
			sub, ok := x.(map[string]any)
			if !ok || found != nil {
				continue
			}
			if k == "global" {
				if v := lookupPath(sub, path[1:]); v != nil {
					found = v
				}
				continue
			}
			walk(sub)
		}
	}
	walk(effective)
	return found
}
