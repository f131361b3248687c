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

// ErrArchiveTooLarge is returned for an archive that decompresses past the limit.
var ErrArchiveTooLarge = errors.New("chart archive decompresses past the size limit")

// ErrUnsafeArchive is returned for an archive entry that would land outside the chart
// directory: a parent reference, an absolute path or a link.
var ErrUnsafeArchive = errors.New("chart archive entry escapes the chart directory")

// LoadChartArchive loads a chart from a .tgz in memory, refusing what is not gzip, entries
// that escape the chart directory (../, absolute paths, symbolic and hard links) and
// archives that decompress past limit bytes (0: DefaultMaxArchiveBytes), charts nested in
// charts/*.tgz included. The files are then loaded with Helm's loader.
func LoadChartArchive(data []byte, limit int64) (*chart.Chart, error) {
	if limit <= 0 {
		limit = DefaultMaxArchiveBytes
	}
	budget := limit
	files, err := readArchive(data, &budget, limit)
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

// readArchive decompresses a chart archive into files named relative to the chart
// directory, charging every decompressed byte to budget.
func readArchive(data []byte, budget *int64, limit int64) ([]*loader.BufferedFile, error) {
	if len(data) < 3 || !bytes.HasPrefix(data, []byte{0x1f, 0x8b, 0x08}) {
		return nil, fmt.Errorf("not a gzip-compressed chart archive (starts with %q)", printablePrefix(data))
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("not a gzip-compressed chart archive: %w", err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	var files []*loader.BufferedFile
	top := ""
	for {
		hd, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading chart archive: %w", err)
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
		if hd.Size > *budget {
			return nil, fmt.Errorf("%w of %d bytes (at %q)", ErrArchiveTooLarge, limit, hd.Name)
		}
		var buf bytes.Buffer
		n, err := io.Copy(&buf, io.LimitReader(tr, *budget+1))
		if err != nil {
			return nil, fmt.Errorf("reading %q from chart archive: %w", hd.Name, err)
		}
		if n > *budget {
			return nil, fmt.Errorf("%w of %d bytes (at %q)", ErrArchiveTooLarge, limit, hd.Name)
		}
		*budget -= n
		body := bytes.TrimPrefix(buf.Bytes(), []byte("\xEF\xBB\xBF"))
		if isNestedChart(rel) {
			// Helm loads charts/*.tgz itself; check them first under the same rules and budget.
			if _, err := readArchive(body, budget, limit); err != nil {
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
