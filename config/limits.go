package config

import (
	"bytes"
	"io"
	"os"
)

// Bounds on what one input file may cost. Values files, catalogs and chart-overrides.yaml
// list addons and a few values: a few KiB to a few hundred KiB in practice. Parsed YAML
// takes up to about fifty times its size in memory.
const (
	// MaxInputBytes is the largest input file read.
	MaxInputBytes = 4 << 20
	// MaxYAMLDepth is the deepest nesting of mappings, sequences and flow collections an
	// input may have; it is checked before the YAML is parsed.
	MaxYAMLDepth = 256
	// maxValueNodes bounds the values an input decodes to, aliases expanded.
	maxValueNodes = 1 << 20
)

// ReadInput reads an input file named by a flag (what says which kind, for messages) as
// every input is read: an *InputError when it is missing, unreadable, a directory, or
// larger than MaxInputBytes.
func ReadInput(path, what string) ([]byte, error) { return readInput(path, what) }

// readInput reads one input file, answering an *InputError for every way it can be wrong,
// a file past MaxInputBytes (or a device that never ends) included.
func readInput(path, what string) ([]byte, error) {
	if err := CheckFile(path, what); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, &InputError{Pos: Position{File: path}, Msg: "cannot read " + what + " file: " + err.Error(), Err: err}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxInputBytes+1))
	if err != nil {
		return nil, &InputError{Pos: Position{File: path}, Msg: "cannot read " + what + " file: " + err.Error(), Err: err}
	}
	if len(data) > MaxInputBytes {
		return nil, inputErrorf(Position{File: path}, "%s file is larger than %d MiB, the most an input file may hold", what, MaxInputBytes>>20)
	}
	return data, nil
}

// checkDepth returns the 1-based line (of data; lineOffset is added) where the nesting of
// data first goes deeper than MaxYAMLDepth, or 0. It reads the text as YAML's layout does:
// indentation opens block collections, each leading "- " or "? " opens one more, and
// brackets and braces outside quotes, comments and block scalars open flow collections.
// It never builds anything, so its cost is linear in the size of data.
func checkDepth(file string, data []byte, lineOffset int) error {
	s := depthScan{}
	for i, line := range bytes.Split(data, []byte("\n")) {
		if d := s.line(line); d > MaxYAMLDepth {
			return inputErrorf(Position{File: file, Line: i + 1 + lineOffset},
				"YAML nested deeper than %d levels (the most an input may nest)", MaxYAMLDepth)
		}
	}
	return nil
}

// depthScan is checkDepth's state between lines.
type depthScan struct {
	indents     []int // open block collections, by indentation
	flow        int   // open flow collections
	quote       byte  // the quote of a quoted scalar continued from a previous line
	blockScalar int   // indentation of the line that opened the block scalar being skipped
	inBlock     bool
}

// line scans one line and returns the deepest nesting seen on it.
func (s *depthScan) line(line []byte) int {
	indent := 0
	for indent < len(line) && line[indent] == ' ' {
		indent++
	}
	rest := bytes.TrimRight(line[indent:], " \t\r")
	if s.inBlock {
		if len(rest) == 0 || indent > s.blockScalar {
			return len(s.indents)
		}
		s.inBlock = false
	}
	if len(rest) == 0 || (s.quote == 0 && s.flow == 0 && rest[0] == '#') {
		return len(s.indents) + s.flow
	}
	if s.quote == 0 && s.flow == 0 {
		for len(s.indents) > 0 && s.indents[len(s.indents)-1] > indent {
			s.indents = s.indents[:len(s.indents)-1]
		}
		if len(s.indents) == 0 || s.indents[len(s.indents)-1] < indent {
			s.indents = append(s.indents, indent)
		}
	}
	depth := len(s.indents)
	deepest := depth + s.flow
	start := true  // at the start of a scalar: a quote or a bracket here is syntax
	prefix := true // only indicators so far: each "- " or "? " opens a collection
	var last []byte
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if s.quote != 0 {
			switch {
			case s.quote == '"' && c == '\\':
				i++
			case c == s.quote && s.quote == '\'' && i+1 < len(rest) && rest[i+1] == '\'':
				i++
			case c == s.quote:
				s.quote = 0
			}
			continue
		}
		switch {
		case c == '#' && (i == 0 || rest[i-1] == ' ' || rest[i-1] == '\t'):
			i = len(rest)
			continue
		case (c == '-' || c == '?') && prefix && s.flow == 0 && (i+1 == len(rest) || rest[i+1] == ' '):
			depth++
		case (c == '"' || c == '\'') && start:
			s.quote = c
		case (c == '[' || c == '{') && (start || s.flow > 0):
			s.flow++
		case (c == ']' || c == '}') && s.flow > 0:
			s.flow--
		}
		deepest = max(deepest, depth+s.flow)
		prefix = prefix && (c == '-' || c == '?' || c == ' ')
		start = c == ' ' || c == '\t' || c == '[' || c == '{' || c == ',' || c == '-' || c == '?' || (c == ':' && s.flow > 0)
		if c == ':' && (i+1 == len(rest) || rest[i+1] == ' ') {
			start = true
		}
		if c != ' ' && c != '\t' && (i == 0 || rest[i-1] == ' ' || rest[i-1] == '\t') {
			last = rest[i:]
		}
	}
	if s.quote == 0 && s.flow == 0 && isBlockScalarIndicator(last) {
		s.inBlock, s.blockScalar = true, indent
	}
	return deepest
}

// isBlockScalarIndicator reports whether tok (the last word of a line) is | or > with
// optional chomping and indentation indicators.
func isBlockScalarIndicator(tok []byte) bool {
	if len(tok) == 0 || (tok[0] != '|' && tok[0] != '>') {
		return false
	}
	for _, c := range tok[1:] {
		if c != '-' && c != '+' && (c < '1' || c > '9') {
			return false
		}
	}
	return true
}
