package config

import (
	"bytes"
	"errors"
	"io"

	"gopkg.in/yaml.v3"
)

// parseDocuments parses every YAML document of a file into nodes (a values file may hold
// several documents, as Argo CD manifests often do). Nesting past MaxYAMLDepth is refused
// before anything is parsed, and a key given twice in one mapping after.
func parseDocuments(file string, data []byte) ([]*yaml.Node, error) {
	return parseEmbedded(file, data, data, 0)
}

// parseEmbedded parses data, which sits in file (whose content is fileData) after line
// lineOffset, as parseDocuments does.
func parseEmbedded(file string, fileData, data []byte, lineOffset int) ([]*yaml.Node, error) {
	if err := checkDepth(file, data, lineOffset); err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, yamlSyntaxError(file, fileData, data, lineOffset, err)
		}
		if err := checkDuplicateKeys(file, &doc, lineOffset); err != nil {
			return nil, err
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
// mapping's own entries. It returns nil for anything that is not a mapping. Each merged
// mapping is expanded once however often it is merged, so that merges of merges cost what
// the distinct mappings hold, not what they would expand to.
func pairs(n *yaml.Node) []pair {
	n = content(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	own := make([]pair, 0, len(n.Content)/2)
	var sources []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], content(n.Content[i+1])
		if k.Value == "<<" && k.Tag == "!!merge" {
			sources = append(sources, mergeSources(v)...)
			continue
		}
		own = append(own, pair{k, v})
	}
	if len(sources) == 0 {
		return own
	}
	seen := map[string]bool{}
	for _, p := range own {
		seen[p.key.Value] = true
	}
	visited := map[*yaml.Node]bool{n: true}
	var expand func(m *yaml.Node)
	expand = func(m *yaml.Node) {
		if m == nil || visited[m] {
			return
		}
		visited[m] = true
		var more []*yaml.Node
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], content(m.Content[i+1])
			if k.Value == "<<" && k.Tag == "!!merge" {
				more = append(more, mergeSources(v)...)
				continue
			}
			if !seen[k.Value] {
				own = append(own, pair{k, v})
				seen[k.Value] = true
			}
		}
		for _, s := range more {
			expand(s)
		}
	}
	for _, s := range sources {
		expand(s)
	}
	return own
}

// mergeSources are the mappings a merge key's value names: one mapping or a list of them.
func mergeSources(v *yaml.Node) []*yaml.Node {
	switch {
	case v == nil:
	case v.Kind == yaml.MappingNode:
		return []*yaml.Node{v}
	case v.Kind == yaml.SequenceNode:
		var out []*yaml.Node
		for _, m := range v.Content {
			if m = content(m); m != nil && m.Kind == yaml.MappingNode {
				out = append(out, m)
			}
		}
		return out
	}
	return nil
}

// isMapping reports whether n (aliases resolved) is a mapping.
func isMapping(n *yaml.Node) bool {
	n = content(n)
	return n != nil && n.Kind == yaml.MappingNode
}

// lookup finds the first of keys present in mapping n; nil when none is.
func lookup(n *yaml.Node, keys ...string) *pair { return find(pairs(n), keys...) }

// find is lookup in a mapping's pairs, listed once for several lookups.
func find(ps []pair, keys ...string) *pair {
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
