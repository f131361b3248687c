package bundle

import (
	"archive/tar"
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"
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

// countingReader counts the bytes read through it and hashes them.
type countingReader struct {
	r io.Reader
	n int64
	h hash.Hash
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.h != nil {
		c.h.Write(p[:n])
	}
	return n, err
}

// ScanPart reads a part file once: every blob entry is digest-checked, the listing read and
// the file's sha256 computed. A damaged part still returns the entries before the damage.
func ScanPart(path string) *PartScan { return scanPart(path, true) }

// scanPart is ScanPart; without whole, the file's sha256 is not computed (SHA256 empty):
// every byte a blob is read from is digest-checked anyway, and the listing with it.
func scanPart(path string, whole bool) *PartScan {
	s := &PartScan{File: path}
	f, err := os.Open(path)
	if err != nil {
		s.Err = err
		return s
	}
	defer f.Close()
	cr := &countingReader{r: bufio.NewReaderSize(f, 1<<20)}
	if whole {
		cr.h = sha256.New()
	}
	tr := tar.NewReader(cr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			s.Err = fmt.Errorf("entry after offset %d: %w", s.End, err)
			break
		}
		if hdr.Name == PartListingName {
			var l PartListing
			data, err := io.ReadAll(io.LimitReader(tr, 64<<20))
			if err == nil {
				err = json.Unmarshal(data, &l)
			}
			if err != nil {
				s.Err = fmt.Errorf("listing: %w", err)
				break
			}
			s.Listing = &l
			continue
		}
		hexDigest, ok := strings.CutPrefix(hdr.Name, "blobs/sha256/")
		if !ok || hdr.Typeflag != tar.TypeReg || s.Listing != nil {
			s.Err = fmt.Errorf("unexpected entry %q", hdr.Name)
			break
		}
		off := cr.n
		h := sha256.New()
		n, err := io.Copy(h, tr)
		if err != nil || n != hdr.Size {
			s.Err = fmt.Errorf("blob sha256:%s truncated at %d of %d bytes", hexDigest, n, hdr.Size)
			break
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != hexDigest {
			s.Err = fmt.Errorf("blob sha256:%s is corrupt: its bytes digest to sha256:%s", hexDigest, got)
			break
		}
		s.Entries = append(s.Entries, Entry{Digest: "sha256:" + hexDigest, Offset: off, Size: n})
		s.End = off + roundBlock(n)
	}
	if s.Err == nil {
		if _, err := io.Copy(io.Discard, cr); err != nil {
			s.Err = err
		}
	}
	s.Size = cr.n
	if whole {
		s.SHA256 = "sha256:" + hex.EncodeToString(cr.h.Sum(nil))
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
