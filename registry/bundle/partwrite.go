package bundle

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// PlannedPart is one part to write: its blobs, in order.
type PlannedPart struct {
	N         int
	Blobs     []Blob
	Oversized bool
}

// entryCost is the tar bytes a blob entry takes: a header and the padded data.
func entryCost(size int64) int64 { return 512 + roundBlock(size) }

// listingCost bounds the bytes a listing entry of n blobs takes, and the tar's end blocks.
func listingCost(n int) int64 { return 512 + roundBlock(int64(256+160*n)) + 1024 }

// PlanParts cuts blobs, in order, into parts of at most partSize bytes (0: one part). A
// blob that does not fit a part alone gets a part of its own, marked Oversized.
func PlanParts(blobs []Blob, partSize int64) []PlannedPart {
	var parts []PlannedPart
	cur := PlannedPart{N: 1}
	used := int64(0)
	flush := func() {
		if len(cur.Blobs) > 0 {
			parts = append(parts, cur)
			cur = PlannedPart{N: cur.N + 1}
			used = 0
		}
	}
	for _, b := range blobs {
		cost := entryCost(b.Size)
		if partSize > 0 {
			if cost+listingCost(1) > partSize {
				flush()
				cur.Blobs, cur.Oversized = []Blob{b}, true
				flush()
				continue
			}
			if used+cost+listingCost(len(cur.Blobs)+1) > partSize {
				flush()
			}
		}
		cur.Blobs = append(cur.Blobs, b)
		used += cost
	}
	flush()
	return parts
}

// OpenBlob opens a blob's bytes (the source registry, or a manifest held in memory).
type OpenBlob func(ctx context.Context, b Blob) (io.ReadCloser, error)

// WriteStats counts what a part write did.
type WriteStats struct {
	Written, Kept int   // blobs written now; blobs found whole from an earlier run
	Bytes         int64 // blob bytes written now
	Reused        bool  // the complete part was already there
}

// WritePart makes dir/parts/part-N.tar hold p's blobs. A complete part from an earlier run
// with the same listing is kept as it is; a partial one (part-N.tar.partial) is kept up to
// its last whole, digest-verified blob, which must be the plan's, and continued. Only a
// finished part is renamed to its final name, so a killed or failed write never leaves a
// part that looks complete.
//
// Up to ahead blobs (at least 1) are read ahead of the one being written (prefetcher: the
// small ones), so their sources' round trips and transfers overlap; they are still written
// in order, one after the other.
func WritePart(ctx context.Context, dir, bundleID string, p PlannedPart, open OpenBlob, ahead int) (Part, WriteStats, error) {
	final := filepath.Join(dir, PartFile(p.N))
	partial := final + ".partial"
	var st WriteStats
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return Part{}, st, err
	}
	if s := ScanPart(final); s.Err == nil && sameListing(s.Listing, bundleID, p) {
		st.Reused, st.Kept = true, len(p.Blobs)
		return partOf(p, final, dir, s), st, writeSum(final, s.SHA256)
	} else if s.Err == nil || !errors.Is(s.Err, fs.ErrNotExist) {
		_ = os.Remove(final) // another run's part, or damaged: written again
	}
	keep, end := 0, int64(0)
	if s := ScanPart(partial); !errors.Is(s.Err, fs.ErrNotExist) {
		for keep < len(s.Entries) && keep < len(p.Blobs) && s.Entries[keep].Digest == p.Blobs[keep].Digest {
			end = s.Entries[keep].Offset + roundBlock(s.Entries[keep].Size)
			keep++
		}
	}
	f, err := os.OpenFile(partial, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return Part{}, st, fmt.Errorf("part %s: %w", partial, err)
	}
	defer f.Close()
	if err := f.Truncate(end); err != nil {
		return Part{}, st, fmt.Errorf("part %s: %w", partial, err)
	}
	// The file's sha256 is taken as it is written (the kept prefix read once), not by
	// reading the finished part back: its blobs were digest-checked on the way in, and a
	// read right after the write would come from the page cache, proving nothing more.
	sum := &countingWriter{h: sha256.New()}
	if _, err := io.CopyN(sum, f, end); err != nil {
		return Part{}, st, fmt.Errorf("part %s: %w", partial, err)
	}
	if _, err := f.Seek(end, io.SeekStart); err != nil {
		return Part{}, st, fmt.Errorf("part %s: %w", partial, err)
	}
	st.Kept = keep
	tw := tar.NewWriter(io.MultiWriter(f, sum))
	pf := prefetch(ctx, p.Blobs[keep:], open, ahead)
	defer pf.stop()
	for i, b := range p.Blobs[keep:] {
		if err := ctx.Err(); err != nil {
			return Part{}, st, err
		}
		n, err := writeEntry(tw, b, pf.next(i))
		if err != nil {
			// Back to the last whole blob: a rerun continues from there.
			_ = f.Truncate(end)
			return Part{}, st, fmt.Errorf("part %s: blob %s: %w", partial, b.Digest, err)
		}
		end += entryCost(b.Size)
		st.Written++
		st.Bytes += n
	}
	listing := PartListing{Bundle: bundleID, N: p.N}
	for _, b := range p.Blobs {
		listing.Blobs = append(listing.Blobs, ListedBlob{Digest: b.Digest, Size: b.Size})
	}
	data, _ := json.MarshalIndent(listing, "", " ")
	if err := tw.WriteHeader(header(PartListingName, int64(len(data)))); err != nil {
		return Part{}, st, fmt.Errorf("part %s: %w", partial, err)
	}
	if _, err := tw.Write(data); err != nil {
		return Part{}, st, fmt.Errorf("part %s: %w", partial, err)
	}
	if err := tw.Close(); err != nil {
		return Part{}, st, fmt.Errorf("part %s: %w", partial, err)
	}
	if err := f.Sync(); err != nil {
		return Part{}, st, fmt.Errorf("part %s: %w", partial, err)
	}
	if err := f.Close(); err != nil {
		return Part{}, st, fmt.Errorf("part %s: %w", partial, err)
	}
	if err := os.Rename(partial, final); err != nil {
		return Part{}, st, fmt.Errorf("part %s: %w", final, err)
	}
	s := &PartScan{File: final, Size: sum.n, SHA256: "sha256:" + hex.EncodeToString(sum.h.Sum(nil))}
	return partOf(p, final, dir, s), st, writeSum(final, s.SHA256)
}

// countingWriter hashes and counts what is written through it.
type countingWriter struct {
	h hash.Hash
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.h.Write(p)
	c.n += int64(len(p))
	return len(p), nil
}

func partOf(p PlannedPart, file, dir string, s *PartScan) Part {
	rel, _ := filepath.Rel(dir, file)
	return Part{N: p.N, File: filepath.ToSlash(rel), Size: s.Size, SHA256: s.SHA256, Blobs: len(p.Blobs), Oversized: p.Oversized}
}

func writeSum(file, sum string) error {
	line := strings.TrimPrefix(sum, "sha256:") + "  " + filepath.Base(file) + "\n"
	return os.WriteFile(file+".sha256", []byte(line), 0o644)
}

func sameListing(l *PartListing, bundleID string, p PlannedPart) bool {
	if l == nil || l.Bundle != bundleID || l.N != p.N || len(l.Blobs) != len(p.Blobs) {
		return false
	}
	for i, b := range l.Blobs {
		if b.Digest != p.Blobs[i].Digest {
			return false
		}
	}
	return true
}

func header(name string, size int64) *tar.Header {
	h := &tar.Header{Name: name, Size: size, Mode: 0o644, Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0), Format: tar.FormatUSTAR}
	if size >= 8<<30 {
		h.Format = tar.FormatPAX
	}
	return h
}

// writeEntry streams one opened blob into the tar, checking its size and digest.
func writeEntry(tw *tar.Writer, b Blob, o opened) (int64, error) {
	if o.err != nil {
		return 0, o.err
	}
	rc := o.rc
	defer rc.Close()
	hexDigest, ok := strings.CutPrefix(b.Digest, "sha256:")
	if !ok {
		return 0, fmt.Errorf("unsupported digest algorithm")
	}
	if err := tw.WriteHeader(header("blobs/sha256/"+hexDigest, b.Size)); err != nil {
		return 0, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tw, h), io.LimitReader(rc, b.Size+1))
	if err != nil {
		return n, err
	}
	if n != b.Size {
		return n, fmt.Errorf("source gave %d bytes, the manifest says %d", n, b.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != hexDigest {
		return n, fmt.Errorf("source bytes digest to sha256:%s", got)
	}
	return n, tw.Flush()
}

type opened struct {
	rc  io.ReadCloser
	err error
	// later: the blob is opened when the writer gets to it (too large to hold ahead).
	later bool
}

// prefetchBuffer bounds the bytes the blobs read ahead of the writer hold in memory.
const prefetchBuffer = 32 << 20

// prefetcher reads blobs ahead of the writer, at most ahead at once. A blob up to its share
// of prefetchBuffer (prefetchBuffer / ahead) is read whole as soon as it is open and its
// stream closed: its transfer overlaps the others' and the writes before it. A larger one
// is opened only when the writer gets to it and streamed as it is written. So the only
// stream left open and unread is the one being written: an open that waits for a fetch
// slot of the source's client (go-containerregistry's jobs) waits only for transfers that
// end on their own, never for a stream the writer has yet to reach.
type prefetcher struct {
	ctx      context.Context
	blobs    []Blob
	open     OpenBlob
	slots    []chan opened
	sem      chan struct{}
	cancel   context.CancelFunc
	consumed int
}

func prefetch(ctx context.Context, blobs []Blob, open OpenBlob, ahead int) *prefetcher {
	ctx, cancel := context.WithCancel(ctx)
	ahead = max(1, ahead)
	pf := &prefetcher{ctx: ctx, blobs: blobs, open: open, slots: make([]chan opened, len(blobs)), sem: make(chan struct{}, ahead), cancel: cancel}
	for i := range pf.slots {
		pf.slots[i] = make(chan opened, 1)
	}
	share := int64(prefetchBuffer / ahead)
	go func() {
		for i, b := range blobs {
			if b.Size > share {
				pf.slots[i] <- opened{later: true}
				continue
			}
			select {
			case pf.sem <- struct{}{}:
			case <-ctx.Done():
				for j := i; j < len(blobs); j++ {
					pf.slots[j] <- opened{err: ctx.Err()}
				}
				return
			}
			go func() {
				rc, err := open(ctx, b)
				if err == nil {
					rc, err = readWhole(rc, b.Size)
				}
				pf.slots[i] <- opened{rc: rc, err: err}
			}()
		}
	}()
	return pf
}

// readWhole reads rc whole (at most size+1 bytes: the writer checks the size and the
// digest) and closes it.
func readWhole(rc io.ReadCloser, size int64) (io.ReadCloser, error) {
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, size+1))
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

// next is blob i, open; the writer closes it.
func (pf *prefetcher) next(i int) opened {
	o := <-pf.slots[i]
	pf.consumed = i + 1
	if o.later {
		rc, err := pf.open(pf.ctx, pf.blobs[i])
		return opened{rc: rc, err: err}
	}
	<-pf.sem
	return o
}

// stop abandons the blobs not written and returns once every open it started has
// returned, each stream closed: nothing of a part's write outlives it.
func (pf *prefetcher) stop() {
	pf.cancel()
	for j := pf.consumed; j < len(pf.slots); j++ {
		if o := <-pf.slots[j]; o.rc != nil {
			o.rc.Close()
		}
	}
	pf.consumed = len(pf.slots)
}
