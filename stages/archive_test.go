package stages

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/airgap-charts/airgap-charts/stages/chartrepotest"
)

type tarEntry struct {
	name, body, link string
	typ              byte
	size             int64 // when set, the body is size zero bytes
}

const goodChartYAML = "apiVersion: v2\nname: demo\nversion: 1.0.0\n"

// makeTgz builds a chart archive from entries, as a hostile repository could serve it.
func makeTgz(t *testing.T, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		hd := &tar.Header{Name: e.name, Typeflag: typ, Mode: 0o644, Linkname: e.link, Format: tar.FormatPAX}
		var body io.Reader = strings.NewReader(e.body)
		hd.Size = int64(len(e.body))
		if e.size > 0 {
			hd.Size, body = e.size, io.LimitReader(zeros{}, e.size)
		}
		if typ != tar.TypeReg {
			hd.Size, body = 0, strings.NewReader("")
		}
		if err := tw.WriteHeader(hd); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(tw, body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestLoadChartArchiveCorpusChart(t *testing.T) {
	path, md := chartrepotest.Package(t, chartrepotest.Corpus(t, "prometheus"))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := LoadChartArchive(data, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Name() != "prometheus" || ch.Metadata.Version != md.Version || len(ch.Dependencies()) != 4 || len(ch.Templates) == 0 {
		t.Fatalf("loaded %s %s with %d subcharts and %d templates", ch.Name(), ch.Metadata.Version, len(ch.Dependencies()), len(ch.Templates))
	}
}

func TestLoadChartArchiveRefusesUnsafeEntries(t *testing.T) {
	good := tarEntry{name: "demo/Chart.yaml", body: goodChartYAML}
	nested := makeTgz(t, tarEntry{name: "sub/Chart.yaml", body: "apiVersion: v2\nname: sub\nversion: 1.0.0\n"},
		tarEntry{name: "sub/../../../etc/passwd", body: "x"})
	cases := []struct {
		name    string
		entries []tarEntry
		want    error
		msg     string
	}{
		{"parent dir", []tarEntry{good, {name: "demo/../../evil.yaml", body: "x"}}, ErrUnsafeArchive, "parent directory"},
		{"parent in middle", []tarEntry{good, {name: "demo/templates/../../../x", body: "x"}}, ErrUnsafeArchive, "parent directory"},
		{"absolute", []tarEntry{good, {name: "/etc/cron.d/evil", body: "x"}}, ErrUnsafeArchive, "absolute"},
		{"windows drive", []tarEntry{good, {name: `C:\evil\x.yaml`, body: "x"}}, ErrUnsafeArchive, "absolute"},
		{"symlink", []tarEntry{good, {name: "demo/templates/link.yaml", typ: tar.TypeSymlink, link: "/etc/passwd"}}, ErrUnsafeArchive, "link"},
		{"hardlink", []tarEntry{good, {name: "demo/values.yaml", typ: tar.TypeLink, link: "demo/Chart.yaml"}}, ErrUnsafeArchive, "link"},
		{"device", []tarEntry{good, {name: "demo/dev", typ: tar.TypeChar}}, ErrUnsafeArchive, "not a regular file"},
		{"second top dir", []tarEntry{good, {name: "other/templates/x.yaml", body: "x"}}, ErrUnsafeArchive, "outside the chart directory"},
		{"file at top", []tarEntry{{name: "Chart.yaml", body: goodChartYAML}}, ErrUnsafeArchive, "outside the chart directory"},
		{"nested subchart escapes", []tarEntry{good, {name: "demo/charts/sub-1.0.0.tgz", body: string(nested)}}, ErrUnsafeArchive, "subchart archive"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadChartArchive(makeTgz(t, c.entries...), 0)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("got %v, want %v mentioning %q", err, c.want, c.msg)
			}
		})
	}
}

func TestLoadChartArchiveRefusesNonGzip(t *testing.T) {
	for _, data := range [][]byte{[]byte("<html>404 page</html>"), []byte("apiVersion: v2\n"), {0x1f, 0x8b, 0x08, 0, 1, 2}, nil} {
		_, err := LoadChartArchive(data, 0)
		if err == nil || !strings.Contains(err.Error(), "not a gzip-compressed chart archive") {
			t.Errorf("%q: %v", data, err)
		}
	}
}

func TestLoadChartArchiveRefusesBombs(t *testing.T) {
	good := tarEntry{name: "demo/Chart.yaml", body: goodChartYAML}
	// 60 MiB of zeros compress to about 60 KiB: past the default 50 MiB limit.
	bomb := makeTgz(t, good, tarEntry{name: "demo/files/zeros", size: 60 << 20})
	if len(bomb) > 1<<20 {
		t.Fatalf("bomb is %d bytes compressed", len(bomb))
	}
	if _, err := LoadChartArchive(bomb, 0); !errors.Is(err, ErrArchiveTooLarge) || !strings.Contains(err.Error(), "52428800") {
		t.Fatalf("default limit: %v", err)
	}
	// Many files that together pass a limit, and a bomb nested in charts/.
	var many []tarEntry
	many = append(many, good)
	for i := range 5 {
		many = append(many, tarEntry{name: "demo/files/z" + string(rune('a'+i)), size: 300 << 10})
	}
	if _, err := LoadChartArchive(makeTgz(t, many...), 1<<20); !errors.Is(err, ErrArchiveTooLarge) {
		t.Fatalf("sum of files past 1 MiB: %v", err)
	}
	inner := makeTgz(t, tarEntry{name: "sub/Chart.yaml", body: "apiVersion: v2\nname: sub\nversion: 1.0.0\n"},
		tarEntry{name: "sub/zeros", size: 2 << 20})
	_, err := LoadChartArchive(makeTgz(t, good, tarEntry{name: "demo/charts/sub-1.0.0.tgz", body: string(inner)}), 1<<20)
	if !errors.Is(err, ErrArchiveTooLarge) {
		t.Fatalf("nested bomb: %v", err)
	}
	// Under the limit the same shapes load.
	if _, err := LoadChartArchive(makeTgz(t, good, tarEntry{name: "demo/files/zeros", size: 100 << 10}), 1<<20); err != nil {
		t.Fatalf("small archive refused: %v", err)
	}
}
