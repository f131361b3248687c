package stages

import (
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/airgap-charts/airgap-charts/registry"
)

// Keys an image map may use for each piece, in order of preference.
var (
	repositoryKeys = []string{"repository", "repo", "image", "imageName", "name"}
	registryKeys   = []string{"registry", "imageRegistry"}
	tagKeys        = []string{"tag", "imageTag", "version"}
	digestKeys     = []string{"digest", "imageDigest", "sha"}
	// globalRegistryFields are the chart-wide registry conventions.
	globalRegistryFields = [][]string{{"global", "imageRegistry"}, {"global", "image", "registry"}}
)

// emptyImageMap is an image map whose repository is left to a template default.
type emptyImageMap struct {
	in     chartInstance
	path   []string
	keys   imageMapKeys
	tag    string
	digest string
}

type imageMapKeys struct{ repo, registry, tag, digest string }

func (p *planner) walkInstance(in chartInstance) {
	merged := in.mergedValues()
	p.walk(in, merged, merged, nil)
}

func (p *planner) walk(in chartInstance, all map[string]any, v any, path []string) {
	switch t := v.(type) {
	case map[string]any:
		consumed := map[string]bool{}
		if keys, ok := imageMapShape(path, t); ok {
			consumed = p.imageMap(in, all, path, t, keys)
		}
		names := make([]string, 0, len(t))
		for k := range t {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			if !consumed[k] {
				p.walk(in, all, t[k], appendPath(path, k))
			}
		}
	case []any:
		for i, e := range t {
			p.walk(in, all, e, appendPath(path, strconv.Itoa(i)))
		}
	case string:
		p.imageString(in, path, t)
	}
}

func appendPath(path []string, k string) []string {
	return append(append(make([]string, 0, len(path)+1), path...), k)
}

// imageMapShape recognizes a map of image pieces and says which key holds which piece.
func imageMapShape(path []string, m map[string]any) (imageMapKeys, bool) {
	var keys imageMapKeys
	imageish := len(path) > 0 && strings.Contains(strings.ToLower(lastKey(path)), "image")
	keys.registry = firstKey(m, registryKeys)
	keys.tag = firstKey(m, tagKeys)
	keys.digest = firstKey(m, digestKeys)
	for _, k := range repositoryKeys {
		v, ok := m[k]
		if !ok {
			continue
		}
		if _, isString := v.(string); !isString && v != nil {
			continue
		}
		if k == "name" && !imageish && keys.registry == "" {
			continue
		}
		if keys.repo == "" || (isEmpty(m[keys.repo]) && !isEmpty(v)) {
			keys.repo = k
		}
	}
	if keys.repo == "" {
		return keys, false
	}
	if keys.tag == "version" && !imageish && keys.registry == "" {
		keys.tag = ""
	}
	ok := imageish || keys.registry != "" || keys.tag != "" || keys.digest != "" || keys.repo == "repository"
	return keys, ok
}

func lastKey(path []string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if _, err := strconv.Atoi(path[i]); err != nil {
			return path[i]
		}
	}
	return ""
}

func firstKey(m map[string]any, keys []string) string {
	for _, k := range keys {
		if v, ok := m[k]; ok {
			if _, isMap := v.(map[string]any); !isMap {
				return k
			}
		}
	}
	return ""
}

func isEmpty(v any) bool { return scalarString(v) == "" }

// scalarString renders a scalar value as its template would (numbers without exponent).
func scalarString(v any) string {
	switch t := v.(type) {
	case string:
		return strings.TrimSpace(t)
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case int:
		return strconv.Itoa(t)
	case int64:
		return strconv.FormatInt(t, 10)
	}
	return ""
}

// registryCandidate is one way a template may compose the image from the map.
type registryCandidate struct {
	field []string // the value holding the registry; nil when the repository stands alone
	base  string   // registry/repository or repository
}

// imageMap plans the edits of one image map; it returns the keys it dealt with.
func (p *planner) imageMap(in chartInstance, all map[string]any, path []string, m map[string]any, keys imageMapKeys) map[string]bool {
	consumed := map[string]bool{keys.repo: true}
	for _, k := range []string{keys.registry, keys.tag, keys.digest} {
		if k != "" {
			consumed[k] = true
		}
	}
	repo := scalarString(m[keys.repo])
	tag, digest := scalarString(m[keys.tag]), scalarString(m[keys.digest])
	if t, d, ok := strings.Cut(tag, "@"); ok {
		tag, digest = t, d
	}
	if repo == "" {
		if keys.registry == "" || isEmpty(m[keys.registry]) {
			p.emptyMaps = append(p.emptyMaps, emptyImageMap{in: in, path: path, keys: keys, tag: tag, digest: digest})
		}
		return consumed
	}
	repoName, inlineTag, inlineDigest, ok := splitReference(repo)
	if !ok {
		return consumed
	}
	if inlineTag != "" || inlineDigest != "" {
		tag, digest = inlineTag, inlineDigest
	}
	var cands []registryCandidate
	if reg := scalarString(m[keys.registry]); reg != "" {
		cands = append(cands, registryCandidate{field: appendPath(path, keys.registry), base: strings.TrimSuffix(reg, "/") + "/" + repoName})
	}
	for _, g := range globalRegistryFields {
		if reg := scalarString(lookupPath(all, g)); reg != "" {
			cands = append(cands, registryCandidate{field: g, base: strings.TrimSuffix(reg, "/") + "/" + repoName})
		}
	}
	if isEmpty(m[keys.registry]) || hasExplicitHost(repoName) {
		cands = append(cands, registryCandidate{base: repoName})
	}
	var primary *registryCandidate
	var mapping int
	var extra [][]string
	for i := range cands {
		ref, ok := composeRef(cands[i].base, tag, digest)
		if !ok {
			continue
		}
		mi, ok := p.match(ref)
		if !ok {
			continue
		}
		if primary == nil {
			primary, mapping = &cands[i], mi
		} else if cands[i].field != nil && primary.field != nil {
			extra = append(extra, cands[i].field)
		}
	}
	if primary == nil {
		return consumed
	}
	p.matched[mapping] = true
	dst := p.mappings[mapping].Destination
	src := p.mappings[mapping].Source
	suffix := inlineSuffix(inlineTag, inlineDigest, src, dst)
	repoField := appendPath(path, keys.repo)
	switch {
	case primary.field != nil:
		p.setValue(in, primary.field, dst.Registry)
		for _, f := range extra {
			p.setValue(in, f, dst.Registry)
		}
		p.setValue(in, repoField, dst.Repository+suffix)
	case !hasExplicitHost(repoName) && keys.registry != "":
		p.setValue(in, appendPath(path, keys.registry), dst.Registry)
		p.setValue(in, repoField, dst.Repository+suffix)
	default:
		p.setValue(in, repoField, dst.Name()+suffix)
	}
	switch {
	case inlineTag != "" || inlineDigest != "":
	case pinning(src, dst):
		p.pinMap(in, path, m, keys, tag, src, dst)
	case keys.tag != "" && tag != "" && tag == src.Tag && dst.Tag != src.Tag && dst.Tag != "":
		p.setValue(in, appendPath(path, keys.tag), dst.Tag)
	}
	return consumed
}

// imageString plans the edit of a string value that is, or contains, a source image.
func (p *planner) imageString(in chartInstance, path []string, s string) {
	trimmed := strings.TrimSpace(s)
	if trimmed != "" && !strings.ContainsFunc(trimmed, unicode.IsSpace) {
		if repoName, tag, digest, ok := splitReference(trimmed); ok {
			imageish := strings.Contains(strings.ToLower(lastKey(path)), "image")
			if imageish || ((tag != "" || digest != "") && strings.Contains(repoName, "/")) {
				if ref, ok := composeRef(repoName, tag, digest); ok {
					if mi, ok := p.match(ref); ok {
						p.matched[mi] = true
						m := p.mappings[mi]
						p.setValue(in, path, m.Destination.Name()+inlineSuffix(tag, digest, m.Source, m.Destination))
						return
					}
				}
			}
		}
	}
	// An image inside a longer string (an argument, a config snippet).
	out := s
	for i := range p.mappings {
		if r, n := replaceImageLiterals(out, p.literals[i], true); n > 0 {
			out = r
			p.matched[i] = true
		}
	}
	if out != s {
		p.setValue(in, path, out)
	}
}

// planTemplateDefaults handles images whose repository is empty in values because the
// template supplies a default (traefik's "docker.io" + "traefik"): when exactly one such
// image map in a chart fits an unmatched source, it is given the private reference.
func (p *planner) planTemplateDefaults() {
	for i, m := range p.mappings {
		if p.matched[i] {
			continue
		}
		var fits []emptyImageMap
		for _, em := range p.emptyMaps {
			if em.digest != "" && m.Source.Digest != "" && em.digest != m.Source.Digest {
				continue
			}
			tag := em.tag
			if tag == "" && em.in.chart.Metadata != nil {
				tag = em.in.chart.Metadata.AppVersion
			}
			if tag == "" || !tagCompatible(tag, m.Source.Tag) || !templatesQuote(em.in.chart, m.Source) {
				continue
			}
			fits = append(fits, em)
		}
		sort.SliceStable(fits, func(a, b int) bool { return len(fits[a].path) < len(fits[b].path) })
		if len(fits) == 0 || (len(fits) > 1 && len(fits[1].path) == len(fits[0].path)) {
			continue
		}
		em := fits[0]
		p.matched[i] = true
		if em.keys.registry != "" {
			p.setValue(em.in, appendPath(em.path, em.keys.registry), m.Destination.Registry)
			p.setValue(em.in, appendPath(em.path, em.keys.repo), m.Destination.Repository)
		} else {
			p.setValue(em.in, appendPath(em.path, em.keys.repo), m.Destination.Name())
		}
		emMap, _ := lookupPath(em.in.mergedValues(), em.path).(map[string]any)
		p.pinMap(em.in, em.path, emMap, em.keys, em.tag, m.Source, m.Destination)
	}
}

// splitReference splits "name[:tag][@digest]" without defaulting the tag.
func splitReference(s string) (repoName, tag, digest string, ok bool) {
	rest, digest, _ := strings.Cut(s, "@")
	if i := strings.LastIndex(rest, ":"); i > strings.LastIndex(rest, "/") {
		rest, tag = rest[:i], rest[i+1:]
		if _, err := name.NewTag("example.com/x:" + tag); err != nil {
			return "", "", "", false
		}
	}
	if digest != "" && !strings.HasPrefix(digest, "sha256:") && !strings.HasPrefix(digest, "sha512:") {
		return "", "", "", false
	}
	if _, err := name.NewRepository(rest); err != nil {
		return "", "", "", false
	}
	return rest, tag, digest, true
}

// composeRef normalizes repoName and attaches tag and digest as given (no "latest").
func composeRef(repoName, tag, digest string) (registry.ImageRef, bool) {
	ref, err := registry.ParseImageRef(repoName)
	if err != nil {
		return registry.ImageRef{}, false
	}
	ref.Tag, ref.Digest = tag, digest
	return ref, true
}

// hasExplicitHost reports whether the first path element of repoName is a registry host.
func hasExplicitHost(repoName string) bool {
	first, _, ok := strings.Cut(repoName, "/")
	return ok && (strings.ContainsAny(first, ".:") || first == "localhost")
}

// inlineSuffix is the ":tag@digest" part to write back where the value carried it inline.
func inlineSuffix(tag, digest string, src, dst registry.ImageRef) string {
	s := ""
	if tag != "" {
		if tag == src.Tag && dst.Tag != "" {
			tag = dst.Tag
		}
		s += ":" + tag
	}
	if digest != "" {
		if digest == src.Digest && dst.Digest != "" {
			digest = dst.Digest
		}
		s += "@" + digest
	} else if tag != "" && pinning(src, dst) {
		s += "@" + dst.Digest
	}
	return s
}
