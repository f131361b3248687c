package stages

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// maxIndexKeptBytes bounds what an index may leave in memory: its versions, URLs and
// digests (the largest public indexes keep a few MiB).
const maxIndexKeptBytes = 16 << 20

// keptPerEntry is what one kept chart version costs besides its strings: the entry, its
// slot in a growing slice, string and slice headers.
const keptPerEntry = 160

// parseIndex reads index.yaml (YAML or JSON) from r as Helm does, entries without a
// version skipped, at a cost bounded by what is kept rather than by the size of the file.
// JSON is decoded as a stream, one chart version at a time; YAML in Helm's block layout is
// read line by line, each chart version parsed alone; only versions, URLs and digests are
// kept. Other YAML layouts are read whole, up to maxWholeIndexBytes.
func parseIndex(r io.Reader) (*chartIndex, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	first, err := firstNonSpace(br)
	if err == io.EOF {
		return nil, fmt.Errorf("empty file")
	}
	if err != nil {
		return nil, err
	}
	var idx *chartIndex
	if first == '{' {
		idx, err = parseJSONIndex(br)
	} else {
		idx, err = parseIndexInParts(br)
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
			if e != nil && e.Version != "" {
				kept = append(kept, e)
			}
		}
		idx.Entries[name] = kept
	}
	idx.sortEntries()
	return idx, nil
}

// parseIndexBytes is parseIndex of an index held in memory.
func parseIndexBytes(data []byte) (*chartIndex, error) { return parseIndex(bytes.NewReader(data)) }

func firstNonSpace(br *bufio.Reader) (byte, error) {
	for i := 1; ; i++ {
		b, err := br.Peek(i)
		if len(b) < i {
			if err == nil {
				err = io.EOF
			}
			return 0, err
		}
		if c := b[i-1]; c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return c, nil
		}
		if i == br.Size() {
			if _, err := br.Discard(i); err != nil {
				return 0, err
			}
			i = 0
		}
	}
}

// parseWholeIndex parses head followed by the rest of r, at most limit bytes in all, as
// JSON or, up to maxWholeIndexBytes, as YAML.
func parseWholeIndex(head []byte, r io.Reader, limit int) (*chartIndex, error) {
	rest, err := io.ReadAll(io.LimitReader(r, int64(limit-len(head)+1)))
	if err != nil {
		return nil, err
	}
	data := append(head, rest...)
	if len(data) > limit {
		return nil, fmt.Errorf("index is not in the block layout Helm writes (one chart per key, one version per list item), "+
			"and at most %d MiB of such an index can be read", limit>>20)
	}
	idx := &chartIndex{}
	if json.Valid(data) {
		return idx, json.Unmarshal(data, idx)
	}
	if len(data) > maxWholeIndexBytes {
		return nil, fmt.Errorf("index of %d MiB is not in the block layout Helm writes (one chart per key, one version per list item), "+
			"and at most %d MiB of such an index can be read", len(data)>>20, maxWholeIndexBytes>>20)
	}
	return idx, yaml.Unmarshal(data, idx)
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
// each item alone. An index in another layout is parsed whole when it is small enough.
func parseIndexInParts(br *bufio.Reader) (*chartIndex, error) {
	p := &indexParts{idx: &chartIndex{Entries: map[string][]*indexEntry{}}, chartIndent: -1, itemIndent: -1}
	var head []byte // what was read, while it may yet be parsed whole
	for {
		raw, rerr := readLine(br, maxIndexItemBytes)
		if rerr != nil && rerr != io.EOF && rerr != errLongLine {
			return nil, rerr
		}
		if !p.tooLargeWhole {
			if len(head)+len(raw) <= maxWholeIndexBytes {
				head = append(head, raw...)
			} else {
				head = nil
				p.tooLargeWhole = true
			}
		}
		err := p.line(raw)
		if rerr == errLongLine {
			err = errIndexLayout // no line of Helm's layout is this long
		}
		if err == nil && rerr == io.EOF {
			err = p.flush()
		}
		if err == errIndexLayout {
			if p.tooLargeWhole {
				return nil, fmt.Errorf("index is not in the block layout Helm writes (one chart per key, one version per list item), "+
					"and at most %d MiB of such an index can be read", maxWholeIndexBytes>>20)
			}
			return parseWholeIndex(head, br, maxWholeIndexBytes)
		}
		if err != nil {
			return nil, err
		}
		if rerr == io.EOF {
			return p.idx, nil
		}
	}
}

var errLongLine = errors.New("line too long")

// readLine reads one line, its newline included; past limit bytes, it returns what it read
// and errLongLine.
func readLine(br *bufio.Reader, limit int) ([]byte, error) {
	var line []byte
	for {
		part, err := br.ReadSlice('\n')
		line = append(line, part...)
		if len(line) > limit {
			return line, errLongLine
		}
		if err != bufio.ErrBufferFull {
			return line, err
		}
	}
}

// indexParts is parseIndexInParts' state between lines.
type indexParts struct {
	idx                     *chartIndex
	chart                   string
	item                    []byte // the list item being gathered, lines joined
	chartIndent, itemIndent int
	inEntries               bool
	tooLargeWhole           bool
	kept                    int // bytes the entries kept take, about
}

func (p *indexParts) flush() error {
	if p.item == nil {
		return nil
	}
	var one []indexEntry
	if err := yaml.Unmarshal(p.item, &one); err != nil || len(one) != 1 {
		return errIndexLayout
	}
	e := &one[0]
	p.kept += keptPerEntry + len(e.Version) + len(e.Digest)
	for _, u := range e.URLs {
		p.kept += 32 + len(u)
	}
	if p.kept > maxIndexKeptBytes {
		return fmt.Errorf("the index lists more than %d MiB of chart versions (at chart %q), the most one index may hold", maxIndexKeptBytes>>20, p.chart)
	}
	p.idx.Entries[p.chart] = append(p.idx.Entries[p.chart], e)
	p.item = nil
	return nil
}

func (p *indexParts) line(raw []byte) error {
	line := bytes.TrimRight(raw, "\r\n")
	trimmed := bytes.TrimLeft(line, " ")
	indent := len(line) - len(trimmed)
	if len(bytes.TrimSpace(trimmed)) == 0 || trimmed[0] == '#' {
		// Blank and comment lines are left out of items: within a block scalar (a
		// description) they change nothing that is kept.
		return nil
	}
	if trimmed[0] == '\t' {
		return errIndexLayout
	}
	if indent == 0 {
		if err := p.flush(); err != nil {
			return err
		}
		if bytes.Equal(line, []byte("---")) || bytes.HasPrefix(line, []byte("--- ")) || bytes.Equal(line, []byte("...")) {
			return nil
		}
		m := topKeyRE.FindSubmatch(line)
		if m == nil {
			return errIndexLayout
		}
		key, value := string(m[1]), string(m[2])
		p.inEntries = key == "entries"
		switch {
		case p.inEntries && value != "" && value[0] != '#':
			return errIndexLayout // entries in flow style
		case key == "apiVersion":
			var v string
			if err := yaml.Unmarshal([]byte(value), &v); err != nil {
				return errIndexLayout
			}
			p.idx.APIVersion = v
		}
		return nil
	}
	if !p.inEntries {
		return nil // the value of another top-level key (generated:, serverInfo:, …)
	}
	if p.chartIndent < 0 {
		p.chartIndent = indent
	}
	switch {
	case indent < p.chartIndent:
		return errIndexLayout
	case indent == p.chartIndent && trimmed[0] != '-':
		if err := p.flush(); err != nil {
			return err
		}
		m := chartKeyRE.FindSubmatch(line)
		if m == nil {
			return errIndexLayout // a key with an inline value, or one of many lines
		}
		if err := yaml.Unmarshal(m[1], &p.chart); err != nil {
			return errIndexLayout
		}
		if _, ok := p.idx.Entries[p.chart]; !ok {
			p.idx.Entries[p.chart] = nil
		}
		p.itemIndent = -1
	case p.chart == "":
		return errIndexLayout
	case trimmed[0] == '-' && (len(trimmed) == 1 || trimmed[1] == ' ') && (p.itemIndent < 0 || indent == p.itemIndent):
		if err := p.flush(); err != nil {
			return err
		}
		p.itemIndent = indent
		p.item = append([]byte(nil), raw...)
	case p.item == nil || indent <= p.itemIndent:
		return errIndexLayout
	default:
		p.item = append(p.item, raw...)
		if len(p.item) > maxIndexItemBytes {
			return fmt.Errorf("the entry of chart %q starting %q is larger than %d MiB, the most one chart version of an index may take",
				p.chart, firstLine(p.item), maxIndexItemBytes>>20)
		}
	}
	return nil
}

func firstLine(b []byte) string {
	line, _, _ := bytes.Cut(bytes.TrimSpace(b), []byte("\n"))
	if len(line) > 60 {
		line = line[:60]
	}
	return string(line)
}

// parseJSONIndex decodes a JSON index as a stream: the top-level object's keys one by one,
// and under "entries" each chart version alone, other keys' values skipped.
func parseJSONIndex(r io.Reader) (*chartIndex, error) {
	dec := json.NewDecoder(r)
	idx := &chartIndex{Entries: map[string][]*indexEntry{}}
	kept := 0
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil, err
		}
		switch key {
		case "apiVersion":
			if err := dec.Decode(&idx.APIVersion); err != nil {
				return nil, err
			}
		case "entries":
			if err := expectDelim(dec, '{'); err != nil {
				return nil, err
			}
			for dec.More() {
				tok, err := dec.Token()
				if err != nil {
					return nil, err
				}
				chart, _ := tok.(string)
				if err := expectDelim(dec, '['); err != nil {
					return nil, err
				}
				for dec.More() {
					e := &indexEntry{}
					if err := dec.Decode(e); err != nil {
						return nil, err
					}
					kept += keptPerEntry + len(e.Version) + len(e.Digest)
					for _, u := range e.URLs {
						kept += 32 + len(u)
					}
					if kept > maxIndexKeptBytes {
						return nil, fmt.Errorf("the index lists more than %d MiB of chart versions (at chart %q), the most one index may hold", maxIndexKeptBytes>>20, chart)
					}
					idx.Entries[chart] = append(idx.Entries[chart], e)
				}
				if _, err := dec.Token(); err != nil { // ]
					return nil, err
				}
			}
			if _, err := dec.Token(); err != nil { // }
				return nil, err
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, err
			}
		}
	}
	return idx, nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("expected %q in JSON index, found %v", want, tok)
	}
	return nil
}
