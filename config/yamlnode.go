package config

import (
	"bytes"
	"errors"
	"io"

	"gopkg.in/yaml.v3"
)

// parseDocuments parses every YAML document of a file into nodes (a values file may hold
// several documents, as Argo CD manifests often do).
func parseDocuments(file string, data []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, yamlSyntaxError(file, data, data, 0, err)
		}
		docs = append(docs, &doc)
	}
}

// content is n with document wrappers and aliases resolved.
func content(n *yaml.Node) *yaml.Node {
	for n != nil {
		switch {
		case n.Kind == yaml.DocumentNode && len(n.Content) == 1:
			n = n.Content[0]
		case n.Kind == yaml.AliasNode:
			n = n.Alias
		default:
			return n
		}
	}
	return nil
}

// pair is one key/value of a mapping.
type pair struct {
	key, val *yaml.Node
}

// pairs lists a mapping's entries, merge keys (<<) expanded with lower precedence than the
// mapping's own entries. It returns nil for anything that is not a mapping.
func pairs(n *yaml.Node) []pair {
	n = content(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	var own, merged []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], content(n.Content[i+1])
		if k.Value == "<<" && k.Tag == "!!merge" {
			switch {
			case v.Kind == yaml.MappingNode:
				merged = append(merged, pairs(v)...)
			case v.Kind == yaml.SequenceNode:
				for _, m := range v.Content {
					merged = append(merged, pairs(m)...)
				}
			}
			continue
		}
		own = append(own, pair{k, v})
	}
	if len(merged) == 0 {
		return own
	}
	seen := map[string]bool{}
	for _, p := range own {
		seen[p.key.Value] = true
	}
	for _, p := range merged {
		if !seen[p.key.Value] {
			own = append(own, p)
			seen[p.key.Value] = true
		}
	}
	return own
}

// isMapping reports whether n (aliases resolved) is a mapping.
func isMapping(n *yaml.Node) bool {
	n = content(n)
	return n != nil && n.Kind == yaml.MappingNode
}

// lookup finds the first of keys present in mapping n; nil when none is.
func lookup(n *yaml.Node, keys ...string) *pair {
	ps := pairs(n)
	for _, key := range keys {
		for i := range ps {
			if ps[i].key.Value == key {
				return &ps[i]
			}
		}
	}
	return nil
}

// dig follows a chain of mapping keys, each step accepting any of its aliases
// (e.g. dig(n, []string{"spec"}, []string{"source"})).
func dig(n *yaml.Node, steps ...[]string) *yaml.Node {
	for _, keys := range steps {
		p := lookup(n, keys...)
		if p == nil {
			return nil
		}
		n = p.val
	}
	return n
}

// scalarNull reports whether n is an explicit or implicit null.
func scalarNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

func nodePos(file string, n *yaml.Node) Position {
	if n == nil {
		return Position{File: file}
	}
	return Position{File: file, Line: n.Line}
}
