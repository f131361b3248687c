package stages

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

func allocDuring(f func()) uint64 {
	runtime.GC()
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

func TestZZScratchTar(t *testing.T) {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, 9)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: "c/Chart.yaml", Mode: 0o644, Size: 30, Typeflag: tar.TypeReg})
	tw.Write([]byte("apiVersion: v2\nname: c\nversion: 1.0.0\n")[:30])
	for i := 0; i < 150000; i++ {
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("c/templates/f%d", i), Mode: 0o644, Typeflag: tar.TypeReg})
	}
	tw.Close(); zw.Close()
	var err error
	m := allocDuring(func() { _, err = LoadChartArchive(buf.Bytes(), 0) })
	t.Logf("tar of 150k empty entries, %d KiB: %d MiB alloc, err=%.100v", buf.Len()>>10, m>>20, err)
}

func TestZZScratchIndex(t *testing.T) {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nentries:\n")
	for c := 0; c < 200; c++ {
		fmt.Fprintf(&b, "  chart%d:\n", c)
		for v := 0; v < 100; v++ {
			fmt.Fprintf(&b, "  - apiVersion: v2\n    appVersion: 1.%d.0\n    created: \"2024-01-01T00:00:00Z\"\n    description: A chart that does something useful for the cluster\n    digest: %064d\n    name: chart%d\n    maintainers:\n    - name: someone\n      email: someone@example.com\n    urls:\n    - https://example.com/charts/chart%d-1.%d.0.tgz\n    version: 1.%d.0\n", v, c*1000+v, c, c, v, v)
		}
	}
	b.WriteString("generated: \"2024-01-01T00:00:00Z\"\n")
	data := []byte(b.String())
	var err error
	m := allocDuring(func() { _, err = parseIndex(data) })
	t.Logf("index of %d MiB: %d MiB alloc, err=%v", len(data)>>20, m>>20, err)
}
