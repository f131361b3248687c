package stages

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	"helm.sh/helm/v3/pkg/chart"

	"github.com/airgap-charts/airgap-charts/registry"
)

// containerLists are the pod-spec fields holding containers; they are recognised at any
// depth of any object, so every kind with a pod template (Deployment, CronJob, Argo
// Rollout, an operator's custom resource) is covered without listing kinds.
var containerLists = map[string]bool{"containers": true, "initContainers": true, "ephemeralContainers": true}

// crdDocument matches a CustomResourceDefinition document: it holds schemas, never images,
// and is by far the largest thing a chart renders, so it is not parsed.
var crdDocument = regexp.MustCompile(`(?m)^kind:[ \t]*["']?CustomResourceDefinition["']?[ \t]*$`)

// Extract returns every distinct image the rendered chart references, sorted by
// normalized reference. It reads:
//   - the image field of every container, init and ephemeral container of any object
//     (the only occurrences that make a FoundImage PodSpec; a field that does not parse
//     as a reference is an error naming the template, object and field);
//   - container command, args and env values, and ConfigMap data, as text (scanText,
//     imagetext.go, imagekeys.go): references with a registry host anywhere, references without one
//     (Docker Hub's "nats:2.10") where a key names an image or where they equal an image
//     the chart's values name (valueimages.go), and references kept apart in parts
//     (X_REPOSITORY + X_TAG, x.repository + x.tag, image: {repository, tag});
//   - image-like fields of custom resources of any kind (crimages.go);
//   - the artifacthub.io/images annotation of ch and of each subchart that rendered
//     something (annotation.go): an entry the render does not use is AnnotationOnly.
//
// ch may be nil (no values, no annotation).
func Extract(r *Rendered, ch *chart.Chart) ([]FoundImage, error) {
	if r == nil {
		return nil, fmt.Errorf("extract images: nothing rendered")
	}
	c := &collector{byRef: map[registry.ImageRef]*FoundImage{}}
	if ch != nil {
		c.known = valueImages(ch)
	}
	for _, m := range r.Manifests {
		for _, doc := range splitDocuments(m.Content) {
			if strings.TrimSpace(doc) == "" || isCRD(doc) || !mayHoldImages(doc) {
				continue
			}
			root, err := decodeDocument(doc)
			if err != nil {
				return nil, fmt.Errorf("extract images: template %s: %w", m.Template, err)
			}
			if root != nil {
				c.object(root, m.Template)
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

// mayHoldImages reports whether a document can hold anything Extract reads, without
// parsing it: a document with no "containers" key (no container list, init or ephemeral
// included, can be written without that text) whose top-level apiVersion and kind say it
// is a Kubernetes kind other than a ConfigMap or a List (a Service, a Role, a Secret…)
// holds none. A document whose apiVersion or kind is not found at the start of a line is
// parsed.
func mayHoldImages(doc string) bool {
	if strings.Contains(doc, "ontainers") {
		return true
	}
	apiVersion, ok1 := topLevelScalar(doc, "apiVersion:")
	kind, ok2 := topLevelScalar(doc, "kind:")
	if !ok1 || !ok2 {
		return true
	}
	group := apiGroup(apiVersion)
	return !isCoreGroup(group) || group == "" && kind == "ConfigMap" || strings.HasSuffix(kind, "List")
}

// topLevelScalar finds a line starting with key ("kind:") and returns its plain or
// quoted value.
func topLevelScalar(doc, key string) (string, bool) {
	i := 0
	if !strings.HasPrefix(doc, key) {
		j := strings.Index(doc, "\n"+key)
		if j < 0 {
			return "", false
		}
		i = j + 1
	}
	line := doc[i+len(key):]
	if j := strings.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	if j := strings.Index(line, " #"); j >= 0 {
		line = line[:j]
	}
	v := unquote(strings.TrimSpace(line))
	return v, v != "" && !strings.ContainsAny(v, "{}[]&*!|>")
}

type collector struct {
	byRef map[registry.ImageRef]*FoundImage
	// known are the references the chart's values name (valueImages).
	known map[string]bool
	errs  []string
}

// addField records one occurrence of a container's image field (parsed as is).
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

// add records one occurrence; the same location is recorded once per image.
func (c *collector) add(raw string, ref registry.ImageRef, loc Location, pod bool) {
	f, ok := c.byRef[ref]
	if !ok {
		f = &FoundImage{Ref: ref, Raw: raw}
		c.byRef[ref] = f
	}
	f.PodSpec = f.PodSpec || pod
	for _, w := range f.Where {
		if w == loc {
			return
		}
	}
	f.Where = append(f.Where, loc)
}

// addKeyed records raw when keyedImageRef accepts it.
func (c *collector) addKeyed(raw string, loc Location, needTag bool) bool {
	raw = unquote(strings.TrimSpace(raw))
	ref, ok := keyedImageRef(raw, needTag)
	if ok {
		c.add(raw, ref, loc, false)
	}
	return ok
}

// imageValue records the value of a key that names an image: the whole value, else each
// of its tokens that is a tagged reference ("IMAGES: nats:2.10,redis:7.2").
func (c *collector) imageValue(s string, loc Location, needTag bool) {
	if c.addKeyed(s, loc, needTag) {
		return
	}
	for _, tok := range textTokens(s) {
		c.addKeyed(tok, loc, true)
	}
}

func (c *collector) addComposed(g *partGroups, untagged bool) {
	for _, cr := range g.composed(untagged) {
		c.addKeyed(cr.raw, cr.loc, !untagged)
	}
}

func (c *collector) object(obj *yaml.Node, template string) {
	if obj.Kind != yaml.MappingNode {
		return
	}
	kind := stringValue(mapGet(obj, "kind"))
	if list := items(mapGet(obj, "items")); list != nil && strings.HasSuffix(kind, "List") {
		for _, it := range list {
			c.object(it, template)
		}
		return
	}
	base := Location{Kind: kind, Template: template}
	base.Name = stringValue(mapGet(mapGet(obj, "metadata"), "name"))
	c.walk(obj, "", base)

	group := apiGroup(stringValue(mapGet(obj, "apiVersion")))
	switch {
	case !isCoreGroup(group):
		c.customResource(obj, base)
	case group == "" && kind == "ConfigMap":
		c.configMap(obj, base)
	}
}

// walk finds container lists at any depth.
func (c *collector) walk(n *yaml.Node, path string, base Location) {
	switch n.Kind {
	case yaml.MappingNode:
		forPairs(n, func(k string, v *yaml.Node) {
			p := joinPath(path, k)
			if containerLists[k] && v.Kind == yaml.SequenceNode {
				for i, e := range items(v) {
					if e.Kind == yaml.MappingNode {
						c.container(e, indexPath(p, i), base)
					}
				}
				return
			}
			c.walk(v, p, base)
		})
	case yaml.SequenceNode:
		for i, e := range items(n) {
			c.walk(e, indexPath(path, i), base)
		}
	}
}

func (c *collector) container(cm *yaml.Node, path string, base Location) {
	loc := base
	if img := mapGet(cm, "image"); isString(img) {
		loc.Path = path + ".image"
		c.addField(img.Value, loc, true)
	}
	for _, field := range []string{"command", "args"} {
		list := items(mapGet(cm, field))
		for i, e := range list {
			if !isString(e) {
				continue
			}
			loc.Path = fmt.Sprintf("%s.%s[%d]", path, field, i)
			c.scanText(e.Value, loc)
			// "--image", "nats:2.10" as two elements.
			if i+1 < len(list) && isString(list[i+1]) && isLoneFlag(e.Value) && classifyKey(e.Value).role == roleImage {
				loc.Path = fmt.Sprintf("%s.%s[%d]", path, field, i+1)
				c.addKeyed(list[i+1].Value, loc, true)
			}
		}
	}
	var g partGroups
	for i, e := range items(mapGet(cm, "env")) {
		v := mapGet(e, "value")
		if !isString(v) {
			continue
		}
		loc.Path = fmt.Sprintf("%s.env[%d].value", path, i)
		c.keyedString(&g, classifyKey(stringValue(mapGet(e, "name"))), v.Value, loc)
	}
	c.addComposed(&g, false)
}

// keyedString handles a one-value field of text (an env var, a ConfigMap data key) by
// what its key says: nothing for label-like keys, an image for image keys (an untagged
// one waits for a tag kept apart), a part for part keys, text otherwise.
func (c *collector) keyedString(g *partGroups, kc keyClass, s string, loc Location) {
	single := !strings.Contains(strings.TrimSpace(s), "\n")
	switch {
	case kc.role == roleLabel:
	case kc.role == roleImage && single && !hasTagOrDigest(strings.TrimSpace(s)):
		g.add(kc, s, loc)
	case kc.role == roleImage && single:
		c.imageValue(s, loc, true)
	case kc.role != roleNone && single:
		g.add(kc, s, loc)
	default:
		c.scanText(s, loc)
	}
}

// isLoneFlag: "--image" or "-image", no value attached.
func isLoneFlag(s string) bool {
	return strings.HasPrefix(s, "-") && !strings.ContainsAny(s, "= \t\n")
}

// configMap reads a ConfigMap's data: each value by its key (keyedString), and the parts
// of references kept apart in flat keys (sidecar.repository + sidecar.tag).
func (c *collector) configMap(obj *yaml.Node, base Location) {
	var g partGroups
	forPairs(mapGet(obj, "data"), func(k string, v *yaml.Node) {
		if !isString(v) {
			return
		}
		loc := base
		loc.Path = "data." + k
		c.keyedString(&g, classifyKey(k), v.Value, loc)
	})
	c.addComposed(&g, false)
}

// scanText records the references in a free text (an argument, an env value, a
// ConfigMap value, a custom resource's string): tokens with a registry host or equal to
// an image the values name (imageRefsInText), and, when the text mentions an image or a
// repository, the values of keys naming an image and the references composed from parts
// kept apart under one mapping of the text (keyedValuesInText).
func (c *collector) scanText(s string, loc Location) {
	for _, t := range imageRefsInText(s, c.known) {
		c.add(t.raw, t.ref, loc, false)
	}
	if !mentionsImageOrRepository(s) {
		return
	}
	groups := map[int]*partGroups{}
	var order []int
	for _, kv := range keyedValuesInText(s) {
		kc := classifyKey(kv.key)
		if kc.role == roleImage && hasTagOrDigest(kv.value) {
			c.addKeyed(kv.value, loc, true)
			continue
		}
		g, ok := groups[kv.scope]
		if !ok {
			g = &partGroups{marked: kv.scopeMarked}
			groups[kv.scope] = g
			order = append(order, kv.scope)
		}
		g.add(kc, kv.value, loc)
	}
	for _, id := range order {
		c.addComposed(groups[id], false)
	}
}

// apiGroup is the group of an apiVersion ("apps/v1" → "apps", "v1" → "").
func apiGroup(apiVersion string) string {
	if i := strings.LastIndex(apiVersion, "/"); i >= 0 {
		return apiVersion[:i]
	}
	return ""
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
