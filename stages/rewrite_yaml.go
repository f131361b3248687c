package stages

import (
	"bytes"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"
)

// editValuesYAML sets the scalars named by edits in a values.yaml document. It edits the
// bytes of each scalar in place, so every comment, key order and blank line stays; where a
// scalar cannot be edited in place (block scalar, flow collection, missing key) it falls
// back to re-encoding the yaml.v3 node tree, which keeps comments and order as well.
func editValuesYAML(data []byte, edits []ValueEdit) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if out, ok := editInPlace(data, &doc, edits); ok && verifyEdits(out, edits) == nil {
		return out, nil
	}
	if doc.Kind == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}}
	}
	for _, e := range edits {
		if err := setNode(doc.Content[0], e.Path, e.New); err != nil {
			return nil, fmt.Errorf("%s: %w", pathString(e.Path), err)
		}
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(detectIndent(data))
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	if err := verifyEdits(buf.Bytes(), edits); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type byteSpan struct {
	start, end int
	text       string
}

// editInPlace replaces each edited scalar's bytes; ok is false when one cannot be.
func editInPlace(data []byte, doc *yaml.Node, edits []ValueEdit) ([]byte, bool) {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, false
	}
	lines := lineStarts(data)
	var spans []byteSpan
	for _, e := range edits {
		key, val := locateNode(doc.Content[0], e.Path)
		if val == nil || val.Kind != yaml.ScalarNode {
			return nil, false
		}
		s, ok := scalarSpan(data, lines, key, val, e.New)
		if !ok {
			return nil, false
		}
		spans = append(spans, s)
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].start > spans[j].start })
	out := append([]byte{}, data...)
	for i, s := range spans {
		if i > 0 && s.end > spans[i-1].start {
			return nil, false
		}
		out = append(out[:s.start:s.start], append([]byte(s.text), out[s.end:]...)...)
	}
	return out, true
}

func lineStarts(data []byte) []int {
	starts := []int{0}
	for i, c := range data {
		if c == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

// offsetOf turns yaml.v3's 1-based line and (character) column into a byte offset.
func offsetOf(data []byte, lines []int, line, column int) (int, bool) {
	if line < 1 || line > len(lines) || column < 1 {
		return 0, false
	}
	off := lines[line-1]
	for c := 1; c < column; c++ {
		if off >= len(data) || data[off] == '\n' {
			return 0, false
		}
		_, size := utf8.DecodeRune(data[off:])
		off += size
	}
	return off, true
}

func lineEnd(data []byte, off int) int {
	if i := bytes.IndexByte(data[off:], '\n'); i >= 0 {
		return off + i
	}
	return len(data)
}

// scalarSpan finds the bytes of val and what to write instead.
func scalarSpan(data []byte, lines []int, key, val *yaml.Node, newValue any) (byteSpan, bool) {
	if val.Tag == "!!null" && val.Value == "" {
		return nullSpan(data, lines, key, newValue)
	}
	off, ok := offsetOf(data, lines, val.Line, val.Column)
	if !ok {
		return byteSpan{}, false
	}
	end := lineEnd(data, off)
	line := string(data[off:end])
	var n int
	switch val.Style {
	case yaml.DoubleQuotedStyle:
		n = quotedLen(line, '"')
	case yaml.SingleQuotedStyle:
		n = quotedLen(line, '\'')
	case 0:
		text := line
		if i := commentStart(text); i >= 0 {
			text = text[:i]
		}
		text = strings.TrimRight(text, " \t\r")
		if text != val.Value {
			return byteSpan{}, false
		}
		n = len(text)
	default:
		return byteSpan{}, false
	}
	if n <= 0 {
		return byteSpan{}, false
	}
	return byteSpan{start: off, end: off + n, text: scalarText(newValue, val.Style)}, true
}

// nullSpan places a value after "key:" where the value is left empty ("registry:  # x").
func nullSpan(data []byte, lines []int, key *yaml.Node, newValue any) (byteSpan, bool) {
	if key == nil || key.Style != 0 {
		return byteSpan{}, false
	}
	off, ok := offsetOf(data, lines, key.Line, key.Column)
	if !ok || !bytes.HasPrefix(data[off:], []byte(key.Value)) {
		return byteSpan{}, false
	}
	rest := data[off+len(key.Value) : lineEnd(data, off)]
	trimmed := bytes.TrimLeft(rest, " \t")
	if len(trimmed) == 0 || trimmed[0] != ':' {
		return byteSpan{}, false
	}
	after := strings.TrimSpace(string(trimmed[1:]))
	if after != "" && !strings.HasPrefix(after, "#") {
		return byteSpan{}, false
	}
	at := off + len(key.Value) + (len(rest) - len(trimmed)) + 1
	return byteSpan{start: at, end: at, text: " " + scalarText(newValue, 0)}, true
}

// quotedLen is the length of the quoted scalar at the start of line, or 0.
func quotedLen(line string, q byte) int {
	if len(line) == 0 || line[0] != q {
		return 0
	}
	for i := 1; i < len(line); i++ {
		switch {
		case q == '"' && line[i] == '\\':
			i++
		case line[i] == q && q == '\'' && i+1 < len(line) && line[i+1] == '\'':
			i++
		case line[i] == q:
			return i + 1
		}
	}
	return 0
}

func commentStart(s string) int {
	for i := 1; i < len(s); i++ {
		if s[i] == '#' && (s[i-1] == ' ' || s[i-1] == '\t') {
			return i - 1
		}
	}
	return -1
}

// scalarText writes an edit's new value: a boolean plain, anything else as a string.
func scalarText(v any, style yaml.Style) string {
	if b, ok := v.(bool); ok {
		return strconv.FormatBool(b)
	}
	return renderScalar(fmt.Sprint(v), style)
}

var plainScalar = regexp.MustCompile(`^[A-Za-z0-9_./][A-Za-z0-9_./@:+-]*$`)

// renderScalar writes s as a YAML string in the given style, quoting a plain scalar that
// would otherwise read as something else.
func renderScalar(s string, style yaml.Style) string {
	switch style {
	case yaml.SingleQuotedStyle:
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	case yaml.DoubleQuotedStyle:
		return strconv.Quote(s)
	}
	if plainScalar.MatchString(s) {
		var v any
		if err := sigsyaml.Unmarshal([]byte("v: "+s), &v); err == nil {
			if m, ok := v.(map[string]any); ok && m["v"] == s {
				return s
			}
		}
	}
	return strconv.Quote(s)
}

// locateNode follows path from a mapping; key is the mapping key node of the last step.
func locateNode(n *yaml.Node, path []string) (key, val *yaml.Node) {
	cur := n
	for _, k := range path {
		for cur != nil && cur.Kind == yaml.AliasNode {
			cur = cur.Alias
		}
		if cur == nil {
			return nil, nil
		}
		key = nil
		switch cur.Kind {
		case yaml.MappingNode:
			var next *yaml.Node
			for i := 0; i+1 < len(cur.Content); i += 2 {
				if cur.Content[i].Value == k {
					key, next = cur.Content[i], cur.Content[i+1]
				}
			}
			cur = next
		case yaml.SequenceNode:
			i, ok := listIndex(k, len(cur.Content))
			if !ok {
				return nil, nil
			}
			cur = cur.Content[i]
		default:
			return nil, nil
		}
	}
	for cur != nil && cur.Kind == yaml.AliasNode {
		cur = cur.Alias
	}
	return key, cur
}

// setNode sets path to v (a boolean, or else a string) in the node tree, adding missing
// mapping keys.
func setNode(n *yaml.Node, path []string, v any) error {
	cur := n
	for i, k := range path {
		for cur.Kind == yaml.AliasNode {
			cur = cur.Alias
		}
		last := i == len(path)-1
		var next *yaml.Node
		switch cur.Kind {
		case yaml.MappingNode:
			for j := 0; j+1 < len(cur.Content); j += 2 {
				if cur.Content[j].Value == k {
					next = cur.Content[j+1]
				}
			}
			if next == nil || (!last && next.Kind == yaml.ScalarNode && next.Tag == "!!null") {
				if next == nil {
					next = &yaml.Node{}
					cur.Content = append(cur.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}, next)
				}
				if !last {
					*next = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
				}
			}
		case yaml.SequenceNode:
			j, ok := listIndex(k, len(cur.Content))
			if !ok {
				return fmt.Errorf("no list element %s", k)
			}
			next = cur.Content[j]
		default:
			return fmt.Errorf("%s is not a map or list", pathString(path[:i]))
		}
		cur = next
	}
	style := cur.Style & (yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle)
	tag, s := "!!str", fmt.Sprint(v)
	if b, ok := v.(bool); ok {
		tag, s, style = "!!bool", strconv.FormatBool(b), 0
	}
	*cur = yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: s, Style: style,
		HeadComment: cur.HeadComment, LineComment: cur.LineComment, FootComment: cur.FootComment}
	return nil
}

// verifyEdits reads the document the way Helm does and checks every edit took.
func verifyEdits(data []byte, edits []ValueEdit) error {
	values := map[string]any{}
	if err := sigsyaml.Unmarshal(data, &values); err != nil {
		return fmt.Errorf("edited values do not parse: %w", err)
	}
	for _, e := range edits {
		if got := lookupPath(values, e.Path); !reflect.DeepEqual(got, e.New) {
			return fmt.Errorf("%s reads %v after the edit, want %v", pathString(e.Path), got, e.New)
		}
	}
	return nil
}

// detectIndent guesses the document's indentation (the first indented key line).
func detectIndent(data []byte) int {
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimLeft(line, " ")
		if trimmed == "" || strings.HasPrefix(trimmed, "#") || strings.HasPrefix(trimmed, "-") {
			continue
		}
		if n := len(line) - len(trimmed); n > 0 {
			if n > 8 {
				return 2
			}
			return n
		}
	}
	return 2
}
