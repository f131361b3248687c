package config

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// Keys recognised in a values file, each with its accepted spellings.
var (
	chartKeys      = []string{"chart"}
	repositoryKeys = []string{"repository", "repoUrl", "repoURL"}
	versionKeys    = []string{"version", "targetRevision"}
	releaseKeys    = []string{"release", "releaseName"}
)

// LoadValues discovers the addons of a values file (values mode). A document whose root
// holds an `addons:` list is read as that list; otherwise the document is probed
// recursively for maps that carry a chart and a repository (repository, repoUrl or
// repoURL), a version (version or targetRevision) and a release (release or releaseName),
// Argo CD Applications (`spec.source` / `spec.sources`) included. A chart path such as
// "grafana/loki" becomes OCINamespace "grafana" and Chart "loki". An addon's own values come
// from `values`, `helm.values` (a mapping or a YAML string) and `helm.valuesObject`, merged in
// that order. Every error is an *InputError naming file:line.
func LoadValues(path string) ([]Addon, error) {
	data, err := readInput(path, "values")
	if err != nil {
		return nil, err
	}
	docs, err := parseDocuments(path, data)
	if err != nil {
		return nil, err
	}
	d := &discovery{file: path, data: data, seen: map[*yaml.Node]bool{}}
	var empty *yaml.Node // an `addons:` key with no item
	for _, doc := range docs {
		root := content(doc)
		if root == nil {
			continue
		}
		if p := lookup(root, "addons"); p != nil && empty == nil && (scalarNull(p.val) || (p.val.Kind == yaml.SequenceNode && len(p.val.Content) == 0)) {
			empty = p.key
		}
		if list := canonicalList(root); list != nil {
			for i, item := range list.Content {
				if err := d.add(item, i+1, appContext{}); err != nil {
					return nil, err
				}
			}
			continue
		}
		if err := d.probe(root); err != nil {
			return nil, err
		}
	}
	if len(d.addons) == 0 && empty != nil {
		return nil, inputErrorf(nodePos(path, empty), "the `addons:` list is empty: this file declares no addons")
	}
	if len(d.addons) == 0 {
		return nil, inputErrorf(Position{File: path},
			"no addons found: expected an `addons:` list, or maps carrying chart and repository (repoUrl/repoURL)")
	}
	return d.addons, nil
}

// canonicalList is the root's `addons:` sequence, or nil when it has none.
func canonicalList(root *yaml.Node) *yaml.Node {
	p := lookup(root, "addons")
	if p == nil || p.val == nil || p.val.Kind != yaml.SequenceNode {
		return nil
	}
	return p.val
}

// appContext is what an enclosing Argo CD Application says about the addons it holds.
type appContext struct {
	release   string // metadata.name: Argo CD's default release name
	namespace string // spec.destination.namespace
}

type discovery struct {
	file   string
	data   []byte
	seen   map[*yaml.Node]bool
	addons []Addon
}

// probe walks n looking for addon-shaped maps; it does not descend into one it found.
func (d *discovery) probe(n *yaml.Node) error {
	n = content(n)
	if n == nil || d.seen[n] {
		return nil
	}
	d.seen[n] = true
	switch n.Kind {
	case yaml.MappingNode:
		if found, err := d.argoApplication(n); found || err != nil {
			return err
		}
		if looksLikeAddon(n) {
			return d.add(n, 0, appContext{})
		}
		for _, p := range pairs(n) {
			if err := d.probe(p.val); err != nil {
				return err
			}
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if err := d.probe(c); err != nil {
				return err
			}
		}
	}
	return nil
}

// argoApplication reads an Argo CD Application's chart sources; found is false when n is
// not an Application with at least one chart source.
func (d *discovery) argoApplication(n *yaml.Node) (found bool, err error) {
	spec := dig(n, []string{"spec"})
	if !isMapping(spec) {
		return false, nil
	}
	var sources []*yaml.Node
	if src := dig(spec, []string{"source"}); isMapping(src) && looksLikeAddon(src) {
		sources = append(sources, content(src))
	}
	if seq := content(dig(spec, []string{"sources"})); seq != nil && seq.Kind == yaml.SequenceNode {
		for _, src := range seq.Content {
			if isMapping(src) && looksLikeAddon(src) {
				sources = append(sources, content(src))
			}
		}
	}
	if len(sources) == 0 {
		return false, nil
	}
	ctx := appContext{
		release:   scalar(dig(n, []string{"metadata"}, []string{"name"})),
		namespace: scalar(dig(spec, []string{"destination"}, []string{"namespace"})),
	}
	for _, src := range sources {
		d.seen[src] = true
		if err := d.add(src, 0, ctx); err != nil {
			return true, err
		}
	}
	return true, nil
}

// looksLikeAddon: a chart with a repository, or three of chart, repository, version and
// release (so that an addon missing its chart or repository is reported, not skipped).
func looksLikeAddon(m *yaml.Node) bool {
	has := func(keys ...string) bool {
		p := lookup(m, keys...)
		return p != nil && content(p.val) != nil && content(p.val).Kind == yaml.ScalarNode && !scalarNull(content(p.val))
	}
	chart, repo := has(chartKeys...), has(repositoryKeys...)
	if chart && repo {
		return true
	}
	release := has(releaseKeys...) || scalar(dig(m, []string{"helm"}, []string{"releaseName"})) != ""
	n := 0
	for _, ok := range []bool{chart, repo, has(versionKeys...), release} {
		if ok {
			n++
		}
	}
	return n >= 3
}

// scalar is n's value when it is a non-null scalar, else "".
func scalar(n *yaml.Node) string {
	n = content(n)
	if n == nil || n.Kind != yaml.ScalarNode || scalarNull(n) {
		return ""
	}
	return strings.TrimSpace(n.Value)
}

// add decodes one addon map (index > 0 for an item of a canonical list) and validates it.
func (d *discovery) add(item *yaml.Node, index int, ctx appContext) error {
	m := content(item)
	pos := nodePos(d.file, item)
	if m == nil || m.Kind != yaml.MappingNode {
		return inputErrorf(pos, "%s: expected a mapping with chart, repository, version and release", addonLabel(index, "", ""))
	}
	r := fieldReader{file: d.file, ps: pairs(m), pos: map[string]Position{}}
	a := Addon{
		Chart:       r.str("chart", chartKeys...),
		Repository:  r.str("repository", repositoryKeys...),
		Version:     r.str("version", versionKeys...),
		Release:     r.str("release", releaseKeys...),
		Namespace:   r.str("namespace", "namespace"),
		Username:    r.str("username", "username"),
		Password:    r.str("password", "password"),
		PasswordEnv: r.str("password_env", "password_env", "passwordEnv"),
		Source:      pos,
	}
	takeURLCredentials(&a)
	explicitNS := r.str("oci_namespace", "oci_namespace", "ociNamespace")
	if a.Release == "" {
		a.Release = scalar(dig(m, []string{"helm"}, []string{"releaseName"}))
	}
	if a.Release == "" {
		a.Release = ctx.release
	}
	if a.Namespace == "" {
		a.Namespace = ctx.namespace
	}
	label := addonLabel(index, a.Release, a.Chart)
	if r.err != "" {
		return inputErrorf(r.errPos, "%s: %s", label, r.err)
	}
	a.OCINamespace, a.Chart = splitChartPath(a.Chart)
	if p, ok := r.pos["chart"]; ok && a.OCINamespace != "" {
		r.pos["oci_namespace"] = p // split off a chart path such as grafana/loki
	}
	if a.OCINamespace == "" {
		a.OCINamespace = strings.Trim(explicitNS, "/")
	}
	if a.Release == "" {
		a.Release = a.Chart
		if p, ok := r.pos["chart"]; ok {
			r.pos["release"] = p // the release is the chart's name
		}
	}
	values, err := d.addonValues(m, label)
	if err != nil {
		return err
	}
	a.Values = values
	if err := checkAddon(&a, pos, r.pos, label); err != nil {
		return err
	}
	d.addons = append(d.addons, a)
	return nil
}

// fieldReader reads scalar fields of one addon map, remembering where each value sits and
// the first field that is not a scalar.
type fieldReader struct {
	file   string
	ps     []pair // the map's entries, listed once for every field read
	pos    map[string]Position
	err    string
	errPos Position
}

func (r *fieldReader) str(field string, keys ...string) string {
	p := find(r.ps, keys...)
	if p == nil {
		return ""
	}
	v := content(p.val)
	if scalarNull(v) {
		return ""
	}
	r.pos[field] = nodePos(r.file, p.val)
	if v.Kind != yaml.ScalarNode {
		if r.err == "" {
			r.err, r.errPos = p.key.Value+" must be a single value, not a list or mapping", nodePos(r.file, p.key)
		}
		return ""
	}
	return strings.TrimSpace(v.Value)
}

// takeURLCredentials moves user information out of the addon's repository URL into its
// credentials, where explicit username / password / password_env fields win: the URL kept
// (reported, logged, written to files) never carries a password.
func takeURLCredentials(a *Addon) {
	clean, user, pass, ok := SplitUserinfo(a.Repository)
	a.Repository = clean
	if !ok {
		return
	}
	if a.Username == "" {
		a.Username = user
	}
	if a.Password == "" && a.PasswordEnv == "" {
		a.Password = pass
	}
}
