package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// tgz writes a gzip-compressed tar of the given headers (each with body, or Size zeros).
func tgz(t *testing.T, add func(tw *tar.Writer)) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	add(tw)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func tarFile(tw *tar.Writer, name, body string) {
	_ = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
	_, _ = tw.Write([]byte(body))
}

func tarZeros(tw *tar.Writer, name string, size int64) {
	_ = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg})
	_, _ = io.CopyN(tw, zeroReader{}, size)
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

const webChart = "apiVersion: v2\nname: web\nversion: 0.1.0\n"

// blockIndex is an index.yaml in Helm's layout listing web 0.1.0 and then what more adds.
func blockIndex(base, more string) string {
	return "apiVersion: v1\nentries:\n  web:\n  - name: web\n    version: 0.1.0\n    urls:\n    - " + base + "/web-0.1.0.tgz\n" + more
}

// hostileSource is a chart repository serving a malformed index.yaml or chart archive.
type hostileSource struct {
	name    string
	index   func(base string) io.Reader // nil: a good index
	archive func(t *testing.T) []byte   // nil: none needed
	want    string                      // in the error the run logs for the addon
}

func hostileSources() []hostileSource {
	str := func(s string) io.Reader { return strings.NewReader(s) }
	many := func(n int, typ byte) func(t *testing.T) []byte {
		return func(t *testing.T) []byte {
			return tgz(t, func(tw *tar.Writer) {
				tarFile(tw, "web/Chart.yaml", webChart)
				for i := range n {
					_ = tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("web/templates/f%d", i), Mode: 0o644, Typeflag: typ})
				}
			})
		}
	}
	return []hostileSource{
		{name: "archive of 30000 header-only entries", archive: many(30000, tar.TypeReg), want: "more than 10000 entries"},
		{name: "archive of 30000 directory entries", archive: many(30000, tar.TypeDir), want: "more than 10000 entries"},
		{name: "archive of 60 empty entries with headers of 900 KiB", archive: func(t *testing.T) []byte {
			return tgz(t, func(tw *tar.Writer) {
				tarFile(tw, "web/Chart.yaml", webChart)
				for i := range 60 { // the headers alone pass the 50 MiB budget
					_ = tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("web/f%d", i), Mode: 0o644, Typeflag: tar.TypeReg, Format: tar.FormatPAX,
						PAXRecords: map[string]string{"comment": strings.Repeat("a", 900<<10)}})
				}
			})
		}, want: "chart archive decompresses past the size limit of 52428800 bytes"},
		{name: "archive entry named with 900 KiB", archive: func(t *testing.T) []byte {
			return tgz(t, func(tw *tar.Writer) {
				tarFile(tw, "web/Chart.yaml", webChart)
				_ = tw.WriteHeader(&tar.Header{Name: "web/" + strings.Repeat("a", 900<<10), Mode: 0o644, Typeflag: tar.TypeReg})
			})
		}, want: "chart archive entry escapes the chart directory: an entry name of 921604 bytes"},
		{name: "archive decompressing to 60 MiB", archive: func(t *testing.T) []byte {
			return tgz(t, func(tw *tar.Writer) { tarFile(tw, "web/Chart.yaml", webChart); tarZeros(tw, "web/files/zeros", 60<<20) })
		}, want: "chart archive decompresses past the size limit of 52428800 bytes"},
		{name: "archive nesting a bomb in charts/", archive: func(t *testing.T) []byte {
			inner := tgz(t, func(tw *tar.Writer) {
				tarFile(tw, "sub/Chart.yaml", "apiVersion: v2\nname: sub\nversion: 1.0.0\n")
				tarZeros(tw, "sub/zeros", 60<<20)
			})
			return tgz(t, func(tw *tar.Writer) {
				tarFile(tw, "web/Chart.yaml", webChart)
				tarFile(tw, "web/charts/sub-1.0.0.tgz", string(inner))
			})
		}, want: "chart archive decompresses past the size limit"},
		{name: "archive with a symbolic link", archive: func(t *testing.T) []byte {
			return tgz(t, func(tw *tar.Writer) {
				tarFile(tw, "web/Chart.yaml", webChart)
				_ = tw.WriteHeader(&tar.Header{Name: "web/templates/x", Linkname: "/etc/passwd", Typeflag: tar.TypeSymlink})
			})
		}, want: `chart archive entry escapes the chart directory: "web/templates/x" is a link to "/etc/passwd"`},
		{name: "archive climbing out", archive: func(t *testing.T) []byte {
			return tgz(t, func(tw *tar.Writer) { tarFile(tw, "web/Chart.yaml", webChart); tarFile(tw, "web/../../evil", "x") })
		}, want: `"web/../../evil" refers to a parent directory`},
		{name: "archive with an absolute path", archive: func(t *testing.T) []byte {
			return tgz(t, func(tw *tar.Writer) { tarFile(tw, "/web/Chart.yaml", webChart) })
		}, want: `"/web/Chart.yaml" is an absolute path`},
		{name: "archive not gzip", archive: func(*testing.T) []byte { return []byte("PK\x03\x04 a zip file") }, want: "not a gzip-compressed chart archive"},
		{name: "archive cut short", archive: func(t *testing.T) []byte {
			a := tgz(t, func(tw *tar.Writer) { tarFile(tw, "web/Chart.yaml", webChart); tarZeros(tw, "web/files/z", 1<<20) })
			return a[:len(a)/2]
		}, want: "unexpected EOF"},
		{name: "index flow-style of 9 MiB", index: func(base string) io.Reader {
			return io.MultiReader(str("apiVersion: v1\nentries: {web: ["), str(strings.Repeat("{version: 0.0.1, urls: [x]}, ", 9<<20/28)), str("]}\n"))
		}, want: "index is not in the block layout Helm writes (one chart per key, one version per list item), and at most 8 MiB of such an index can be read"},
		{name: "index JSON of 40 MiB of versions", index: func(base string) io.Reader {
			return io.MultiReader(str(`{"apiVersion": "v1", "entries": {"web": [`), repeated(`{"version": "0.0.1", "urls": ["u"]}, `, 40<<20))
		}, want: `the index lists more than 16 MiB of chart versions (at chart "web")`},
		{name: "index JSON cut short", index: func(base string) io.Reader {
			return str(`{"apiVersion": "v1", "entries": {"web": [{"version": "0.1.0", "urls": ["` + base + `/web-0.1.0.tgz"]}`)
		}, want: "index.yaml is malformed: EOF"},
		{name: "index with one entry of 2 MiB", index: func(base string) io.Reader {
			return str(blockIndex(base, "  - version: 0.0.2\n    description: |\n"+strings.Repeat("      a line of a very long description\n", 2<<20/40)))
		}, want: "larger than 1 MiB, the most one chart version of an index may take"},
		{name: "index of 300000 bare versions", index: func(base string) io.Reader {
			return io.MultiReader(str(blockIndex(base, "")), repeated("  - version: 0.0.1\n    urls: [u]\n", 300000*30))
		}, want: `the index lists more than 16 MiB of chart versions (at chart "web")`},
		{name: "index streaming past 256 MiB", index: func(base string) io.Reader {
			return io.MultiReader(str(blockIndex(base, "")), repeated("# another line of an index that never ends\n", 300<<20))
		}, want: "index.yaml is larger than 268435456 bytes"},
		{name: "index nested 50000 deep", index: func(base string) io.Reader {
			return str(blockIndex(base, "  - version: "+nest("[", "]", 50000)+"\n"))
		}, want: "index.yaml is malformed"},
		{name: "index without apiVersion", index: func(base string) io.Reader { return str("entries: {}\n") }, want: "no apiVersion"},
		{name: "index empty", index: func(base string) io.Reader { return str("  \n") }, want: "index.yaml is malformed: empty file"},
	}
}

// repeated reads unit again and again, about n bytes in all, without holding them.
func repeated(unit string, n int) io.Reader {
	return io.LimitReader(&repeater{unit: unit}, int64(n/len(unit)*len(unit)))
}

type repeater struct {
	unit string
	off  int
}

func (r *repeater) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.unit[r.off:])
		n += c
		r.off = (r.off + c) % len(r.unit)
	}
	return n, nil
}

// TestHostileChartSourcesCostBoundedMemory: a chart repository serving a malformed
// index.yaml or a hostile chart archive fails the addon (exit code 1) with a message
// naming what is wrong, at a bounded cost in memory, without a push to the destination,
// a file in the output directory or a temporary file left.
func TestHostileChartSourcesCostBoundedMemory(t *testing.T) {
	dst := registrytest.New(t)
	cases := hostileSources()
	var worst uint64
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			var archive []byte
			if tc.archive != nil {
				archive = tc.archive(t)
			}
			var srv *httptest.Server
			srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/index.yaml":
					w.Header().Set("Content-Type", "text/yaml")
					w.WriteHeader(http.StatusOK)
					w.(http.Flusher).Flush()
					if tc.index != nil {
						_, _ = io.Copy(w, tc.index(srv.URL))
						return
					}
					_, _ = io.WriteString(w, blockIndex(srv.URL, ""))
				case "/web-0.1.0.tgz":
					_, _ = w.Write(archive)
				default:
					http.NotFound(w, r)
				}
			}))
			defer srv.Close()
			dir := inTempDir(t, map[string]string{"values.yaml": "addons:\n  - chart: web\n    repository: " + srv.URL + "\n    version: 0.1.0\n"})
			before := len(dst.Requests())
			var code int
			var stdout, stderr bytes.Buffer
			peak, total := measure(func() {
				code = runApp([]string{"--values", "values.yaml", "--target-registry", dst.Host, "--target-kind", "oci",
					"--insecure-registry", "127.0.0.1", "--output-dir", "out", "--retries", "0", "--log-format", "json"}, &stdout, &stderr, nil)
			})
			archive = nil
			worst = max(worst, peak)
			if code != exitFailed {
				t.Errorf("exit code %d, want %d", code, exitFailed)
			}
			if !strings.Contains(strings.ReplaceAll(stderr.String(), `\"`, `"`), tc.want) {
				t.Errorf("stderr does not say %q:\n%s", tc.want, lastLines(stderr.String(), 4))
			}
			for _, r := range dst.Requests()[before:] {
				if r.Method != http.MethodGet && r.Method != http.MethodHead {
					t.Errorf("destination written to: %s %s", r.Method, r.Path)
				}
			}
			_ = filepath.Walk(filepath.Join(dir, "out"), func(p string, fi os.FileInfo, err error) error {
				if err == nil && !fi.IsDir() {
					t.Errorf("file written: %s", p)
				}
				return nil
			})
			if left, _ := os.ReadDir(tmp); len(left) > 0 {
				t.Errorf("temporary files left: %v", left)
			}
			if peak > memoryBound {
				t.Errorf("peak heap %d MiB above the start, want under %d MiB (allocated %d MiB in all)", peak>>20, memoryBound>>20, total>>20)
			}
			t.Logf("peak heap %d MiB, allocated %d MiB", peak>>20, total>>20)
		})
	}
	t.Logf("%d hostile chart sources refused; worst peak heap %d MiB", len(cases), worst>>20)
}
