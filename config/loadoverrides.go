package config

import (
	"gopkg.in/yaml.v3"
)

// DefaultOverridesFile is read when present and no other overrides file is named.
const DefaultOverridesFile = "chart-overrides.yaml"

// ChartOverrides is chart-overrides.yaml: per-chart render values and the images each
// chart may leave public.
type ChartOverrides struct {
	Values       Overrides    // `overrides: {CHART: {values…}}`
	PublicImages PublicImages // `public_images: {CHART: [REF, …]}`
}

// LoadChartOverrides reads chart-overrides.yaml: `overrides: {CHART: {values…}}` and
// `public_images: {CHART: [REF, …]}`, both optional. An empty file or empty keys yield
// nothing. Every error is an *InputError at file:line.
func LoadChartOverrides(path string) (ChartOverrides, error) {
	out := ChartOverrides{Values: Overrides{}, PublicImages: PublicImages{}}
	data, err := readInput(path, "overrides")
	if err != nil {
		return out, err
	}
	docs, err := parseDocuments(path, data)
	if err != nil {
		return out, err
	}
	for _, doc := range docs {
		root := content(doc)
		if scalarNull(root) {
			continue
		}
		if root.Kind != yaml.MappingNode {
			return out, inputErrorf(nodePos(path, root), "expected a mapping with `overrides:` and/or `public_images:`")
		}
		for _, p := range pairs(root) {
			switch p.key.Value {
			case "overrides":
				if err := loadValueOverrides(path, p.val, out.Values); err != nil {
					return out, err
				}
			case "public_images":
				if err := loadPublicImages(path, p.val, out.PublicImages); err != nil {
					return out, err
				}
			default:
				return out, inputErrorf(nodePos(path, p.key), "unknown key %q (chart-overrides.yaml holds `overrides:` and `public_images:`)", p.key.Value)
			}
		}
	}
	if len(out.PublicImages) == 0 {
		out.PublicImages = nil
	}
	return out, nil
}

// loadValueOverrides reads the value of `overrides:` into out.
func loadValueOverrides(path string, n *yaml.Node, out Overrides) error {
	if scalarNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return inputErrorf(nodePos(path, n), "overrides must map chart names to values")
	}
	for _, c := range pairs(n) {
		chart := c.key.Value
		if scalarNull(c.val) {
			continue
		}
		if c.val.Kind != yaml.MappingNode {
			return inputErrorf(nodePos(path, c.val), "overrides for chart %q must be a mapping of values", chart)
		}
		values, err := mappingValues(c.val)
		if err != nil {
			return inputErrorf(nodePos(path, c.val), "overrides for chart %q: %v", chart, err)
		}
		out[chart] = mergeValues(out[chart], values)
	}
	return nil
}
