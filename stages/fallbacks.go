package stages

import (
	"fmt"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
)

// placeholderCluster is the cluster name used where a chart refuses to render without one.
// Only the images matter for mirroring; the user is told the placeholder was used.
const placeholderCluster = "airgap-charts-placeholder"

// fallbackValue is a value a chart refuses to render without, set only when neither the
// user nor the chart's defaults give it.
type fallbackValue struct {
	// Path is the dotted values path inside the chart ("settings.clusterName").
	Path  string
	Value any
}

// builtinFallbacks holds, by chart name, the settings known charts need just to render.
// They never override a value the user or the chart sets, and each use is reported.
var builtinFallbacks = map[string][]fallbackValue{
	"karpenter": {
		{Path: "settings.clusterName", Value: placeholderCluster},
		{Path: "settings.clusterEndpoint", Value: "https://" + placeholderCluster + ".invalid"},
	},
	"aws-load-balancer-controller": {
		{Path: "clusterName", Value: placeholderCluster},
	},
}

// valueScope is a values tree and the path from it to the chart being looked at.
type valueScope struct {
	values map[string]any
	prefix []string
}

// applyFallbacks sets, in vals (the user's merged values, modified in place), every
// built-in fallback of ch and of its enabled subcharts (at any depth, under their alias)
// whose key is still unset, and returns one line per value set.
func applyFallbacks(ch *chart.Chart, vals map[string]any) []string {
	var used []string
	var walk func(c *chart.Chart, prefix []string, scopes []valueScope)
	walk = func(c *chart.Chart, prefix []string, scopes []valueScope) {
		if c.Metadata == nil {
			return
		}
		scopes = append(scopes, valueScope{values: c.Values})
		for _, fb := range builtinFallbacks[c.Metadata.Name] {
			rel := strings.Split(fb.Path, ".")
			full := append(append([]string{}, prefix...), rel...)
			if isSetValue(lookupPath(vals, full)) || isSetValue(lookupScopes(scopes, rel)) {
				continue
			}
			_ = setPath(vals, full, fb.Value)
			used = append(used, fmt.Sprintf("%s: %s=%v", c.Metadata.Name, strings.Join(full, "."), fb.Value))
		}
		for _, sub := range c.Dependencies() {
			key, enabled := subchartKey(c, sub, prefix, vals, scopes)
			if !enabled {
				continue
			}
			child := make([]valueScope, 0, len(scopes))
			for _, s := range scopes {
				child = append(child, valueScope{values: s.values, prefix: append(append([]string{}, s.prefix...), key)})
			}
			walk(sub, append(append([]string{}, prefix...), key), child)
		}
	}
	walk(ch, nil, nil)
	return used
}

// subchartKey finds the values key of sub in parent (its alias or name) and whether its
// condition, where one resolves to a boolean, leaves it enabled.
func subchartKey(parent, sub *chart.Chart, prefix []string, vals map[string]any, scopes []valueScope) (string, bool) {
	name := sub.Metadata.Name
	for _, d := range parent.Metadata.Dependencies {
		if d.Name != name {
			continue
		}
		key := name
		if d.Alias != "" {
			key = d.Alias
		}
		for _, cond := range strings.Split(d.Condition, ",") {
			cond = strings.TrimSpace(cond)
			if cond == "" {
				continue
			}
			rel := strings.Split(cond, ".")
			v := lookupPath(vals, append(append([]string{}, prefix...), rel...))
			if v == nil {
				v = lookupScopes(scopes, rel)
			}
			if b, ok := v.(bool); ok {
				return key, b
			}
		}
		return key, true
	}
	return name, true
}

// lookupScopes returns the value at rel in the first scope (nearest chart last) that has it,
// searching from the outermost chart inwards as Helm's coalescing lets parents win.
func lookupScopes(scopes []valueScope, rel []string) any {
	for _, s := range scopes {
		if v := lookupPath(s.values, append(append([]string{}, s.prefix...), rel...)); v != nil {
			return v
		}
	}
	return nil
}

func isSetValue(v any) bool {
	if v == nil {
		return false
	}
	if s, ok := v.(string); ok {
		return s != ""
	}
	return true
}
