package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"

	goccy "github.com/goccy/go-yaml"
	goccyparser "github.com/goccy/go-yaml/parser"
)

// InputError is bad user input: a missing or unreadable file, malformed YAML, or an addon
// declaration that cannot work. The CLI maps every InputError to exit code 2.
type InputError struct {
	Pos    Position // file and line; a zero File means the error is about flags
	Column int      // 1-based column within Pos.Line; 0 when unknown
	Msg    string
	Err    error // underlying cause, if any
}

func (e *InputError) Error() string {
	if e.Pos.File == "" {
		return e.Msg
	}
	where := e.Pos.String()
	if e.Pos.Line > 0 && e.Column > 0 {
		where += ":" + strconv.Itoa(e.Column)
	}
	return where + ": " + e.Msg
}

func (e *InputError) Unwrap() error { return e.Err }

// IsInputError reports whether err is, or wraps, an *InputError.
func IsInputError(err error) bool {
	var ie *InputError
	return errors.As(err, &ie)
}

func inputErrorf(pos Position, format string, args ...any) *InputError {
	return &InputError{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// CheckFile returns an *InputError when path does not name a readable regular file; what
// says which kind of file it is ("values", "catalog", …) in the message.
func CheckFile(path, what string) error {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &InputError{Pos: Position{File: path}, Msg: what + " file does not exist", Err: err}
	case err != nil:
		return &InputError{Pos: Position{File: path}, Msg: "cannot read " + what + " file: " + err.Error(), Err: err}
	case st.IsDir():
		return &InputError{Pos: Position{File: path}, Msg: "is a directory, not a " + what + " file"}
	}
	return nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// yamlSyntaxError turns a yaml.v3 parse error of data into an *InputError at
// file:line:column. yaml.v3 reports a line at best (often the line where the enclosing
// block starts), so the position and wording come from goccy/go-yaml's parser, which names
// the offending token, whenever it also rejects data. lineOffset is the line of the file
// (whose content is fileData) just before data, when data was embedded in that file.
func yamlSyntaxError(file string, fileData, data []byte, lineOffset int, err error) *InputError {
	if line, col, msg, ok := locateSyntaxError(data); ok {
		// Columns within embedded text are shifted by the indentation it lost.
		col += firstColumn(fileData, line+lineOffset) - firstColumn(data, line)
		return &InputError{Pos: Position{File: file, Line: line + lineOffset}, Column: max(col, 1), Msg: "malformed YAML: " + msg, Err: err}
	}
	m := yamlLineRE.FindStringSubmatch(strings.SplitN(err.Error(), "\n", 2)[0])
	if m == nil || m[1] == "" {
		return &InputError{Pos: Position{File: file, Line: lineOffset}, Msg: "malformed YAML: " + strings.TrimPrefix(err.Error(), "yaml: "), Err: err}
	}
	line, _ := strconv.Atoi(m[1])
	return &InputError{
		Pos:    Position{File: file, Line: line + lineOffset},
		Column: firstColumn(fileData, line+lineOffset),
		Msg:    "malformed YAML: " + m[2],
		Err:    err,
	}
}

// locateSyntaxError finds the token goccy/go-yaml's parser rejects in data.
func locateSyntaxError(data []byte) (line, col int, msg string, ok bool) {
	_, err := goccyparser.ParseBytes(data, 0)
	var se *goccy.SyntaxError
	if !errors.As(err, &se) || se.Token == nil || se.Token.Position == nil || se.Token.Position.Line < 1 {
		return 0, 0, "", false
	}
	return se.Token.Position.Line, se.Token.Position.Column, se.Message, true
}

// firstColumn is the 1-based column of the first non-blank character on line (1-based).
func firstColumn(data []byte, line int) int {
	lines := bytes.Split(data, []byte("\n"))
	if line < 1 || line > len(lines) {
		return 1
	}
	l := lines[line-1]
	return len(l) - len(bytes.TrimLeft(l, " \t")) + 1
}
