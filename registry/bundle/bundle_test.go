package bundle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

type testBlob struct {
	b    Blob
	data []byte
}

func makeBlobs(sizes ...int) []testBlob {
	var out []testBlob
	for i, n := range sizes {
		data := bytes.Repeat([]byte{byte('a' + i)}, n)
		sum := sha256.Sum256(data)
		out = append(out, testBlob{Blob{Digest: "sha256:" + hex.EncodeToString(sum[:]), Size: int64(n)}, data})
	}
	return out
}

func opener(blobs []testBlob, failAt string, failAfter int) OpenBlob {
	return func(_ context.Context, b Blob) (io.ReadCloser, error) {
		for _, tb := range blobs {
			if tb.b.Digest == b.Digest {
				var r io.Reader = bytes.NewReader(tb.data)
				if b.Digest == failAt {
					r = io.MultiReader(io.LimitReader(r, int64(failAfter)), errReader{})
				}
				return io.NopCloser(r), nil
			}
		}
		return nil, errors.New("unknown blob")
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("no space left on device") }

// TestPlanPartsBounds: parts never exceed the size; a blob bigger than it is alone.
func TestPlanPartsBounds(t *testing.T) {
	tbs := makeBlobs(10000, 30000, 200000, 5000, 40000)
	var blobs []Blob
	for _, tb := range tbs {
		blobs = append(blobs, tb.b)
	}
	parts := PlanParts(blobs, 64<<10)
	total := 0
	for _, p := range parts {
		total += len(p.Blobs)
		if p.Oversized != (len(p.Blobs) == 1 && p.Blobs[0].Size == 200000) {
			t.Errorf("part %d: oversized %v with %d blobs", p.N, p.Oversized, len(p.Blobs))
		}
	}
	if total != len(blobs) || len(parts) != 3 {
		t.Errorf("%d parts holding %d blobs: %+v", len(parts), total, parts)
	}
	dir := t.TempDir()
	for _, p := range parts {
		got, _, err := WritePart(context.Background(), dir, "id", p, opener(tbs, "", 0), 4)
		if err != nil {
			t.Fatal(err)
		}
		if got.Size > 64<<10 && !p.Oversized {
			t.Errorf("part %d is %d bytes, over 64KiB", p.N, got.Size)
		}
		data, err := os.ReadFile(filepath.Join(dir, got.File))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		side, _ := os.ReadFile(filepath.Join(dir, got.File) + ".sha256")
		if got.SHA256 != "sha256:"+hex.EncodeToString(sum[:]) || got.Size != int64(len(data)) || !strings.HasPrefix(string(side), hex.EncodeToString(sum[:])+"  ") {
			t.Errorf("part %d: recorded %s, %d bytes, sidecar %q; the file is sha256:%x, %d bytes", p.N, got.SHA256, got.Size, side, sum, len(data))
		}
		if s := ScanPart(filepath.Join(dir, got.File)); s.Err != nil || len(s.Entries) != len(p.Blobs) {
			t.Errorf("part %d does not scan: %v, %d entries", p.N, s.Err, len(s.Entries))
		}
	}
}

// TestWritePartFailureResumes: a write failing in the middle of a blob (a full disk)
// leaves no part under its final name and a partial file cut back to its last whole blob;
// the rerun writes only the rest and the part verifies.
func TestWritePartFailureResumes(t *testing.T) {
	tbs := makeBlobs(3000, 5000, 7000)
	p := PlannedPart{N: 1}
	for _, tb := range tbs {
		p.Blobs = append(p.Blobs, tb.b)
	}
	dir := t.TempDir()
	_, _, err := WritePart(context.Background(), dir, "id", p, opener(tbs, tbs[1].b.Digest, 2000), 4)
	if err == nil || !strings.Contains(err.Error(), "part-0001.tar.partial") || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("failed write: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, PartFile(1))); err == nil {
		t.Fatal("a failed write left a part under its final name")
	}
	s := ScanPart(filepath.Join(dir, PartFile(1)) + ".partial")
	if len(s.Entries) != 1 {
		t.Fatalf("the partial part holds %d whole blobs, want 1", len(s.Entries))
	}
	// A kill leaves no chance to cut the file back: a torn entry follows the whole one.
	f, err := os.OpenFile(filepath.Join(dir, PartFile(1))+".partial", os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(bytes.Repeat([]byte{7}, 700)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	got, st, err := WritePart(context.Background(), dir, "id", p, opener(tbs, "", 0), 4)
	if err != nil {
		t.Fatal(err)
	}
	if st.Kept != 1 || st.Written != 2 {
		t.Errorf("rerun kept %d and wrote %d blobs, want 1 and 2", st.Kept, st.Written)
	}
	if s := ScanPart(filepath.Join(dir, got.File)); s.Err != nil || s.SHA256 != got.SHA256 || len(s.Entries) != 3 {
		t.Errorf("resumed part: %v, %d entries", s.Err, len(s.Entries))
	}
	// A third run finds the part complete and writes nothing.
	_, st, err = WritePart(context.Background(), dir, "id", p, opener(nil, "", 0), 4)
	if err != nil || !st.Reused || st.Written != 0 {
		t.Errorf("complete part rewritten: %+v %v", st, err)
	}
}

// TestReadManifestErrors names the file for each refusal.
func TestReadManifestErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ body, want string }{
		{`{"hello": 1}`, "not an airgap-charts bundle manifest"},
		{`{"schema_version": 7, "bundle_id": "x"}`, "bundle schema 7 is newer"},
		{`not json`, "not an airgap-charts bundle manifest"},
	} {
		if err := os.WriteFile(filepath.Join(dir, ManifestFile), []byte(c.body), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ReadManifest(dir)
		if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, ManifestFile)+": ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", c.body, err)
		}
	}
}

// A part whose blobs are digested at once reports the first damaged blob in the part's
// order, and the entries before it only, whichever digest finishes first; with the whole
// file's digest asked, that digest is the file's.
func TestScanPartNamesTheFirstDamagedBlob(t *testing.T) {
	tbs := makeBlobs(40000, 3000, 50000, 2000, 60000, 1000)
	p := PlannedPart{N: 1}
	for _, tb := range tbs {
		p.Blobs = append(p.Blobs, tb.b)
	}
	dir := t.TempDir()
	got, _, err := WritePart(context.Background(), dir, "id", p, opener(tbs, "", 0), 4)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, got.File)
	good := ScanPart(path)
	if good.Err != nil || len(good.Entries) != len(tbs) || good.SHA256 != got.SHA256 {
		t.Fatalf("intact part: %v, %d entries, %s (recorded %s)", good.Err, len(good.Entries), good.SHA256, got.SHA256)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Damage the third and the fifth blob: the third is named, two entries come back.
	for _, i := range []int{2, 4} {
		data[good.Entries[i].Offset+good.Entries[i].Size/2] ^= 0xff
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, whole := range []bool{true, false} {
		s := scanPart(path, whole)
		if s.Err == nil || !strings.Contains(s.Err.Error(), tbs[2].b.Digest+" is corrupt") {
			t.Errorf("whole %v: error %v, want blob %s named corrupt", whole, s.Err, tbs[2].b.Digest)
		}
		if len(s.Entries) != 2 || s.End != good.Entries[1].Offset+roundBlock(good.Entries[1].Size) {
			t.Errorf("whole %v: %d entries ending at %d, want the 2 before the damage", whole, len(s.Entries), s.End)
		}
		sum := sha256.Sum256(data)
		if want := map[bool]string{true: "sha256:" + hex.EncodeToString(sum[:]), false: ""}[whole]; s.SHA256 != want {
			t.Errorf("whole %v: file digest %q, want %q", whole, s.SHA256, want)
		}
	}
}

// Small blobs are read whole as soon as they are open: their transfers overlap one another
// and the writes of the blobs before them, instead of each starting only when the writer
// reaches it. Each read is held until a second one is under way (or a generous deadline
// passes), so the test sees the overlap without measuring any time.
func TestWritePartReadsSmallBlobsAhead(t *testing.T) {
	tbs := makeBlobs(3000, 4000, 5000, 6000)
	p := PlannedPart{N: 1}
	for _, tb := range tbs {
		p.Blobs = append(p.Blobs, tb.b)
	}
	g := registrytest.NewOverlap()
	open := func(ctx context.Context, b Blob) (io.ReadCloser, error) {
		rc, err := opener(tbs, "", 0)(ctx, b)
		if err != nil {
			return nil, err
		}
		return &gatedReader{rc: rc, g: g}, nil
	}
	dir := t.TempDir()
	got, _, err := WritePart(context.Background(), dir, "id", p, open, 4)
	if err != nil {
		t.Fatal(err)
	}
	if s := ScanPart(filepath.Join(dir, got.File)); s.Err != nil || len(s.Entries) != len(tbs) {
		t.Fatalf("part: %v, %d entries", s.Err, len(s.Entries))
	}
	if most := g.Most(); most < 2 {
		t.Fatalf("at most %d blob read at once with 4 read ahead: their transfers do not overlap", most)
	}
}

// A source whose client lets only two streams be open at once (go-containerregistry's
// jobs), reading ahead eight, with blobs too large to hold in memory among small ones: the
// part is written whole. Were a large blob opened ahead and left unread, the blob before it
// could wait for a slot that the unread one holds, for ever.
func TestWritePartNeverHoldsAStreamAheadOfTheWriter(t *testing.T) {
	large := int(prefetchBuffer/8) + 1
	tbs := makeBlobs(1000, large, 2000, large, 3000, large, large, 4000, 5000, large)
	p := PlannedPart{N: 1}
	for _, tb := range tbs {
		p.Blobs = append(p.Blobs, tb.b)
	}
	jobs := make(chan struct{}, 2)
	open := func(ctx context.Context, b Blob) (io.ReadCloser, error) {
		select {
		case jobs <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		rc, err := opener(tbs, "", 0)(ctx, b)
		if err != nil {
			<-jobs
			return nil, err
		}
		return &slotReader{ReadCloser: rc, release: func() { <-jobs }}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a bound on failure, not a wait
	defer cancel()
	dir := t.TempDir()
	got, st, err := WritePart(ctx, dir, "id", p, open, 8)
	if err != nil {
		t.Fatalf("write: %v (a context deadline here: an open waited for a slot an unread stream held)", err)
	}
	if s := ScanPart(filepath.Join(dir, got.File)); s.Err != nil || len(s.Entries) != len(tbs) || st.Written != len(tbs) {
		t.Fatalf("part: %v, %d entries, %d written", s.Err, len(s.Entries), st.Written)
	}
}

type slotReader struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

func (r *slotReader) Close() error {
	r.once.Do(r.release)
	return r.ReadCloser.Close()
}

// gatedReader enters g at its first read and leaves it at the end of its stream.
type gatedReader struct {
	rc      io.ReadCloser
	g       *registrytest.Overlap
	started bool
	done    bool
}

func (r *gatedReader) Read(p []byte) (int, error) {
	if !r.started {
		r.started = true
		r.g.Enter()
	}
	n, err := r.rc.Read(p)
	if err != nil && !r.done {
		r.done = true
		r.g.Leave()
	}
	return n, err
}

func (r *gatedReader) Close() error { return r.rc.Close() }
