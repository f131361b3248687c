package config

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// checkDuplicateKeys returns an *InputError for the first mapping of n that holds the same
// key twice, naming both lines (YAML parsers keep one of the two silently). Merge keys
// (<<) are not keys of their own. Aliased nodes are checked where they are defined.
func checkDuplicateKeys(file string, n *yaml.Node, lineOffset int) error {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.MappingNode {
		first := make(map[string]*yaml.Node, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || (k.Value == "<<" && k.Tag == "!!merge") {
				continue
			}
			if prev, ok := first[k.Value]; ok {
				return inputErrorf(Position{File: file, Line: k.Line + lineOffset}, "key %q is given twice in one mapping, at lines %d and %d (remove one)",
					k.Value, prev.Line+lineOffset, k.Line+lineOffset)
			}
			first[k.Value] = k
		}
	}
	if n.Kind == yaml.AliasNode {
		return nil
	}
	for _, c := range n.Content {
		if err := checkDuplicateKeys(file, c, lineOffset); err != nil {
			return err
		}
	}
	return nil
}

// nodeValue converts a node to the values Helm takes: map[string]any for mappings (merge
// keys expanded, the mapping's own keys winning), []any for sequences, and for scalars what
// yaml.v3 decodes them to. Unlike yaml.v3's Decode, its cost is linear in the size of the
// node (duplicate keys are found beforehand by checkDuplicateKeys); aliases are expanded
// up to maxValueNodes values in all.
func nodeValue(n *yaml.Node) (any, error) {
	budget := maxValueNodes
	return convertNode(n, &budget, 0)
}

func convertNode(n *yaml.Node, budget *int, depth int) (any, error) {
	if *budget--; *budget < 0 {
		return nil, fmt.Errorf("values expand to more than %d entries (aliases included)", maxValueNodes)
	}
	if depth > 2*MaxYAMLDepth {
		return nil, fmt.Errorf("values nest deeper than %d levels (aliases included)", MaxYAMLDepth)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return convertNode(n.Content[0], budget, depth)
	case yaml.AliasNode:
		return convertNode(n.Alias, budget, depth+1)
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for _, p := range pairs(n) {
			if p.key.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: a mapping key must be a single value", p.key.Line)
			}
			v, err := convertNode(p.val, budget, depth+1)
			if err != nil {
				return nil, err
			}
			out[p.key.Value] = v
		}
		return out, nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := convertNode(c, budget, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	switch n.ShortTag() {
	case "!!str":
		return n.Value, nil
	case "!!null":
		return nil, nil
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, fmt.Errorf("line %d: %w", n.Line, err)
	}
	return v, nil
}

// mappingValues converts a mapping node to values (see nodeValue).
func mappingValues(n *yaml.Node) (map[string]any, error) {
	v, err := nodeValue(n)
	if err != nil {
		return nil, err
	}
	m, _ := v.(map[string]any)
	return m, nil
}
