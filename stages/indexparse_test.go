package stages

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/repo"
)

// helmIndex is an index.yaml as Helm writes it, with what Helm reads back of it.
func helmIndex(t *testing.T) (yamlData, jsonData []byte, want map[string][]*indexEntry) {
	t.Helper()
	idx := repo.NewIndexFile()
	want = map[string][]*indexEntry{}
	for _, name := range []string{"web", "kube-state-metrics", "a.b_c", "zeta"} {
		for i := range 3 {
			v := fmt.Sprintf("1.%d.0", i)
			md := &chart.Metadata{APIVersion: "v2", Name: name, Version: v, Description: "line one\n# not a comment\n\nline four: with colon",
				Keywords: []string{"- dash", "[bracket]"}, Annotations: map[string]string{"x": "y: z"}, Maintainers: []*chart.Maintainer{{Name: "m"}}}
			digest := fmt.Sprintf("%064x", i+len(name))
			if err := idx.MustAdd(md, name+"-"+v+".tgz", "https://charts.example.com/sub", digest); err != nil {
				t.Fatal(err)
			}
		}
	}
	idx.SortEntries()
	p := filepath.Join(t.TempDir(), "index.yaml")
	if err := idx.WriteFile(p, 0o644); err != nil {
		t.Fatal(err)
	}
	yamlData, _ = os.ReadFile(p)
	loaded, err := repo.LoadIndexFile(p)
	if err != nil {
		t.Fatal(err)
	}
	for name, cvs := range loaded.Entries {
		for _, cv := range cvs {
			want[name] = append(want[name], &indexEntry{Version: cv.Version, URLs: cv.URLs, Digest: cv.Digest})
		}
	}
	jsonData, _ = json.Marshal(loaded)
	return yamlData, jsonData, want
}

// TestParseIndexReadsHelmsLayoutInParts: an index written by Helm is read one chart
// version at a time (not parsed whole), and yields what Helm itself reads of it; the same
// index as JSON, and in flow style, yields the same.
func TestParseIndexReadsHelmsLayoutInParts(t *testing.T) {
	yamlData, jsonData, want := helmIndex(t)
	parts, err := parseIndexInParts(bufio.NewReader(bytes.NewReader(yamlData)))
	if err != nil {
		t.Fatalf("Helm's layout not read in parts: %v", err)
	}
	if !reflect.DeepEqual(parts.Entries, want) || parts.APIVersion != "v1" {
		t.Fatalf("in parts:\n got %+v\nwant %+v", parts.Entries, want)
	}
	flow, _ := json.Marshal(map[string]any{"apiVersion": "v1", "entries": want})
	for name, data := range map[string][]byte{"yaml": yamlData, "json": jsonData, "yaml flow": append([]byte("# flow\n"), flow...)} {
		got, err := parseIndexBytes(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got.Entries, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", name, got.Entries, want)
		}
	}
}
