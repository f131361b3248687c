package stages

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
)

// DefaultMaxArchiveBytes is how much a chart archive may decompress to by default.
const DefaultMaxArchiveBytes int64 = 50 << 20

// DefaultMaxArchiveEntries is how many entries (files, directories and headers of their
// own) a chart archive may hold, subchart archives included: the largest public charts
// hold a few hundred files.
const DefaultMaxArchiveEntries = 10000

// maxEntryName is the longest entry name accepted (Linux's PATH_MAX).
const maxEntryName = 4096

// ErrArchiveTooLarge is returned for an archive that decompresses past the limit, or that
// holds more than DefaultMaxArchiveEntries entries.
var ErrArchiveTooLarge = errors.New("chart archive decompresses past the size limit")

// ErrUnsafeArchive is returned for an archive entry that would land outside the chart
// directory: a parent reference, an absolute path or a link.
var ErrUnsafeArchive = errors.New("chart archive entry escapes the chart directory")

// LoadChartArchive loads a chart from a .tgz in memory, refusing what is not gzip, entries
// that escape the chart directory (../, absolute paths, symbolic and hard links) and
// archives that decompress past limit bytes (0: DefaultMaxArchiveBytes) or hold more than
// DefaultMaxArchiveEntries entries, charts nested in charts/*.tgz included. Every byte of
// the decompressed tar stream counts, headers and padding as well as file contents, so an
// archive of empty entries costs what its headers take. The files are then loaded with
// Helm's loader.
func LoadChartArchive(data []byte, limit int64) (*chart.Chart, error) {
	if limit <= 0 {
		limit = DefaultMaxArchiveBytes
	}
	b := &archiveBudget{bytes: limit, limit: limit, entries: DefaultMaxArchiveEntries}
	files, err := readArchive(data, b)
	if err != nil {
		return nil, err
	}
	ch, err := loader.LoadFiles(files)
	if err != nil {
		return nil, fmt.Errorf("loading chart: %w", err)
	}
	if err := ch.Validate(); err != nil {
		return nil, fmt.Errorf("invalid chart: %w", err)
	}
	return ch, nil
}

// archiveBudget is what is left to decompress and to list of one chart archive and the
// archives nested in it.
type archiveBudget struct {
	bytes, limit int64
	entries      int
}

func (b *archiveBudget) tooLarge(at string) error {
	return fmt.Errorf("%w of %d bytes (at %q)", ErrArchiveTooLarge, b.limit, at)
}

// budgetReader charges every byte read to b, failing once it is spent.
type budgetReader struct {
	r    io.Reader
	b    *archiveBudget
	over bool
}

func (r *budgetReader) Read(p []byte) (int, error) {
	if int64(len(p)) > r.b.bytes+1 {
		p = p[:r.b.bytes+1]
	}
	n, err := r.r.Read(p)
	r.b.bytes -= int64(n)
	if r.b.bytes < 0 {
		r.over = true
		return n, ErrArchiveTooLarge
	}
	return n, err
}

// maxPresizedEntry is the largest entry body readArchive allocates for up front.
const maxPresizedEntry = 8 << 20

// readArchive decompresses a chart archive into files named relative to the chart
// directory, charging every decompressed byte and every entry to b.
func readArchive(data []byte, b *archiveBudget) ([]*loader.BufferedFile, error) {
	if len(data) < 3 || !bytes.HasPrefix(data, []byte{0x1f, 0x8b, 0x08}) {
		return nil, fmt.Errorf("not a gzip-compressed chart archive (starts with %q)", printablePrefix(data))
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("not a gzip-compressed chart archive: %w", err)
	}
	defer zr.Close()
	stream := &budgetReader{r: zr, b: b}
	tr := tar.NewReader(stream)
	var files []*loader.BufferedFile
	top, last := "", ""
	for {
		hd, err := tr.Next()
		if err == io.EOF {
			break
		}
		if stream.over {
			return nil, b.tooLarge(last)
		}
		if err != nil {
			return nil, fmt.Errorf("reading chart archive: %w", err)
		}
		last = hd.Name
		if len(hd.Name) > maxEntryName {
			return nil, fmt.Errorf("%w: an entry name of %d bytes (starting %q), longer than %d", ErrUnsafeArchive, len(hd.Name), hd.Name[:64], maxEntryName)
		}
		if b.entries--; b.entries < 0 {
			return nil, fmt.Errorf("%w: more than %d entries (at %q)", ErrArchiveTooLarge, DefaultMaxArchiveEntries, hd.Name)
		}
		switch hd.Typeflag {
		case tar.TypeXGlobalHeader, tar.TypeXHeader, tar.TypeDir:
			continue
		case tar.TypeSymlink, tar.TypeLink:
			return nil, fmt.Errorf("%w: %q is a link to %q", ErrUnsafeArchive, hd.Name, hd.Linkname)
		case tar.TypeReg, tar.TypeRegA: //nolint:staticcheck // old archives use TypeRegA
		default:
			return nil, fmt.Errorf("%w: %q is not a regular file (type %q)", ErrUnsafeArchive, hd.Name, hd.Typeflag)
		}
		rel, err := entryPath(hd.Name, &top)
		if err != nil {
			return nil, err
		}
		if hd.Size > b.bytes {
			return nil, b.tooLarge(hd.Name)
		}
		var buf bytes.Buffer
		// Sized from the header, so the body is not copied as the buffer grows; capped, so
		// a header alone cannot make a large allocation.
		buf.Grow(int(min(max(hd.Size, 0), maxPresizedEntry)) + bytes.MinRead)
		if _, err := io.Copy(&buf, tr); err != nil {
			if stream.over {
				return nil, b.tooLarge(hd.Name)
			}
			return nil, fmt.Errorf("reading %q from chart archive: %w", hd.Name, err)
		}
		body := bytes.TrimPrefix(buf.Bytes(), []byte("\xEF\xBB\xBF"))
		if isNestedChart(rel) {
			// Helm loads charts/*.tgz itself; check them first under the same rules and budget.
			if _, err := readArchive(body, b); err != nil {
				return nil, fmt.Errorf("subchart archive %q: %w", rel, err)
			}
		}
		files = append(files, &loader.BufferedFile{Name: rel, Data: body})
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("chart archive holds no files")
	}
	return files, nil
}

// entryPath strips the archive's top directory (the chart name) from an entry name and
// refuses names that are absolute, climb out, or sit under a second top directory.
func entryPath(raw string, top *string) (string, error) {
	name := strings.ReplaceAll(raw, "\\", "/")
	if path.IsAbs(name) || (len(name) > 1 && name[1] == ':') {
		return "", fmt.Errorf("%w: %q is an absolute path", ErrUnsafeArchive, raw)
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", fmt.Errorf("%w: %q refers to a parent directory", ErrUnsafeArchive, raw)
		}
	}
	clean := path.Clean(name)
	first, rest, ok := strings.Cut(clean, "/")
	if !ok || rest == "" {
		return "", fmt.Errorf("%w: %q is outside the chart directory", ErrUnsafeArchive, raw)
	}
	if *top == "" {
		*top = first
	} else if first != *top {
		return "", fmt.Errorf("%w: %q is outside the chart directory %q", ErrUnsafeArchive, raw, *top)
	}
	return rest, nil
}

func isNestedChart(rel string) bool {
	dir, file := path.Split(rel)
	return dir == "charts/" && (strings.HasSuffix(file, ".tgz") || strings.HasSuffix(file, ".tar.gz"))
}

func printablePrefix(data []byte) string {
	if len(data) > 16 {
		data = data[:16]
	}
	return strings.Map(func(r rune) rune {
		if r < 32 || r > 126 {
			return '.'
		}
		return r
	}, string(data))
}
