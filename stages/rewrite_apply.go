package stages

import (
	"fmt"
	"strconv"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
)

const valuesFileName = "values.yaml"

// ApplyRewrite carries out plan on ch: each chart's values.yaml is edited in place (only
// the changed scalars; comments, order and layout stay), ch.Values follows so that a new
// render sees the change, and hard-coded template references are replaced. Chart.yaml and
// the version are left as they are.
func ApplyRewrite(ch *chart.Chart, plan *RewritePlan) error {
	if ch == nil || plan == nil {
		return fmt.Errorf("apply rewrite: no chart or plan")
	}
	byChart := map[string][]ValueEdit{}
	var order []string
	for _, e := range plan.ValueEdits {
		if _, ok := byChart[e.Chart]; !ok {
			order = append(order, e.Chart)
		}
		byChart[e.Chart] = append(byChart[e.Chart], e)
	}
	for _, cpath := range order {
		c, err := findSubchart(ch, cpath)
		if err != nil {
			return fmt.Errorf("apply rewrite: %w", err)
		}
		if err := applyValueEdits(c, byChart[cpath]); err != nil {
			return fmt.Errorf("apply rewrite: %s: %w", chartLabel(ch, cpath), err)
		}
	}
	for _, e := range plan.TemplateEdits {
		c, err := findSubchart(ch, e.Chart)
		if err != nil {
			return fmt.Errorf("apply rewrite: %w", err)
		}
		if err := applyTemplateEdit(c, e); err != nil {
			return fmt.Errorf("apply rewrite: %w", err)
		}
	}
	return nil
}

func applyValueEdits(c *chart.Chart, edits []ValueEdit) error {
	for _, f := range c.Raw {
		if f.Name != valuesFileName {
			continue
		}
		out, err := editValuesYAML(f.Data, edits)
		if err != nil {
			return fmt.Errorf("%s: %w", valuesFileName, err)
		}
		f.Data = out
	}
	if c.Values == nil {
		c.Values = map[string]any{}
	}
	for _, e := range edits {
		if err := setPath(c.Values, e.Path, e.New); err != nil {
			return fmt.Errorf("values %s: %w", strings.Join(e.Path, "."), err)
		}
	}
	return nil
}

// pathString renders a value path for messages ("controller.image.tag", "args[2]").
func pathString(path []string) string {
	var b strings.Builder
	for i, k := range path {
		if _, err := strconv.Atoi(k); err == nil {
			b.WriteString("[" + k + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(k)
	}
	return b.String()
}
