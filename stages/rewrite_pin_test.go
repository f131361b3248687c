package stages

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"

	"github.com/airgap-charts/airgap-charts/registry"
)

// pinnedMappings maps raws as testMappings does, each destination pinned to a digest of
// its own (a source pinned by digest keeps it: the index copied whole).
func pinnedMappings(t *testing.T, raws []string) []ImageMapping {
	t.Helper()
	ms := testMappings(t, raws, testLayout)
	for i := range ms {
		if ms[i].Destination.Digest == "" {
			sum := sha256.Sum256([]byte(ms[i].Source.String()))
			ms[i].Destination.Digest = "sha256:" + hex.EncodeToString(sum[:])
		}
	}
	return ms
}

// pinRenders is what the two outputs of a pinned rewrite pull, rendered independently of
// RewriteChart: per render, the images that are not their pinned destination.
type pinRenders struct {
	unpinned map[string][]string // render → private references without their digest
	other    map[string][]string // render → anything else (public, or a wrong digest)
}

// rewritePinned rewrites the chart of files for pinned mappings of images, renders the
// packaged chart (reloaded from its archive) with the addon's values and the original
// chart with the consumer overrides, and sorts every image they pull.
func rewritePinned(t *testing.T, files map[string]string, values map[string]any, images []string) (*RewriteResult, pinRenders) {
	t.Helper()
	ch := loadTestChart(t, files)
	found, err := Extract(testRender(t, ch, values), ch)
	if err != nil {
		t.Fatal(err)
	}
	mappings := pinnedMappings(t, images)
	var layers []map[string]any
	if values != nil {
		layers = append(layers, values)
	}
	ro := RenderOptions{Release: "rel", Namespace: "ns", KubeVersion: "1.33.0", Values: layers}
	res, err := RewriteChart(context.Background(), RewriteInput{Chart: ch, Images: mappings, Found: found, Render: ro})
	if err != nil {
		t.Fatal(err)
	}
	a, err := PackageChart(res.Chart, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	packaged, err := loader.Load(a.Path)
	if err != nil {
		t.Fatal(err)
	}
	vals := valsOrEmpty(values)
	for _, k := range res.UserKeys {
		vals = testMergeValues(vals, pick(res.Overrides, strings.Split(k, ".")))
	}
	out := pinRenders{unpinned: map[string][]string{}, other: map[string][]string{}}
	packagedImages, _ := testRenderImages(t, packaged, vals)
	consumerImages, _ := testRenderImages(t, loadTestChart(t, files), testMergeValues(valsOrEmpty(values), res.Overrides))
	for render, imgs := range map[string][]string{RenderPackaged: packagedImages, RenderConsumer: consumerImages} {
		if len(imgs) == 0 {
			t.Errorf("%s render pulls no image", render)
		}
		for _, raw := range imgs {
			ref := registry.MustParseImageRef(raw)
			switch pinClass(ref, mappings) {
			case "pinned":
			case "unpinned":
				out.unpinned[render] = append(out.unpinned[render], ref.String())
			default:
				out.other[render] = append(out.other[render], ref.String())
			}
		}
		sort.Strings(out.unpinned[render])
		sort.Strings(out.other[render])
	}
	return res, out
}

// pinClass says what ref is among the pinned destinations: "pinned" (one of them, or its
// repo@digest form), "unpinned" (one of them without the digest) or "other".
func pinClass(ref registry.ImageRef, mappings []ImageMapping) string {
	for _, m := range mappings {
		if sameDestination(ref, m.Destination) {
			return "pinned"
		}
	}
	for _, m := range mappings {
		if base := m.Destination; ref.Digest == "" && ref.Name() == base.Name() && ref.Tag == base.Tag {
			return "unpinned"
		}
	}
	return "other"
}

// TestRewriteShapesPinned: every value shape of the shapes chart (whole reference,
// registry/repository/tag split, host in the repository, a digest already pinned, an
// appVersion tag, name/version keys, an argument, a file) and its template literals (one
// with its tag from .Chart.AppVersion) are written repo:tag@sha256:… in the packaged chart;
// the consumer overrides pin every image a value produces (those hard-coded in templates
// cannot be reached by values, pinned or not).
func TestRewriteShapesPinned(t *testing.T) {
	res, got := rewritePinned(t, shapesChartFiles, nil, shapesSources)
	if len(got.unpinned[RenderPackaged])+len(got.other[RenderPackaged]) > 0 {
		t.Errorf("packaged chart pulls unpinned %v and other %v", got.unpinned[RenderPackaged], got.other[RenderPackaged])
	}
	hardCoded := []string{"docker.io/library/busybox:1.36", "quay.io/org/fileimg:v5", "quay.io/org/hardhost:1.0.0"}
	if len(got.unpinned[RenderConsumer]) > 0 || strings.Join(got.other[RenderConsumer], " ") != strings.Join(hardCoded, " ") {
		t.Errorf("consumer overrides render: unpinned %v, other %v; want only the template-hard-coded %v",
			got.unpinned[RenderConsumer], got.other[RenderConsumer], hardCoded)
	}
	pinnedTag := false
	for _, e := range res.Plan.ValueEdits {
		if s, _ := e.New.(string); strings.HasPrefix(s, "1.0.0@sha256:") || strings.HasPrefix(s, "v2@sha256:") {
			pinnedTag = true
		}
	}
	if !pinnedTag {
		t.Errorf("no tag value became tag@digest: %+v", res.Plan.ValueEdits)
	}
	for _, e := range res.Plan.TemplateEdits {
		if !strings.Contains(e.New, "@sha256:") {
			t.Errorf("template edit %q → %q is not pinned", e.Old, e.New)
		}
	}
}

// unpinnable are the probe shapes whose tag no value of the image's own holds: a tag
// shared by several images, or written by the template (.Chart.Version, .Chart.AppVersion,
// a literal). Their images must still be private, and the verification must say they are
// not pinned; every other probe shape is pinned in both outputs.
var unpinnable = map[string]bool{
	"namespace-in-registry":                 true, // global.tag shared by six images
	"chart-defaults-and-tag-prefix":         true, // defaultImageTag shared
	"registry-namespace-name-chart-version": true, // the tag is .Chart.Version (the worker is pinned by its chart)
	"hub-in-configmap":                      true, // global.tag shared
	"aliased-subchart-parent-override":      true, // the tag is .Chart.AppVersion
	"probe-breaks-render":                   true, // the tag is template text
}

// TestRewriteProbeShapesPinned: the shapes only probing reaches, pinned where a value
// can carry the digest, else private and reported unpinned; never public, never a wrong
// digest.
func TestRewriteProbeShapesPinned(t *testing.T) {
	for _, s := range probeShapes {
		t.Run(s.name, func(t *testing.T) {
			res, got := rewritePinned(t, s.files, s.values, s.images)
			for render, o := range got.other {
				if len(o) > 0 {
					t.Errorf("%s render pulls %v: neither pinned nor private", render, o)
				}
			}
			reported := map[string]bool{}
			for _, p := range res.Public {
				if unpinnedReason(p.Image, pinnedMappings(t, s.images)) == "" {
					t.Errorf("verification: %s in the %s render is public: %s", p.Image, p.Render, p.Reason)
				}
				reported[p.Render+" "+p.Image.String()] = true
			}
			for render, u := range got.unpinned {
				if len(u) > 0 && !unpinnable[s.name] {
					t.Errorf("%s render left %v unpinned", render, u)
				}
				for _, ref := range u {
					if !reported[render+" "+ref] {
						t.Errorf("%s render pulls %s unpinned, and the verification did not say so", render, ref)
					}
				}
			}
			if unpinnable[s.name] && len(res.Public) == 0 {
				t.Errorf("listed as unpinnable, but pinned: update the list")
			}
		})
	}
}

// TestVerifyAcceptsPinnedForms: the verification takes repo:tag@digest and repo@digest
// of a pinned destination as private, and names an unpinned one.
func TestVerifyAcceptsPinnedForms(t *testing.T) {
	m := pinnedMappings(t, []string{"quay.io/org/app:1"})[0]
	d := m.Destination
	for _, ref := range []registry.ImageRef{d, digestOnly(d)} {
		if !sameDestination(ref, d) {
			t.Errorf("%s is not taken as the pinned destination %s", ref, d)
		}
	}
	unpinned := d
	unpinned.Digest = ""
	if sameDestination(unpinned, d) || unpinnedReason(unpinned, []ImageMapping{m}) == "" {
		t.Errorf("%s, without its digest, is taken as pinned", unpinned)
	}
	wrong := d
	wrong.Digest = "sha256:" + strings.Repeat("0", 64)
	if sameDestination(wrong, d) || unpinnedReason(wrong, []ImageMapping{m}) != "" {
		t.Errorf("%s, at another digest, is taken as pinned or merely unpinned", wrong)
	}
}
