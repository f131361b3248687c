package stages

import (
	"fmt"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/airgap-charts/airgap-charts/registry"
)

// ImageMapping pairs an image the chart needs with its place in the private registry.
type ImageMapping struct {
	Source      registry.ImageRef
	Destination registry.ImageRef
}

// RewritePlan is what must change in a chart so that it pulls from the private registry.
type RewritePlan struct {
	// ValueEdits change scalars of the charts' values.yaml files.
	ValueEdits []ValueEdit
	// TemplateEdits replace image references hard-coded in template files.
	TemplateEdits []TemplateEdit
	// Unmatched lists the sources no value and no template could be found for.
	Unmatched []registry.ImageRef
}

// ValueEdit sets one scalar of a chart's values.yaml.
type ValueEdit struct {
	// Chart is "" for the root chart, else the subchart path by chart names ("grafana",
	// "parent/child").
	Chart string
	// Path is the key path inside that chart's values; list elements are decimal indexes.
	Path []string
	// Old is the value as found (nil for a key that is null or absent); New the value to set.
	Old, New any
}

// TemplateEdit replaces every occurrence of Old by New in one file of a chart, where Old
// stands as a whole image reference (not inside a longer one).
type TemplateEdit struct {
	Chart, File, Old, New string
}

// PlanRewrite finds, for every source image, the values (and template literals) of ch and
// its subcharts that produce it, and plans the private reference in the same shape.
func PlanRewrite(ch *chart.Chart, images []ImageMapping) (*RewritePlan, error) {
	if ch == nil || ch.Metadata == nil {
		return nil, fmt.Errorf("plan rewrite: no chart")
	}
	p := &planner{
		root:     ch,
		mappings: images,
		matched:  make([]bool, len(images)),
		edits:    map[string]int{},
	}
	for _, m := range images {
		p.literals = append(p.literals, imageLiterals(m))
	}
	instances := chartInstances(ch)
	for _, in := range instances {
		p.walkInstance(in)
	}
	p.planTemplateLiterals(ch, "")
	p.planTemplateDefaults()
	if len(p.errs) > 0 {
		return nil, fmt.Errorf("plan rewrite of chart %s: %s", ch.Name(), strings.Join(p.errs, "; "))
	}
	plan := &RewritePlan{ValueEdits: p.valueEdits, TemplateEdits: p.templateEdits}
	seen := map[string]bool{}
	for i, m := range images {
		if !p.matched[i] && !seen[m.Source.String()] {
			seen[m.Source.String()] = true
			plan.Unmatched = append(plan.Unmatched, m.Source)
		}
	}
	sort.Slice(plan.Unmatched, func(i, j int) bool { return plan.Unmatched[i].String() < plan.Unmatched[j].String() })
	return plan, nil
}

// planner carries the state of one PlanRewrite call.
type planner struct {
	root          *chart.Chart
	mappings      []ImageMapping
	literals      [][]imageLiteral // per mapping
	matched       []bool
	valueEdits    []ValueEdit
	templateEdits []TemplateEdit
	edits         map[string]int // chart\x00path → index in valueEdits
	emptyMaps     []emptyImageMap
	errs          []string
}

// chartInstance is one chart as Helm renders it: the root, or a subchart reached through
// the value keys (alias or name) of its ancestors.
type chartInstance struct {
	chart *chart.Chart
	// chain is the root … this chart; paths their chart paths; keys the value key of each
	// link below the root (len(keys) == len(chain)-1).
	chain []*chart.Chart
	paths []string
	keys  []string
}

func chartInstances(root *chart.Chart) []chartInstance {
	var out []chartInstance
	var visit func(in chartInstance)
	visit = func(in chartInstance) {
		out = append(out, in)
		for _, sub := range in.chart.Dependencies() {
			subPath := sub.Name()
			if p := in.paths[len(in.paths)-1]; p != "" {
				subPath = p + "/" + sub.Name()
			}
			for _, key := range dependencyKeys(in.chart, sub.Name()) {
				visit(chartInstance{
					chart: sub,
					chain: append(append([]*chart.Chart{}, in.chain...), sub),
					paths: append(append([]string{}, in.paths...), subPath),
					keys:  append(append([]string{}, in.keys...), key),
				})
			}
		}
	}
	visit(chartInstance{chart: root, chain: []*chart.Chart{root}, paths: []string{""}})
	return out
}

// dependencyKeys are the value keys a parent uses for the subchart called name: the alias
// of each Chart.yaml entry naming it, or its name.
func dependencyKeys(parent *chart.Chart, name string) []string {
	var keys []string
	if parent.Metadata != nil {
		for _, d := range parent.Metadata.Dependencies {
			if d == nil || d.Name != name {
				continue
			}
			if d.Alias != "" {
				keys = append(keys, d.Alias)
			} else {
				keys = append(keys, d.Name)
			}
		}
	}
	if len(keys) == 0 {
		keys = []string{name}
	}
	return keys
}

// subchartKeys is the set of value keys of ch that belong to its subcharts.
func subchartKeys(ch *chart.Chart) map[string]bool {
	keys := map[string]bool{}
	for _, sub := range ch.Dependencies() {
		for _, k := range dependencyKeys(ch, sub.Name()) {
			keys[k] = true
		}
	}
	return keys
}

// valueLayer is one chart's values as seen by an instance, highest precedence first.
type valueLayer struct {
	chart  string
	prefix []string
	values map[string]any
}

func (in chartInstance) layers(global bool) []valueLayer {
	out := make([]valueLayer, 0, len(in.chain))
	for i, c := range in.chain {
		l := valueLayer{chart: in.paths[i], values: c.Values}
		if !global {
			l.prefix = in.keys[i:]
		}
		out = append(out, l)
	}
	return out
}

// mergedValues is the instance's effective values (parents over the chart's own), with
// "global" merged the way Helm does (parent globals win).
func (in chartInstance) mergedValues() map[string]any {
	merged := map[string]any{}
	layers := in.layers(false)
	for i := len(layers) - 1; i >= 0; i-- {
		if m, ok := lookupPath(layers[i].values, layers[i].prefix).(map[string]any); ok {
			merged = mergeValues(merged, m)
		}
	}
	delete(merged, "global")
	global := map[string]any{}
	for i := len(in.chain) - 1; i >= 0; i-- {
		if g, ok := in.chain[i].Values["global"].(map[string]any); ok {
			global = mergeValues(global, g)
		}
	}
	if len(global) > 0 {
		merged["global"] = global
	}
	if len(in.keys) == 0 {
		for k := range subchartKeys(in.chart) {
			delete(merged, k)
		}
	}
	return merged
}

// setValue plans field (a path in the instance's effective values) to become newValue:
// the layer whose value is in effect is edited, and every lower layer holding the same
// value (a default the parent repeats); when no layer sets it, the chart's own layer is.
func (p *planner) setValue(in chartInstance, field []string, newValue any) {
	global := len(field) > 0 && field[0] == "global"
	layers := in.layers(global)
	var effective any
	for _, l := range layers {
		full := append(append([]string{}, l.prefix...), field...)
		old := lookupPath(l.values, full)
		if old == nil || (effective != nil && scalarString(old) != scalarString(effective)) {
			continue
		}
		if effective == nil {
			effective = old
		}
		p.addValueEdit(ValueEdit{Chart: l.chart, Path: full, Old: old, New: newValue})
	}
	if effective != nil {
		return
	}
	// Null or absent everywhere: set it where the key is written, else in the chart itself.
	target := layers[len(layers)-1]
	for _, l := range layers {
		if hasPath(l.values, append(append([]string{}, l.prefix...), field...)) {
			target = l
			break
		}
	}
	full := append(append([]string{}, target.prefix...), field...)
	p.addValueEdit(ValueEdit{Chart: target.chart, Path: full, Old: nil, New: newValue})
}

func (p *planner) addValueEdit(e ValueEdit) {
	key := e.Chart + "\x00" + strings.Join(e.Path, "\x00")
	if i, ok := p.edits[key]; ok {
		if p.valueEdits[i].New != e.New {
			p.errs = append(p.errs, fmt.Sprintf("value %s of %s wanted as both %v and %v",
				strings.Join(e.Path, "."), chartLabel(p.root, e.Chart), p.valueEdits[i].New, e.New))
		}
		return
	}
	p.edits[key] = len(p.valueEdits)
	p.valueEdits = append(p.valueEdits, e)
}

func chartLabel(root *chart.Chart, path string) string {
	if path == "" {
		return "chart " + root.Name()
	}
	return "subchart " + path + " of " + root.Name()
}

// match finds the mapping whose source is ref: same registry and repository, the tag and
// digest compatible where the value gives them.
func (p *planner) match(ref registry.ImageRef) (int, bool) {
	best := -1
	for i, m := range p.mappings {
		s := m.Source
		if s.Registry != ref.Registry || s.Repository != ref.Repository {
			continue
		}
		if ref.Digest != "" && s.Digest != "" && ref.Digest != s.Digest {
			continue
		}
		if ref.Tag != "" && s.Tag != "" && !tagCompatible(ref.Tag, s.Tag) {
			continue
		}
		if best < 0 || (ref.Tag != "" && ref.Tag == s.Tag) {
			best = i
		}
	}
	return best, best >= 0
}

// tagCompatible says whether a tag written in values (or an appVersion) can produce the
// rendered tag: equal, or the chart adds a "v" prefix or a "-variant" suffix.
func tagCompatible(value, rendered string) bool {
	value = strings.TrimSpace(value)
	switch {
	case value == rendered, "v"+value == rendered, value == "v"+rendered:
		return true
	case strings.HasPrefix(rendered, value+"-"), strings.HasPrefix(rendered, "v"+value+"-"):
		return true
	}
	return false
}
