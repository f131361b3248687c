package stages

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
)

// valueLeaf is one scalar of a chart's effective values, named by its path from the top
// (a subchart's values under its key, globals under "global"), as a render sees it.
type valueLeaf struct {
	Path []string
	// Value is the scalar as a template prints it; "" for an empty string or null.
	Value string
	// User is true when the addon's values or chart-overrides set it.
	User bool
}

func (l valueLeaf) key() string { return strings.Join(l.Path, "\x00") }

// effectiveValues returns what a render of ch with layers sees as .Values: chart and
// subchart defaults coalesced under the user's layers (and the built-in fallbacks), the
// way Helm computes them, disabled subcharts left out. user is the layers merged.
func effectiveValues(ch *chart.Chart, layers []map[string]any) (effective, user map[string]any, err error) {
	user = map[string]any{}
	for _, l := range layers {
		user = mergeValues(user, l)
	}
	vals := copyValues(user)
	applyFallbacks(ch, vals)
	work := copyChart(ch)
	if err := chartutil.ProcessDependenciesWithMerge(work, vals); err != nil {
		return nil, nil, fmt.Errorf("values of chart %s: %w", ch.Name(), err)
	}
	coalesced, err := chartutil.CoalesceValues(work, vals)
	if err != nil {
		return nil, nil, fmt.Errorf("values of chart %s: %w", ch.Name(), err)
	}
	return map[string]any(coalesced), user, nil
}

// collectLeaves lists the scalar string leaves of effective values that keep accepts
// (strings), and with empty also the empty strings and nulls. A subchart's copy of the
// globals is the globals: its leaves are named "global.…", once.
func collectLeaves(effective, user map[string]any, keep func(string) bool, empty bool) []valueLeaf {
	var out []valueLeaf
	seen := map[string]bool{}
	var walk func(v any, path []string)
	walk = func(v any, path []string) {
		switch t := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(t))
			for k := range t {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				p := appendPath(path, k)
				if k == "global" && len(path) > 0 {
					p = []string{"global"}
				}
				walk(t[k], p)
			}
		case chartutil.Values:
			walk(map[string]any(t), path)
		case []any:
			for i, e := range t {
				walk(e, appendPath(path, strconv.Itoa(i)))
			}
		case string:
			s := strings.TrimSpace(t)
			if (s == "" && empty) || (s != "" && !empty && keep(s)) {
				add(&out, seen, valueLeaf{Path: path, Value: s, User: lookupPath(user, path) != nil})
			}
		case nil:
			if empty && len(path) > 0 {
				add(&out, seen, valueLeaf{Path: path, User: hasPath(user, path)})
			}
		}
	}
	walk(effective, nil)
	return out
}

func add(out *[]valueLeaf, seen map[string]bool, l valueLeaf) {
	if seen[l.key()] {
		return
	}
	seen[l.key()] = true
	*out = append(*out, l)
}

// withLeaves returns a copy of effective with each leaf of set given its value. A global
// is set at the top only: Helm gives a parent's globals precedence over a subchart's copy.
func withLeaves(effective map[string]any, set map[string]any, leaves []valueLeaf) map[string]any {
	out := copyValues(effective)
	for _, l := range leaves {
		v, ok := set[l.key()]
		if !ok {
			continue
		}
		_ = setPath(out, l.Path, v)
	}
	return out
}

// sortedLeafKeys orders a set of leaf keys for a deterministic plan.
func sortedLeafKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
