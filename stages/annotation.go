package stages

import (
	"fmt"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	"helm.sh/helm/v3/pkg/chart"

	"github.com/airgap-charts/airgap-charts/registry"
)

// artifactHubImages is the chart annotation listing the images a chart uses.
const artifactHubImages = "artifacthub.io/images"

// annotations reads artifacthub.io/images of ch and of every subchart whose templates
// rendered at least one manifest (disabled subcharts render nothing), once the rendered
// images are all known. An entry joins the rendered image it names (annotationEntry);
// one the render does not use is kept, AnnotationOnly. Entries that do not parse are
// skipped: the annotation is documentation, the manifests are the truth.
func (c *collector) annotations(ch *chart.Chart, prefix string, r *Rendered) {
	if ch.Metadata == nil {
		return
	}
	if raw := ch.Metadata.Annotations[artifactHubImages]; raw != "" {
		var entries []struct {
			Name  string `yaml:"name"`
			Image string `yaml:"image"`
		}
		if err := yaml.Unmarshal([]byte(raw), &entries); err == nil {
			for i, e := range entries {
				s := strings.TrimSpace(e.Image)
				ref, err := registry.ParseImageRef(s)
				if err != nil {
					continue
				}
				c.annotationEntry(s, ref, Location{
					Kind: "Chart", Name: ch.Metadata.Name,
					Path: fmt.Sprintf("annotations.%s[%d]", artifactHubImages, i),
				})
			}
		}
	}
	for _, sub := range ch.Dependencies() {
		for _, key := range subchartDirs(ch, sub) {
			p := prefix + "/charts/" + key
			if renderedUnder(r, p+"/") {
				c.annotations(sub, p, r)
				break
			}
		}
	}
}

// annotationEntry records an annotation entry as one more occurrence of the image it is:
// the same normalized reference, or one that differs only in form from a found image of
// the same repository: the same digest (tag+digest against digest alone, or another tag
// spelling the same digest), or the same tag with a digest on one side only. An entry
// that is none of these is a new image, AnnotationOnly.
func (c *collector) annotationEntry(raw string, ref registry.ImageRef, loc Location) {
	f := c.byRef[ref]
	if f == nil {
		f = c.sameImage(ref)
	}
	if f == nil {
		c.byRef[ref] = &FoundImage{Ref: ref, Raw: raw, Where: []Location{loc}, AnnotationOnly: true}
		return
	}
	for _, w := range f.Where {
		if w == loc {
			return
		}
	}
	f.Where = append(f.Where, loc)
}

func (c *collector) sameImage(ref registry.ImageRef) *FoundImage {
	var best *FoundImage
	for r, f := range c.byRef {
		if r.Registry != ref.Registry || r.Repository != ref.Repository {
			continue
		}
		sameDigest := ref.Digest != "" && r.Digest == ref.Digest
		sameTag := ref.Tag != "" && r.Tag == ref.Tag && (ref.Digest == "") != (r.Digest == "")
		if !sameDigest && !sameTag {
			continue
		}
		// Deterministic when several match: a rendered image first, then the smallest.
		if best == nil || best.AnnotationOnly && !f.AnnotationOnly ||
			best.AnnotationOnly == f.AnnotationOnly && f.Ref.String() < best.Ref.String() {
			best = f
		}
	}
	return best
}

// chartTemplatePrefix is the name Helm gives the chart's templates ("grafana" in
// "grafana/templates/deployment.yaml").
func chartTemplatePrefix(ch *chart.Chart) string {
	if ch.Metadata == nil {
		return ""
	}
	return ch.Metadata.Name
}

// subchartDirs are the names a subchart's templates may be rendered under: its alias(es)
// in the parent's dependencies, else its name.
func subchartDirs(parent, sub *chart.Chart) []string {
	var out []string
	for _, d := range parent.Metadata.Dependencies {
		if d.Name == sub.Metadata.Name && d.Alias != "" {
			out = append(out, d.Alias)
		}
	}
	return append(out, sub.Metadata.Name)
}

func renderedUnder(r *Rendered, prefix string) bool {
	for _, m := range r.Manifests {
		if strings.HasPrefix(m.Template, prefix) {
			return true
		}
	}
	return false
}
