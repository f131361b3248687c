package stages

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"

	"go.yaml.in/yaml/v3"
)

// maxWholeIndexBytes is the largest index.yaml parsed in one piece: one whose layout is
// not the one-chart-per-key block layout Helm writes (flow style, anchors shared between
// charts). Parsing YAML in one piece costs about fifteen times its size.
const maxWholeIndexBytes = 8 << 20

// maxIndexItemBytes is the largest one chart version of an index may be (the largest public
// indexes have entries of a few KiB).
const maxIndexItemBytes = 1 << 20

// chartIndex is what a resolver needs of a repository's index.yaml: for each chart, its
// versions with their archive URLs and digests. The rest of each entry (descriptions,
// maintainers, annotations: most of the bytes) is never kept.
type chartIndex struct {
	APIVersion string                  `json:"apiVersion" yaml:"apiVersion"`
	Entries    map[string][]indexEntry `json:"entries" yaml:"entries"`
}

// indexEntry is one chart version of an index.
type indexEntry struct {
	Version string   `json:"version" yaml:"version"`
	URLs    []string `json:"urls" yaml:"urls"`
	Digest  string   `json:"digest" yaml:"digest"`
}

// parseIndex reads index.yaml (YAML or JSON) as Helm does, entries without a version
// skipped, at a cost bounded by what is kept rather than by the size of the file: JSON is
// decoded straight into what is kept, and YAML in Helm's block layout is parsed one chart
// version at a time. Other YAML layouts are parsed whole, up to maxWholeIndexBytes.
func parseIndex(data []byte) (*chartIndex, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("empty file")
	}
	var idx *chartIndex
	var err error
	switch {
	case json.Valid(data):
		idx = &chartIndex{}
		err = json.Unmarshal(data, idx)
	default:
		idx, err = parseIndexInParts(data)
		if err == errIndexLayout {
			if len(data) > maxWholeIndexBytes {
				return nil, fmt.Errorf("index of %d MiB is not in the block layout Helm writes (one chart per key, one version per list item), "+
					"and at most %d MiB of index can be read in one piece", len(data)>>20, maxWholeIndexBytes>>20)
			}
			idx = &chartIndex{}
			err = yaml.Unmarshal(data, idx)
		}
	}
	if err != nil {
		return nil, err
	}
	if idx.APIVersion == "" {
		return nil, fmt.Errorf("no apiVersion (is this a chart repository index?)")
	}
	for name, es := range idx.Entries {
		kept := es[:0]
		for _, e := range es {
			if e.Version != "" {
				kept = append(kept, e)
			}
		}
		idx.Entries[name] = kept
	}
	return idx, nil
}

var errIndexLayout = fmt.Errorf("index.yaml layout not recognised")

var (
	topKeyRE   = regexp.MustCompile(`^([A-Za-z]+):[ \t]*(.*?)[ \t]*$`)
	chartKeyRE = regexp.MustCompile(`^[ ]+("[^"\\]*"|'[^']*'|[^\s"'#:\[\]{},&*!|>%@` + "`" + `][^\s:#]*):[ \t]*(#.*)?$`)
)

// parseIndexInParts reads an index in Helm's block layout:
//
//	apiVersion: v1
//	entries:
//	  CHART:
//	  - version: …
//	    urls: […]
//
// splitting `entries:` at its chart keys and each chart at its list items, and parsing
// each item alone. errIndexLayout says the layout is another one.
func parseIndexInParts(data []byte) (*chartIndex, error) {
	idx := &chartIndex{Entries: map[string][]indexEntry{}}
	lines := bytes.SplitAfter(data, []byte("\n"))
	var chart string
	var item []byte // the list item being gathered, lines joined
	chartIndent, itemIndent := -1, -1
	inEntries := false
	flush := func() error {
		if item == nil {
			return nil
		}
		var one []indexEntry
		if err := yaml.Unmarshal(item, &one); err != nil || len(one) != 1 {
			return errIndexLayout
		}
		idx.Entries[chart] = append(idx.Entries[chart], one[0])
		item = nil
		return nil
	}
	for _, raw := range lines {
		line := bytes.TrimRight(raw, "\r\n")
		trimmed := bytes.TrimLeft(line, " ")
		indent := len(line) - len(trimmed)
		if len(bytes.TrimSpace(trimmed)) == 0 || trimmed[0] == '#' {
			if item != nil {
				item = append(item, raw...)
			}
			continue
		}
		if bytes.HasPrefix(trimmed, []byte("\t")) {
			return nil, errIndexLayout
		}
		if indent == 0 {
			if err := flush(); err != nil {
				return nil, err
			}
			if bytes.Equal(line, []byte("---")) || bytes.HasPrefix(line, []byte("--- ")) || bytes.Equal(line, []byte("...")) {
				continue
			}
			m := topKeyRE.FindSubmatch(line)
			if m == nil {
				return nil, errIndexLayout
			}
			key, value := string(m[1]), string(m[2])
			inEntries = key == "entries"
			switch {
			case inEntries && value != "" && value[0] != '#':
				return nil, errIndexLayout // entries in flow style
			case key == "apiVersion":
				var v string
				if err := yaml.Unmarshal([]byte(value), &v); err != nil {
					return nil, errIndexLayout
				}
				idx.APIVersion = v
			}
			continue
		}
		if !inEntries {
			continue // the value of another top-level key (generated:, serverInfo:, …)
		}
		if chartIndent < 0 {
			chartIndent = indent
		}
		switch {
		case indent < chartIndent:
			return nil, errIndexLayout
		case indent == chartIndent && trimmed[0] != '-':
			if err := flush(); err != nil {
				return nil, err
			}
			m := chartKeyRE.FindSubmatch(line)
			if m == nil {
				return nil, errIndexLayout // a key with an inline value, or one of many lines
			}
			if err := yaml.Unmarshal(m[1], &chart); err != nil {
				return nil, errIndexLayout
			}
			if _, ok := idx.Entries[chart]; !ok {
				idx.Entries[chart] = nil
			}
			itemIndent = -1
		case chart == "":
			return nil, errIndexLayout
		case trimmed[0] == '-' && (len(trimmed) == 1 || trimmed[1] == ' ') && (itemIndent < 0 || indent == itemIndent):
			if err := flush(); err != nil {
				return nil, err
			}
			itemIndent = indent
			item = append([]byte(nil), raw...)
		case item == nil || indent <= itemIndent:
			return nil, errIndexLayout
		default:
			item = append(item, raw...)
			if len(item) > maxIndexItemBytes {
				return nil, fmt.Errorf("the entry of chart %q starting %q is larger than %d MiB, the most one chart version of an index may take",
					chart, firstLine(item), maxIndexItemBytes>>20)
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return idx, nil
}

func firstLine(b []byte) string {
	line, _, _ := bytes.Cut(bytes.TrimSpace(b), []byte("\n"))
	if len(line) > 60 {
		line = line[:60]
	}
	return string(line)
}
