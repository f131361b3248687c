package engine

import (
	"encoding/json"
	"os"
	"sort"
	"strings"
	"testing"
)

// TestReadmeDocumentsTheReport: every field the report schema describes, and every value
// of its enumerations (result, status, chart_result…), is named in the README.
func TestReadmeDocumentsTheReport(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var schema any
	if err := json.Unmarshal(ReportSchema, &schema); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if props, ok := x["properties"].(map[string]any); ok {
				for k := range props {
					names[k] = true
				}
			}
			if enum, ok := x["enum"].([]any); ok {
				for _, e := range enum {
					names[e.(string)] = true
				}
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(schema)
	var missing []string
	for n := range names {
		if !strings.Contains(string(readme), "`"+n+"`") {
			missing = append(missing, n)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("the README's report section does not name %v", missing)
	}
	if len(names) < 60 {
		t.Errorf("only %d names found in the schema", len(names))
	}
}
