package bundle

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// writeOnePart writes tbs as part 1 of bundle "id" in dir, and the manifest placing them there.
func writeOnePart(t *testing.T, dir string, tbs []testBlob) (Part, *Manifest) {
	t.Helper()
	p := PlannedPart{N: 1}
	for _, tb := range tbs {
		p.Blobs = append(p.Blobs, tb.b)
	}
	part, _, err := WritePart(context.Background(), dir, "id", p, opener(tbs, "", 0), 4)
	if err != nil {
		t.Fatal(err)
	}
	m := &Manifest{ID: "id", Parts: []Part{part}}
	for _, tb := range tbs {
		b := tb.b
		b.Part = 1
		m.Blobs = append(m.Blobs, b)
	}
	return part, m
}

// TestServeBlobWholeRangeAndHead: a blob read from a part is served whole (the bytes of
// its entry and nothing else, with its length), in ranges, and to HEAD, for every blob of
// a part holding several.
func TestServeBlobWholeRangeAndHead(t *testing.T) {
	tbs := makeBlobs(3000, 70000, 1)
	dir := t.TempDir()
	part, m := writeOnePart(t, dir, tbs)
	scan := ScanPart(filepath.Join(dir, part.File))
	if scan.Err != nil {
		t.Fatal(scan.Err)
	}
	o := &Opened{Dir: dir, Manifest: m, blobs: m.BlobTable(), where: map[string]located{}}
	for _, e := range scan.Entries {
		o.where[e.Digest] = located{path: filepath.Join(dir, part.File), e: e}
	}
	s := &Server{o: o}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serveBlob(w, r, r.URL.Path[1:], "application/octet-stream", false)
	}))
	defer srv.Close()
	get := func(method, digest string, header ...string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+"/"+digest, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, body
	}
	for _, tb := range tbs {
		resp, body := get(http.MethodGet, tb.b.Digest)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, tb.data) || resp.Header.Get("Content-Length") != strconv.Itoa(len(tb.data)) ||
			resp.Header.Get("Docker-Content-Digest") != tb.b.Digest {
			t.Errorf("GET %s: %d, %d bytes (want %d), length %q", tb.b.Digest, resp.StatusCode, len(body), len(tb.data), resp.Header.Get("Content-Length"))
		}
		resp, body = get(http.MethodHead, tb.b.Digest)
		if resp.StatusCode != http.StatusOK || len(body) != 0 || resp.Header.Get("Content-Length") != strconv.Itoa(len(tb.data)) {
			t.Errorf("HEAD %s: %d, %d bytes, length %q", tb.b.Digest, resp.StatusCode, len(body), resp.Header.Get("Content-Length"))
		}
	}
	big := tbs[1]
	resp, body := get(http.MethodGet, big.b.Digest, "Range", "bytes=100-199")
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, big.data[100:200]) {
		t.Errorf("range GET: %d, %d bytes", resp.StatusCode, len(body))
	}
	if resp, _ := get(http.MethodGet, "sha256:"+string(bytes.Repeat([]byte("0"), 64))); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a blob not in the bundle: %d", resp.StatusCode)
	}
}

// TestPartHolds: without the whole part's digest, a part is the manifest's only when it
// holds exactly the blobs the manifest places in it, at their sizes.
func TestPartHolds(t *testing.T) {
	m := &Manifest{Blobs: []Blob{{Digest: "sha256:a", Size: 1, Part: 1}, {Digest: "sha256:b", Size: 2, Part: 1}, {Digest: "sha256:c", Size: 3, Part: 2}}}
	for _, c := range []struct {
		name    string
		entries []Entry
		bad     bool
	}{
		{"exact", []Entry{{Digest: "sha256:b", Size: 2}, {Digest: "sha256:a", Size: 1}}, false},
		{"a blob of another part", []Entry{{Digest: "sha256:a", Size: 1}, {Digest: "sha256:b", Size: 2}, {Digest: "sha256:c", Size: 3}}, true},
		{"a blob short", []Entry{{Digest: "sha256:a", Size: 1}}, true},
		{"another size", []Entry{{Digest: "sha256:a", Size: 1}, {Digest: "sha256:b", Size: 5}}, true},
	} {
		if msg := m.partHolds(1, c.entries); (msg != "") != c.bad {
			t.Errorf("%s: %q", c.name, msg)
		}
	}
}

// TestCheckPartWholeAndByBlob: a byte changed in a blob makes the part corrupt either way;
// one changed in the padding after a blob (no blob's byte) is seen only by the whole
// part's digest (bundle verify), and the part stays usable for an import.
func TestCheckPartWholeAndByBlob(t *testing.T) {
	tbs := makeBlobs(3000, 5000)
	for _, where := range []string{"padding", "blob"} {
		dir := t.TempDir()
		part, m := writeOnePart(t, dir, tbs)
		if st := checkPart(dir, m, part, false); !st.OK() {
			t.Fatalf("intact part: %s", st.Problem)
		}
		path := filepath.Join(dir, part.File)
		e := ScanPart(path).Entries[0]
		off := e.Offset + e.Size + 10 // inside the 512-byte block the blob ends in
		if where == "blob" {
			off = e.Offset + e.Size/2
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		data[off] ^= 0xff
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		byBlob, whole := checkPart(dir, m, part, false), checkPart(dir, m, part, true)
		if !strings.Contains(whole.Problem, "corrupt") {
			t.Errorf("%s changed: the whole part's check says %q", where, whole.Problem)
		}
		if (where == "blob") == byBlob.OK() {
			t.Errorf("%s changed: the import's check says %q", where, byBlob.Problem)
		}
	}
}
