package bundle

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
)

// PartListing is a part's own listing, its last tar entry: the part can be checked and
// imported alone.
type PartListing struct {
	Bundle string       `json:"bundle_id"`
	N      int          `json:"part"`
	Blobs  []ListedBlob `json:"blobs"`
}

// ListedBlob is one blob of a part listing.
type ListedBlob struct {
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
}

// Entry is a blob inside a part file: its data is Size bytes at Offset.
type Entry struct {
	Digest string
	Offset int64
	Size   int64
}

// PartScan is what reading a part file found.
type PartScan struct {
	File    string
	Size    int64
	SHA256  string // "sha256:…" of the whole file
	Entries []Entry
	Listing *PartListing
	// End is the offset just after the last whole, digest-verified blob entry.
	End int64
	// Err is the first problem found (a truncated entry, a digest mismatch, no listing).
	Err error
}

// ScanPart reads a part file: every blob entry is digest-checked, the listing read and the
// file's sha256 computed. A damaged part still returns the entries before the damage.
func ScanPart(path string) *PartScan { return scanPart(path, true) }

// scanPart is ScanPart; without whole, the file's sha256 is not computed (SHA256 empty):
// every byte a blob is read from is digest-checked anyway, and the listing with it.
//
// The tar headers are read in order, each blob's bytes skipped; the blobs are then
// digested from their places in the file, on every core at once, and the whole file
// (with whole) beside them.
func scanPart(path string, whole bool) *PartScan {
	s := &PartScan{File: path}
	f, err := os.Open(path)
	if err != nil {
		s.Err = err
		return s
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		s.Err = err
		return s
	}
	s.Size = info.Size()
	var sum chan string
	if whole {
		sum = make(chan string, 1)
		go func() { sum <- digestSection(io.NewSectionReader(f, 0, s.Size)) }()
	}
	entries, walkErr := s.walk(f)
	bad, err := firstCorrupt(f, entries)
	if bad == len(entries) {
		err = walkErr
	}
	s.Entries, s.Err = entries[:bad], err
	if bad > 0 {
		last := entries[bad-1]
		s.End = last.Offset + roundBlock(last.Size)
	}
	if whole {
		s.SHA256 = <-sum
	}
	if s.Err == nil && s.Listing == nil {
		s.Err = errors.New("no part listing: the part is incomplete")
	}
	if s.Err == nil {
		if err := s.checkListing(); err != nil {
			s.Err = err
		}
	}
	return s
}

// walk reads the part's tar headers in order and its listing, skipping every blob's bytes
// (the tar reader seeks past them): the blob entries up to the first problem, and that
// problem.
func (s *PartScan) walk(f *os.File) ([]Entry, error) {
	var entries []Entry
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return entries, nil
		}
		end := int64(0)
		if len(entries) > 0 {
			last := entries[len(entries)-1]
			end = last.Offset + roundBlock(last.Size)
		}
		if err != nil {
			return entries, fmt.Errorf("entry after offset %d: %w", end, err)
		}
		if hdr.Name == PartListingName {
			var l PartListing
			data, err := io.ReadAll(io.LimitReader(tr, 64<<20))
			if err == nil {
				err = json.Unmarshal(data, &l)
			}
			if err != nil {
				return entries, fmt.Errorf("listing: %w", err)
			}
			s.Listing = &l
			continue
		}
		hexDigest, ok := strings.CutPrefix(hdr.Name, "blobs/sha256/")
		if !ok || hdr.Typeflag != tar.TypeReg || s.Listing != nil {
			return entries, fmt.Errorf("unexpected entry %q", hdr.Name)
		}
		off, err := f.Seek(0, io.SeekCurrent) // the header read, the blob's bytes start here
		if err != nil {
			return entries, err
		}
		entries = append(entries, Entry{Digest: "sha256:" + hexDigest, Offset: off, Size: hdr.Size})
	}
}

// firstCorrupt digests every entry from its place in f, on every core at once: the index
// of the first entry whose bytes are short or do not match its digest, with why; len(entries)
// and nil when there is none.
func firstCorrupt(f *os.File, entries []Entry) (int, error) {
	errs := make([]error, len(entries))
	var next atomic.Int64
	var g errgroup.Group
	for range min(runtime.GOMAXPROCS(0), len(entries)) {
		g.Go(func() error {
			buf := make([]byte, 256<<10)
			h := sha256.New()
			for i := int(next.Add(1) - 1); i < len(entries); i = int(next.Add(1) - 1) {
				e := entries[i]
				h.Reset()
				n, err := io.CopyBuffer(h, io.NewSectionReader(f, e.Offset, e.Size), buf)
				switch got := "sha256:" + hex.EncodeToString(h.Sum(nil)); {
				case err != nil || n != e.Size:
					errs[i] = fmt.Errorf("blob %s truncated at %d of %d bytes", e.Digest, n, e.Size)
				case got != e.Digest:
					errs[i] = fmt.Errorf("blob %s is corrupt: its bytes digest to %s", e.Digest, got)
				}
			}
			return nil
		})
	}
	_ = g.Wait()
	for i, err := range errs {
		if err != nil {
			return i, err
		}
	}
	return len(entries), nil
}

// digestSection is the sha256 of r's bytes ("sha256:…"); a read error leaves it short, so
// it matches no recorded digest.
func digestSection(r io.Reader) string {
	h := sha256.New()
	_, _ = io.Copy(h, r)
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

func (s *PartScan) checkListing() error {
	if len(s.Listing.Blobs) != len(s.Entries) {
		return fmt.Errorf("listing names %d blobs, the part holds %d", len(s.Listing.Blobs), len(s.Entries))
	}
	for i, b := range s.Listing.Blobs {
		if b.Digest != s.Entries[i].Digest || b.Size != s.Entries[i].Size {
			return fmt.Errorf("listing entry %d (%s) does not match the part's blob %s", i, b.Digest, s.Entries[i].Digest)
		}
	}
	return nil
}

func roundBlock(n int64) int64 { return (n + 511) / 512 * 512 }
