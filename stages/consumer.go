package stages

import (
	"bytes"
	"fmt"
	"github.com/airgap-charts/airgap-charts/config"
	"strings"

	"go.yaml.in/yaml/v3"
	"helm.sh/helm/v3/pkg/chart"
)

// consumerOverridesHeader opens every consumer overrides file.
const consumerOverridesHeader = `# Consumer overrides written by airgap-charts.
# The image values of the ORIGINAL chart, pointed at the private registry: install the
# upstream chart with "-f" this file (after your own values) to pull every image from the
# mirror. Subchart values sit under the subchart's key, as in the parent chart's values.
`

// ConsumerOverrides returns the values that point the original ch at the private images
// of plan: only the image keys the chart exposes, nested as in the chart's values,
// subcharts' keys under their alias (or name). A list containing an edited element is
// given whole, since Helm replaces lists rather than merging them.
func ConsumerOverrides(ch *chart.Chart, plan *RewritePlan) map[string]any {
	out := map[string]any{}
	if ch == nil || plan == nil {
		return out
	}
	for _, e := range plan.ValueEdits {
		c, err := findSubchart(ch, e.Chart)
		if err != nil {
			continue
		}
		if len(e.Path) > 0 && e.Path[0] == "global" {
			setOverride(out, c.Values, nil, e.Path, e.New)
			continue
		}
		for _, prefix := range valueKeyPrefixes(ch, e.Chart) {
			setOverride(out, c.Values, prefix, e.Path, e.New)
		}
	}
	return out
}

// valueKeyPrefixes are the parent value keys that lead to the subchart at cpath, one per
// alias along the way.
func valueKeyPrefixes(root *chart.Chart, cpath string) [][]string {
	prefixes := [][]string{nil}
	if cpath == "" {
		return prefixes
	}
	c := root
	for _, n := range strings.Split(cpath, "/") {
		keys := dependencyKeys(c, n)
		var next [][]string
		for _, p := range prefixes {
			for _, k := range keys {
				next = append(next, append(append([]string{}, p...), k))
			}
		}
		prefixes = next
		for _, d := range c.Dependencies() {
			if d.Name() == n {
				c = d
				break
			}
		}
	}
	return prefixes
}

// setOverride sets prefix+path to v in out; where path crosses a list of the chart's
// values, the whole list is copied into out first.
func setOverride(out map[string]any, values map[string]any, prefix, path []string, v any) {
	var cur any = out
	full := append(append([]string{}, prefix...), path...)
	for i, k := range full {
		last := i == len(full)-1
		switch t := cur.(type) {
		case map[string]any:
			if last {
				t[k] = v
				return
			}
			next, ok := t[k]
			if !ok || next == nil {
				if i >= len(prefix) {
					if list, isList := lookupPath(values, path[:i-len(prefix)+1]).([]any); isList {
						next = copyValue(list)
					}
				}
				if next == nil {
					next = map[string]any{}
				}
				t[k] = next
			}
			cur = next
		case []any:
			idx, ok := listIndex(k, len(t))
			if !ok {
				return
			}
			if last {
				t[idx] = v
				return
			}
			cur = t[idx]
		default:
			return
		}
	}
}

// WriteConsumerOverrides writes values as YAML to path (atomically), under a header that
// says what the file is.
func WriteConsumerOverrides(path string, values map[string]any) error {
	var buf bytes.Buffer
	buf.WriteString(consumerOverridesHeader)
	if len(values) > 0 {
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(values); err != nil {
			return fmt.Errorf("consumer overrides %s: %w", path, err)
		}
		if err := enc.Close(); err != nil {
			return fmt.Errorf("consumer overrides %s: %w", path, err)
		}
	} else {
		buf.WriteString("{}\n")
	}
	if err := config.WriteFileAtomic(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("consumer overrides: %w", err)
	}
	return nil
}
