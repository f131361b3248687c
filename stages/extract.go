package stages

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"sigs.k8s.io/yaml"

	"github.com/airgap-charts/airgap-charts/registry"
)

// artifactHubImages is the chart annotation listing the images a chart uses.
const artifactHubImages = "artifacthub.io/images"

// containerLists are the pod-spec fields holding containers; they are recognised at any
// depth of any object, so every kind with a pod template (Deployment, CronJob, Argo
// Rollout, an operator's custom resource) is covered without listing kinds.
var containerLists = map[string]bool{"containers": true, "initContainers": true, "ephemeralContainers": true}

// crdDocument matches a CustomResourceDefinition document: it holds schemas, never images,
// and is by far the largest thing a chart renders, so it is not parsed.
var crdDocument = regexp.MustCompile(`(?m)^kind:[ \t]*["']?CustomResourceDefinition["']?[ \t]*$`)

// Extract returns every distinct image the rendered chart references, sorted by
// normalized reference: container images of any object, known custom-resource image
// fields (crimages.go), references with a registry host inside container args, command
// and env values and ConfigMap data, and the artifacthub.io/images annotation of ch and
// of each subchart that rendered something. An image field that does not parse as a
// reference is an error naming the template, object and field.
func Extract(r *Rendered, ch *chart.Chart) ([]FoundImage, error) {
	if r == nil {
		return nil, fmt.Errorf("extract images: nothing rendered")
	}
	c := &collector{byRef: map[registry.ImageRef]*FoundImage{}}
	for _, m := range r.Manifests {
		for _, doc := range splitDocuments(m.Content) {
			if strings.TrimSpace(doc) == "" || isCRD(doc) {
				continue
			}
			var obj map[string]any
			if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
				return nil, fmt.Errorf("extract images: template %s: %w", m.Template, err)
			}
			if obj != nil {
				c.object(obj, m.Template)
			}
		}
	}
	if ch != nil {
		c.annotations(ch, chartTemplatePrefix(ch), r)
	}
	if len(c.errs) > 0 {
		return nil, fmt.Errorf("extract images: %s", strings.Join(c.errs, "; "))
	}
	out := make([]FoundImage, 0, len(c.byRef))
	for _, f := range c.byRef {
		f.AnnotationOnly = onlyInAnnotation(f.Where)
		out = append(out, *f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ref.String() < out[j].Ref.String() })
	return out, nil
}

// splitDocuments cuts a multi-document YAML text at lines that are "---" (trailing
// blanks allowed); most manifests hold one document.
func splitDocuments(s string) []string {
	if !strings.Contains(s, "---") {
		return []string{s}
	}
	var docs []string
	start := 0
	for i := 0; i < len(s); {
		end := strings.IndexByte(s[i:], '\n')
		if end < 0 {
			end = len(s)
		} else {
			end += i
		}
		if line := s[i:end]; strings.HasPrefix(line, "---") && strings.TrimRight(line[3:], " \t\r") == "" {
			docs = append(docs, s[start:i])
			start = end + 1
		}
		i = end + 1
	}
	if start <= len(s) {
		docs = append(docs, s[start:])
	}
	return docs
}

func isCRD(doc string) bool {
	return strings.Contains(doc, "CustomResourceDefinition") && crdDocument.MatchString(doc)
}

type collector struct {
	byRef map[registry.ImageRef]*FoundImage
	errs  []string
}

// add records one occurrence of an image field's value (parsed as is).
func (c *collector) addField(raw string, loc Location, pod bool) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return
	}
	ref, err := registry.ParseImageRef(raw)
	if err != nil {
		c.errs = append(c.errs, fmt.Sprintf("%s %s %s (template %s): %v", loc.Kind, loc.Name, loc.Path, loc.Template, err))
		return
	}
	c.add(raw, ref, loc, pod)
}

func (c *collector) add(raw string, ref registry.ImageRef, loc Location, pod bool) {
	f, ok := c.byRef[ref]
	if !ok {
		f = &FoundImage{Ref: ref, Raw: raw}
		c.byRef[ref] = f
	}
	f.PodSpec = f.PodSpec || pod
	f.Where = append(f.Where, loc)
}

func (c *collector) addText(s string, loc Location) {
	for _, t := range imageRefsInText(s) {
		c.add(t.raw, t.ref, loc, false)
	}
}

func (c *collector) object(obj map[string]any, template string) {
	kind, _ := obj["kind"].(string)
	if items, ok := obj["items"].([]any); ok && strings.HasSuffix(kind, "List") {
		for _, it := range items {
			if m, ok := it.(map[string]any); ok {
				c.object(m, template)
			}
		}
		return
	}
	base := Location{Kind: kind, Template: template}
	if md, ok := obj["metadata"].(map[string]any); ok {
		base.Name, _ = md["name"].(string)
	}
	c.walk(obj, "", base)

	apiVersion, _ := obj["apiVersion"].(string)
	group := ""
	if i := strings.LastIndex(apiVersion, "/"); i >= 0 {
		group = apiVersion[:i]
	}
	for _, p := range crImageFields[crKind{Group: group, Kind: kind}] {
		c.crField(obj, strings.Split(p, "."), "", base)
	}
	if group == "" && kind == "ConfigMap" {
		if data, ok := obj["data"].(map[string]any); ok {
			for _, k := range sortedKeys(data) {
				if s, ok := data[k].(string); ok {
					loc := base
					loc.Path = "data." + k
					c.addText(s, loc)
				}
			}
		}
	}
}

// walk finds container lists at any depth.
func (c *collector) walk(v any, path string, base Location) {
	switch t := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(t) {
			p := joinPath(path, k)
			if list, ok := t[k].([]any); ok && containerLists[k] {
				for i, e := range list {
					if cm, ok := e.(map[string]any); ok {
						c.container(cm, p+"["+strconv.Itoa(i)+"]", base)
					}
				}
				continue
			}
			c.walk(t[k], p, base)
		}
	case []any:
		for i, e := range t {
			c.walk(e, path+"["+strconv.Itoa(i)+"]", base)
		}
	}
}

func (c *collector) container(cm map[string]any, path string, base Location) {
	loc := base
	if img, ok := cm["image"].(string); ok {
		loc.Path = path + ".image"
		c.addField(img, loc, true)
	}
	for _, field := range []string{"command", "args"} {
		list, _ := cm[field].([]any)
		for i, e := range list {
			if s, ok := e.(string); ok {
				loc.Path = fmt.Sprintf("%s.%s[%d]", path, field, i)
				c.addText(s, loc)
			}
		}
	}
	env, _ := cm["env"].([]any)
	for i, e := range env {
		if em, ok := e.(map[string]any); ok {
			if s, ok := em["value"].(string); ok {
				loc.Path = fmt.Sprintf("%s.env[%d].value", path, i)
				c.addText(s, loc)
			}
		}
	}
}

// crField follows a crImageFields path ("spec.steps[].image") and records the string at
// its end as an image.
func (c *collector) crField(v any, segs []string, path string, base Location) {
	if len(segs) == 0 {
		if s, ok := v.(string); ok {
			loc := base
			loc.Path = path
			c.addField(s, loc, false)
		}
		return
	}
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	seg := segs[0]
	if key, isList := strings.CutSuffix(seg, "[]"); isList {
		list, _ := m[key].([]any)
		for i, e := range list {
			c.crField(e, segs[1:], fmt.Sprintf("%s[%d]", joinPath(path, key), i), base)
		}
		return
	}
	c.crField(m[seg], segs[1:], joinPath(path, seg), base)
}

// annotations reads artifacthub.io/images of ch and of every subchart whose templates
// rendered at least one manifest (disabled subcharts render nothing). Entries that do
// not parse are skipped: the annotation is documentation, the manifests are the truth.
func (c *collector) annotations(ch *chart.Chart, prefix string, r *Rendered) {
	if ch.Metadata == nil {
		return
	}
	if raw := ch.Metadata.Annotations[artifactHubImages]; raw != "" {
		var entries []struct {
			Name  string `json:"name"`
			Image string `json:"image"`
		}
		if err := yaml.Unmarshal([]byte(raw), &entries); err == nil {
			for i, e := range entries {
				ref, err := registry.ParseImageRef(strings.TrimSpace(e.Image))
				if err != nil {
					continue
				}
				c.add(strings.TrimSpace(e.Image), ref, Location{
					Kind: "Chart", Name: ch.Metadata.Name,
					Path: fmt.Sprintf("annotations.%s[%d]", artifactHubImages, i),
				}, false)
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

// onlyInAnnotation reports whether every occurrence is the chart annotation's.
func onlyInAnnotation(where []Location) bool {
	for _, w := range where {
		if w.Kind != "Chart" || !strings.HasPrefix(w.Path, "annotations.") {
			return false
		}
	}
	return len(where) > 0
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

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
