package bundle

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
)

// PartState is what checking one part found.
type PartState struct {
	Part Part
	Path string
	// Problem is "" for a good part, else why it cannot be used (missing, corrupt, from
	// another bundle).
	Problem string
	scan    *PartScan
}

// OK says whether the part can be used.
func (s PartState) OK() bool { return s.Problem == "" }

// Opened is a bundle with its parts checked: which blobs can be read, and where.
type Opened struct {
	Dir      string
	Manifest *Manifest
	Parts    []PartState
	blobs    map[string]Blob
	where    map[string]located
}

type located struct {
	path string
	e    Entry
}

// Open reads dir's bundle manifest and checks every part it lists (each read once, in
// parallel): its listing, and every blob against its digest. A part missing, corrupt or
// from another bundle is named and its blobs are unavailable; the others are usable.
func Open(dir string) (*Opened, error) { return open(dir, false) }

// OpenWhole is Open that also digests each part file whole against the sha256 the bundle
// manifest records for it (what a sha256sum of the transferred part says): bundle verify.
// An import needs only Open: every byte it serves is in a blob whose digest was checked.
func OpenWhole(dir string) (*Opened, error) { return open(dir, true) }

func open(dir string, whole bool) (*Opened, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	o := &Opened{Dir: dir, Manifest: m, blobs: m.BlobTable(), where: map[string]located{}}
	o.Parts = make([]PartState, len(m.Parts))
	var g errgroup.Group
	g.SetLimit(2)
	var mu sync.Mutex
	for i, p := range m.Parts {
		g.Go(func() error {
			st := checkPart(dir, m, p, whole)
			mu.Lock()
			o.Parts[i] = st
			mu.Unlock()
			return nil
		})
	}
	_ = g.Wait()
	for _, st := range o.Parts {
		if !st.OK() {
			continue
		}
		for _, e := range st.scan.Entries {
			o.where[e.Digest] = located{path: st.Path, e: e}
		}
	}
	return o, nil
}

func checkPart(dir string, m *Manifest, p Part, whole bool) PartState {
	path := filepath.Join(dir, filepath.FromSlash(p.File))
	st := PartState{Part: p, Path: path}
	if _, err := os.Stat(path); err != nil {
		st.Problem = "missing"
		if os.IsNotExist(err) {
			if _, perr := os.Stat(path + ".partial"); perr == nil {
				st.Problem = "missing (only a partial file: the export did not finish it)"
			}
		} else {
			st.Problem = err.Error()
		}
		return st
	}
	s := scanPart(path, whole)
	st.scan = s
	switch {
	case s.Listing != nil && s.Listing.Bundle != m.ID:
		st.Problem = fmt.Sprintf("from another bundle (%s, part %d), not this one (%s)", s.Listing.Bundle, s.Listing.N, m.ID)
	case s.Err != nil:
		st.Problem = "corrupt: " + s.Err.Error()
	case whole && s.SHA256 != p.SHA256:
		st.Problem = fmt.Sprintf("corrupt: its sha256 is %s, the bundle manifest says %s", s.SHA256, p.SHA256)
	case s.Listing.N != p.N:
		st.Problem = fmt.Sprintf("holds part %d, not %d", s.Listing.N, p.N)
	case !whole:
		if msg := m.partHolds(p.N, s.Entries); msg != "" {
			st.Problem = "not the part the bundle manifest lists: " + msg
		}
	}
	return st
}

// partHolds says "" when entries are exactly the blobs the manifest places in part n (what
// the part's recorded sha256 vouches for when it is computed), else what differs.
func (m *Manifest) partHolds(n int, entries []Entry) string {
	want := map[string]int64{}
	for _, b := range m.Blobs {
		if b.Part == n {
			want[b.Digest] = b.Size
		}
	}
	for _, e := range entries {
		size, ok := want[e.Digest]
		switch {
		case !ok:
			return fmt.Sprintf("it holds %s, which the manifest places elsewhere", e.Digest)
		case size != e.Size:
			return fmt.Sprintf("its %s is %d bytes, the manifest says %d", e.Digest, e.Size, size)
		}
		delete(want, e.Digest)
	}
	if len(want) > 0 {
		return fmt.Sprintf("it lacks %d blobs the manifest places in it", len(want))
	}
	return ""
}

// Problems lists the unusable parts, one line each ("parts/part-0002.tar: corrupt: …").
func (o *Opened) Problems() []string {
	var out []string
	for _, st := range o.Parts {
		if !st.OK() {
			out = append(out, fmt.Sprintf("%s: %s", st.Path, st.Problem))
		}
	}
	return out
}

// Has says whether blob d can be read from the bundle.
func (o *Opened) Has(d string) bool { _, ok := o.where[d]; return ok }

// Blob is d's record in the bundle manifest.
func (o *Opened) Blob(d string) (Blob, bool) { b, ok := o.blobs[d]; return b, ok }

// Waiting returns, for an image, the parts (numbers, ascending) it needs that are not
// usable; none when all its blobs can be read or are at the destination.
func (o *Opened) Waiting(img Image) []int {
	set := map[int]bool{}
	for _, d := range img.Blobs {
		b, ok := o.blobs[d]
		if !ok || b.Part == 0 || o.Has(d) {
			continue
		}
		set[b.Part] = true
	}
	var out []int
	for n := range set {
		out = append(out, n)
	}
	sort.Ints(out)
	return out
}

// PartNames spells part numbers as their files.
func PartNames(ns []int) string {
	var s []string
	for _, n := range ns {
		s = append(s, filepath.ToSlash(PartFile(n)))
	}
	return strings.Join(s, ", ")
}

// section opens blob d's bytes in its part.
func (o *Opened) section(d string) (*os.File, int64, int64, error) {
	l, ok := o.where[d]
	if !ok {
		return nil, 0, 0, os.ErrNotExist
	}
	f, err := os.Open(l.path)
	if err != nil {
		return nil, 0, 0, err
	}
	return f, l.e.Offset, l.e.Size, nil
}
