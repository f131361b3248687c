// Package reporttest checks, in tests, that a report.json follows the report's JSON Schema.
package reporttest

import (
	"bytes"
	"os"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

var compiled sync.Map // schema text → *jsonschema.Schema

// Compile compiles a JSON Schema (draft 2020-12 unless it says otherwise).
func Compile(schema []byte) (*jsonschema.Schema, error) {
	if s, ok := compiled.Load(string(schema)); ok {
		return s.(*jsonschema.Schema), nil
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("report.schema.json", doc); err != nil {
		return nil, err
	}
	s, err := c.Compile("report.schema.json")
	if err != nil {
		return nil, err
	}
	compiled.Store(string(schema), s)
	return s, nil
}

// Validate reports how report (JSON text) breaks schema, or nil.
func Validate(schema, report []byte) error {
	s, err := Compile(schema)
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(report))
	if err != nil {
		return err
	}
	return s.Validate(inst)
}

// Check fails t unless report (JSON text) follows schema.
func Check(t testing.TB, schema, report []byte) {
	t.Helper()
	if err := Validate(schema, report); err != nil {
		t.Errorf("report does not follow report.schema.json: %v\nreport: %.2000s", err, report)
	}
}

// CheckFile reads the report at path and fails t unless it follows schema and is
// readable by all (0644).
func CheckFile(t testing.TB, schema []byte, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("report: %v", err) // not Fatal: callers may be off the test's goroutine
		return
	}
	Check(t, schema, data)
	st, err := os.Stat(path)
	if err != nil {
		t.Errorf("report: %v", err)
		return
	}
	if perm := st.Mode().Perm(); perm != 0o644 {
		t.Errorf("report %s has mode %o, want 644", path, perm)
	}
}
