package config

import (
	"gopkg.in/yaml.v3"
)

// DefaultOverridesFile is read when present and no other overrides file is named.
const DefaultOverridesFile = "chart-overrides.yaml"

// LoadOverrides reads chart-overrides.yaml: `overrides: {CHART: {values…}}`. An empty file
// or an empty `overrides:` yields no overrides. Every error is an *InputError.
func LoadOverrides(path string) (Overrides, error) {
	data, err := readInput(path, "overrides")
	if err != nil {
		return nil, err
	}
	docs, err := parseDocuments(path, data)
	if err != nil {
		return nil, err
	}
	out := Overrides{}
	for _, doc := range docs {
		root := content(doc)
		if scalarNull(root) {
			continue
		}
		if root.Kind != yaml.MappingNode {
			return nil, inputErrorf(nodePos(path, root), "expected a mapping with `overrides:`")
		}
		for _, p := range pairs(root) {
			if p.key.Value != "overrides" {
				return nil, inputErrorf(nodePos(path, p.key), "unknown key %q (chart-overrides.yaml holds only `overrides:`)", p.key.Value)
			}
			if scalarNull(p.val) {
				continue
			}
			if p.val.Kind != yaml.MappingNode {
				return nil, inputErrorf(nodePos(path, p.val), "overrides must map chart names to values")
			}
			for _, c := range pairs(p.val) {
				chart := c.key.Value
				if scalarNull(c.val) {
					continue
				}
				if c.val.Kind != yaml.MappingNode {
					return nil, inputErrorf(nodePos(path, c.val), "overrides for chart %q must be a mapping of values", chart)
				}
				var values map[string]any
				if err := c.val.Decode(&values); err != nil {
					return nil, inputErrorf(nodePos(path, c.val), "overrides for chart %q: %v", chart, err)
				}
				out[chart] = mergeValues(out[chart], values)
			}
		}
	}
	return out, nil
}
