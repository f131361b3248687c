package stages

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/airgap-charts/airgap-charts/config"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"helm.sh/helm/v3/pkg/chart"
	sigsyaml "sigs.k8s.io/yaml"
)

// archiveEpoch is the modification time of every entry of a packaged chart, so that the
// same chart always packs to the same bytes.
var archiveEpoch = time.Date(1980, time.January, 1, 0, 0, 0, 0, time.UTC)

// ChartArchive is a packaged chart with what publishing needs of it, so that publishing
// reads and parses nothing again.
type ChartArchive struct {
	// Path is the archive on disk.
	Path string
	// Digest is the archive's "sha256:…".
	Digest string
	// Data is the archive.
	Data []byte
	// Metadata is the chart's metadata as packaged: Helm's OCI config is made of it.
	Metadata *chart.Metadata
}

// PackageChart writes ch (with its subcharts, unpacked under charts/) to
// dir/{name}-{version}.tgz and returns the archive. It is deterministic: entries sorted,
// fixed times, owners and modes, a gzip header without name or time. It is written to a
// temporary file and renamed into place.
func PackageChart(ch *chart.Chart, dir string) (ChartArchive, error) {
	if ch == nil || ch.Metadata == nil {
		return ChartArchive{}, fmt.Errorf("package chart: no chart")
	}
	if err := ch.Validate(); err != nil {
		return ChartArchive{}, fmt.Errorf("package chart %s: %w", ch.Name(), err)
	}
	files := map[string][]byte{}
	if err := collectChartFiles(ch, ch.Name(), files); err != nil {
		return ChartArchive{}, fmt.Errorf("package chart %s: %w", ch.Name(), err)
	}
	data, err := tarGzip(files)
	if err != nil {
		return ChartArchive{}, fmt.Errorf("package chart %s: %w", ch.Name(), err)
	}
	sum := sha256.Sum256(data)
	target := filepath.Join(dir, fmt.Sprintf("%s-%s.tgz", ch.Name(), ch.Metadata.Version))
	if err := config.WriteFileAtomic(target, data, 0o644); err != nil {
		return ChartArchive{}, fmt.Errorf("package chart %s: %w", ch.Name(), err)
	}
	md := *ch.Metadata
	return ChartArchive{Path: target, Digest: "sha256:" + hex.EncodeToString(sum[:]), Data: data, Metadata: &md}, nil
}

// OpenChartArchive reads an archive packaged earlier (by a previous run), loading its
// metadata; limit bounds what it may decompress to (0: DefaultMaxArchiveBytes).
func OpenChartArchive(path string, limit int64) (ChartArchive, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return ChartArchive{}, fmt.Errorf("chart archive: %w", err)
	}
	ch, err := LoadChartArchive(data, limit)
	if err != nil {
		return ChartArchive{}, fmt.Errorf("chart archive %s: %w", path, err)
	}
	sum := sha256.Sum256(data)
	return ChartArchive{Path: path, Digest: "sha256:" + hex.EncodeToString(sum[:]), Data: data, Metadata: ch.Metadata}, nil
}

// ErrArchiveChanged is the error of Load when the archive on disk no longer has its digest.
var ErrArchiveChanged = errors.New("the packaged chart changed on disk")

// Load reads Data from Path when it is empty (an archive whose file a run cache vouched for
// without reading it), and checks that the bytes still have Digest.
func (a *ChartArchive) Load() error {
	if len(a.Data) > 0 {
		return nil
	}
	if a.Path == "" {
		return errors.New("chart archive: no packaged archive")
	}
	data, err := os.ReadFile(a.Path)
	if err != nil {
		return fmt.Errorf("chart archive: %w", err)
	}
	if sum := sha256.Sum256(data); "sha256:"+hex.EncodeToString(sum[:]) != a.Digest {
		return fmt.Errorf("chart archive %s: %w since it was packaged (want %s): the next run packages it again", a.Path, ErrArchiveChanged, a.Digest)
	}
	a.Data = data
	return nil
}

// collectChartFiles gathers c's files under prefix: the raw files as loaded, with
// values.yaml, templates and files as they are now, Chart.yaml as loaded unless its
// metadata was changed, and each subchart under charts/{name}/.
func collectChartFiles(c *chart.Chart, prefix string, out map[string][]byte) error {
	put := func(name string, data []byte) { out[path.Join(prefix, name)] = data }
	hasValues := false
	for _, f := range c.Raw {
		if strings.HasPrefix(f.Name, "charts/") && !strings.HasSuffix(f.Name, ".prov") {
			continue
		}
		put(f.Name, f.Data)
		hasValues = hasValues || f.Name == valuesFileName
	}
	for _, group := range [][]*chart.File{c.Templates, c.Files} {
		for _, f := range group {
			put(f.Name, f.Data)
		}
	}
	if c.Schema != nil {
		put("values.schema.json", c.Schema)
	}
	if !hasValues && len(c.Values) > 0 {
		data, err := sigsyaml.Marshal(c.Values)
		if err != nil {
			return fmt.Errorf("values of %s: %w", c.Name(), err)
		}
		put(valuesFileName, data)
	}
	chartYAML, err := chartfile(c)
	if err != nil {
		return err
	}
	put("Chart.yaml", chartYAML)
	if c.Lock != nil && out[path.Join(prefix, "Chart.lock")] == nil && out[path.Join(prefix, "requirements.lock")] == nil {
		data, err := sigsyaml.Marshal(c.Lock)
		if err != nil {
			return fmt.Errorf("Chart.lock of %s: %w", c.Name(), err)
		}
		put("Chart.lock", data)
	}
	for _, sub := range c.Dependencies() {
		if err := collectChartFiles(sub, path.Join(prefix, "charts", sub.Name()), out); err != nil {
			return err
		}
	}
	return nil
}

// chartfile is Chart.yaml as loaded when the metadata still matches it, else the metadata
// marshalled (a stage that changed it meant to).
func chartfile(c *chart.Chart) ([]byte, error) {
	for _, f := range c.Raw {
		if f.Name != "Chart.yaml" {
			continue
		}
		var loaded chart.Metadata
		if err := sigsyaml.Unmarshal(f.Data, &loaded); err == nil {
			if loaded.APIVersion == "" {
				loaded.APIVersion = chart.APIVersionV1
			}
			if reflect.DeepEqual(&loaded, c.Metadata) {
				return f.Data, nil
			}
		}
	}
	data, err := sigsyaml.Marshal(c.Metadata)
	if err != nil {
		return nil, fmt.Errorf("Chart.yaml of %s: %w", c.Name(), err)
	}
	return data, nil
}

func tarGzip(files map[string][]byte) ([]byte, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	// The fastest level: a chart is small, and deflate at the default level cost more CPU
	// than any other step of repacking (a few percent larger archives). klauspost's
	// deflate at this level takes half the CPU of the standard library's, and its output
	// is a little smaller.
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	zw.ModTime = time.Unix(0, 0) // no time in the header: 0 there means none
	tw := tar.NewWriter(zw)
	for _, n := range names {
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     n,
			Size:     int64(len(files[n])),
			Mode:     0o644,
			ModTime:  archiveEpoch,
			Format:   tar.FormatPAX,
		}
		if len(n) <= 100 {
			hdr.Format = tar.FormatUSTAR
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		if _, err := tw.Write(files[n]); err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
