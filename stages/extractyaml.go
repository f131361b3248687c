package stages

import (
	"strconv"

	yaml "go.yaml.in/yaml/v3"
)

// Rendered documents are read as go.yaml.in/yaml/v3 node trees: one parse, no conversion
// to JSON and back to Go maps (what sigs.k8s.io/yaml does), keys in document order, and
// scalars as written (a tag 1.10 stays "1.10"). Anchors and merge keys are followed.

// decodeDocument parses one YAML document; nil when it holds nothing (comments only).
func decodeDocument(doc string) (*yaml.Node, error) {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &n); err != nil {
		return nil, err
	}
	if n.Kind != yaml.DocumentNode || len(n.Content) == 0 {
		return nil, nil
	}
	return resolveAlias(n.Content[0]), nil
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 32; i++ {
		n = n.Alias
	}
	return n
}

// forPairs calls fn for every key of a mapping node with its value (aliases resolved);
// the keys a merge key ("<<: *base") brings in come first.
func forPairs(n *yaml.Node, fn func(key string, v *yaml.Node)) {
	n = resolveAlias(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolveAlias(n.Content[i+1])
		if v == nil {
			continue
		}
		if k.Tag == "!!merge" {
			if v.Kind == yaml.SequenceNode {
				for _, m := range v.Content {
					forPairs(m, fn)
				}
			} else {
				forPairs(v, fn)
			}
			continue
		}
		fn(k.Value, v)
	}
}

// mapGet returns the value of key in a mapping node, or nil.
func mapGet(n *yaml.Node, key string) *yaml.Node {
	var out *yaml.Node
	forPairs(n, func(k string, v *yaml.Node) {
		if out == nil && k == key {
			out = v
		}
	})
	return out
}

// isString reports whether n is a string scalar.
func isString(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.ScalarNode && n.Tag == "!!str"
}

// isNumber reports whether n is an integer or float scalar (a tag written 17 or 2.10).
func isNumber(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.ScalarNode && (n.Tag == "!!int" || n.Tag == "!!float")
}

// stringValue is n's text when n is a string scalar, else "".
func stringValue(n *yaml.Node) string {
	if isString(n) {
		return n.Value
	}
	return ""
}

// items returns a sequence node's elements (aliases resolved), or nil.
func items(n *yaml.Node) []*yaml.Node {
	n = resolveAlias(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]*yaml.Node, 0, len(n.Content))
	for _, e := range n.Content {
		if e = resolveAlias(e); e != nil {
			out = append(out, e)
		}
	}
	return out
}

func indexPath(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}
