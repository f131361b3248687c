package stages

import (
	"sort"
	"strconv"

	"helm.sh/helm/v3/pkg/chart"
)

// valueImages returns the references a chart's default values name, as strings a
// rendered text may hold verbatim: every string leaf whose key names an image and which
// carries a tag or digest ("global.image: hashicorp/consul:1.22.7"), and every reference
// composed from parts kept apart in one map ("image: {registry, repository, tag}"), with
// and without its registry. The chart's own values and those of every subchart, at any
// depth, are read. A token of rendered text equal to one of them is that image wherever
// it sits (an argument, a ConfigMap, an env value), even without a registry host.
func valueImages(ch *chart.Chart) map[string]bool {
	out := map[string]bool{}
	var visit func(c *chart.Chart)
	visit = func(c *chart.Chart) {
		if c == nil {
			return
		}
		valueImagesIn(c.Values, false, out)
		for _, sub := range c.Dependencies() {
			visit(sub)
		}
	}
	visit(ch)
	return out
}

func valueImagesIn(v any, marked bool, out map[string]bool) {
	switch t := v.(type) {
	case map[string]any:
		// Parts are added in key order, so that which of two keys of one role wins does
		// not depend on map iteration.
		type part struct {
			key   string
			kc    keyClass
			value string
		}
		var parts []part
		for k, v := range t {
			kc := classifyKey(k)
			if kc.role == roleLabel {
				continue
			}
			switch child := v.(type) {
			case string:
				if kc.role == roleImage {
					if _, ok := keyedImageRef(child, true); ok {
						out[child] = true
						continue
					}
				}
				if kc.role != roleNone {
					parts = append(parts, part{k, kc, child})
				}
			case float64, int, int64:
				if kc.role == roleTag || kc.role == roleVersion {
					parts = append(parts, part{k, kc, numberText(child)})
				}
			default:
				valueImagesIn(child, marked || kc.role == roleImage || kc.mentionsImage, out)
			}
		}
		if len(parts) == 0 {
			return
		}
		sort.Slice(parts, func(i, j int) bool { return parts[i].key < parts[j].key })
		g := partGroups{marked: marked}
		for _, p := range parts {
			g.add(p.kc, p.value, Location{})
		}
		for _, c := range g.composed(false) {
			out[c.raw] = true
			if _, rest, ok := cutRegistry(c.raw); ok {
				out[rest] = true
			}
		}
	case []any:
		for _, e := range t {
			valueImagesIn(e, marked, out)
		}
	}
}

// cutRegistry splits "docker.io/bitnami/x:1" into its host and the rest.
func cutRegistry(s string) (string, string, bool) {
	if !hasRegistryHost(s) {
		return "", "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return "", "", false
}

// numberText spells a YAML number leaf (a tag written 17 or 2.10 unquoted) as Go read it;
// a float that is an integer has no fraction.
func numberText(v any) string {
	switch n := v.(type) {
	case float64:
		return strconv.FormatFloat(n, 'f', -1, 64)
	case int:
		return strconv.Itoa(n)
	case int64:
		return strconv.FormatInt(n, 10)
	}
	return ""
}
