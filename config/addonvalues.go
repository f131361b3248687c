package config

import (
	"errors"

	"gopkg.in/yaml.v3"
)

// addonValues merges an addon's own chart values: `values`, then `helm.values`, then
// `helm.valuesObject` (later ones win, as in Argo CD). Each may be a mapping; `values` and
// `helm.values` may also be a string holding YAML.
func (d *discovery) addonValues(m *yaml.Node, label string) (map[string]any, error) {
	var merged map[string]any
	for _, n := range []*yaml.Node{
		dig(m, []string{"values"}),
		dig(m, []string{"helm"}, []string{"values"}),
		dig(m, []string{"helm"}, []string{"valuesObject"}),
	} {
		v, err := d.decodeValues(n, label)
		if err != nil {
			return nil, err
		}
		merged = mergeValues(merged, v)
	}
	return merged, nil
}

// decodeValues reads one values node: a mapping, or a string holding a YAML mapping.
func (d *discovery) decodeValues(n *yaml.Node, label string) (map[string]any, error) {
	v := content(n)
	if scalarNull(v) {
		return nil, nil
	}
	pos := nodePos(d.file, n)
	switch {
	case v.Kind == yaml.MappingNode:
		out, err := mappingValues(v)
		if err != nil {
			return nil, inputErrorf(pos, "%s: values: %v", label, err)
		}
		return out, nil
	case v.Kind == yaml.ScalarNode && v.Tag == "!!str":
		// A block scalar's text starts on the line after its indicator.
		offset := v.Line - 1
		if v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
			offset = v.Line
		}
		docs, err := parseEmbedded(d.file, d.data, []byte(v.Value), offset)
		if err != nil {
			var ie *InputError
			if errors.As(err, &ie) && ie.Pos.Line > offset {
				ie.Msg = label + ": values: " + ie.Msg
				return nil, ie
			}
			return nil, inputErrorf(pos, "%s: values string is not a YAML mapping: %v", label, err)
		}
		if len(docs) == 0 || scalarNull(content(docs[0])) {
			return nil, nil
		}
		if !isMapping(docs[0]) {
			return nil, inputErrorf(pos, "%s: values string is not a YAML mapping", label)
		}
		out, err := mappingValues(content(docs[0]))
		if err != nil {
			return nil, inputErrorf(pos, "%s: values: %v", label, err)
		}
		return out, nil
	}
	return nil, inputErrorf(pos, "%s: values must be a mapping or a string of YAML", label)
}

// mergeValues deep-merges src over dst (maps merged key by key, anything else replaced).
func mergeValues(dst, src map[string]any) map[string]any {
	if dst == nil {
		return src
	}
	for k, sv := range src {
		dm, dIsMap := dst[k].(map[string]any)
		sm, sIsMap := sv.(map[string]any)
		if dIsMap && sIsMap {
			dst[k] = mergeValues(dm, sm)
			continue
		}
		dst[k] = sv
	}
	return dst
}
