package main

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.uber.org/zap"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"sigs.k8s.io/yaml"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/engine"
	"github.com/airgap-charts/airgap-charts/registry"
)

// demoData holds the charts written for the demo and, per chart, the images its render
// pulls (NAME.images.txt) and the values it is rendered with (NAME.render-values.yaml,
// optional).
//
//go:embed all:demodata
var demoData embed.FS

// demoCharts are the embedded charts the demo mirrors.
var demoCharts = []string{"ledger", "relay", "reporter"}

// demoPrefix is where the demo mirrors everything in its destination registry.
const demoPrefix = "mirror"

// demoWorld is everything a demo run talks to, all in process: a source registry that
// serves every image the charts reference (seeded with images built for the demo), an
// HTTP chart repository serving the embedded charts, and an empty destination registry.
type demoWorld struct {
	work     string
	src, dst *demoRegistry
	charts   *httptest.Server
	addons   []config.Addon
	// mirrors routes each public registry the charts name to its place in src.
	mirrors map[string]string
	// images are, per chart, the images its render pulls; digests are what src serves
	// for each of them (by ImageRef.String()).
	images  map[string][]registry.ImageRef
	digests map[string]string
	// srcDirs are the unpacked chart directories, by chart name.
	srcDirs map[string]string
	out     string
}

// runDemo runs a real sync with no network and no setup against a demoWorld. Sources are
// reached through --registry-mirror, as a user with a pull-through cache would.
func runDemo(ctx context.Context, stdout io.Writer, log *zap.Logger) error {
	w, err := startDemo(ctx)
	if err != nil {
		return err
	}
	defer w.Close()
	fmt.Fprintf(stdout, "demo: source registry %s (mirrors %s), chart repository %s, destination registry %s\n\n",
		w.src.Host, strings.Join(sortedKeys(w.mirrors), ", "), w.charts.URL, w.dst.Host)
	rep, err := w.run(ctx, log)
	if err != nil {
		return err
	}
	rep.WriteSummary(stdout, false)
	fmt.Fprintln(stdout, "\nWhere everything landed:")
	for _, a := range rep.Addons {
		fmt.Fprintf(stdout, "  chart %s\n", a.ChartRef)
		for _, img := range a.Images {
			fmt.Fprintf(stdout, "    %s ← %s\n", img.Destination, img.Source)
		}
	}
	if rep.Failed() {
		return fmt.Errorf("demo: %d addons failed", rep.Totals.Failed)
	}
	return nil
}

// startDemo starts the servers, packages and indexes the charts and seeds the images.
func startDemo(ctx context.Context) (_ *demoWorld, err error) {
	w := &demoWorld{mirrors: map[string]string{}, images: map[string][]registry.ImageRef{},
		digests: map[string]string{}, srcDirs: map[string]string{}}
	defer func() {
		if err != nil {
			w.Close()
		}
	}()
	if w.work, err = os.MkdirTemp("", "airgap-charts-demo-"); err != nil {
		return nil, fmt.Errorf("demo work directory: %w", err)
	}
	w.src, w.dst = startDemoRegistry(), startDemoRegistry()
	repoDir := filepath.Join(w.work, "repo")
	if err := os.MkdirAll(repoDir, 0o755); err != nil {
		return nil, err
	}
	w.charts = httptest.NewServer(http.FileServer(http.Dir(repoDir)))

	index := map[string][]demoIndexEntry{}
	for _, c := range demoCharts {
		dir, entry, err := w.packageChart(c, repoDir)
		if err != nil {
			return nil, fmt.Errorf("demo chart %s: %w", c, err)
		}
		version := entry.Version
		index[c] = append(index[c], entry)
		w.srcDirs[c] = dir
		values, err := demoValues(c)
		if err != nil {
			return nil, err
		}
		w.addons = append(w.addons, config.Addon{Chart: c, Repository: w.charts.URL, Version: version, Release: c,
			Values: values, Source: config.Position{File: "demo"}})
		refs, err := demoImages(c)
		if err != nil {
			return nil, err
		}
		w.images[c] = refs
		for _, ref := range refs {
			d, err := seedImage(ctx, w.src.Host, ref)
			if err != nil {
				return nil, fmt.Errorf("demo chart %s: %w", c, err)
			}
			w.digests[ref.String()] = d
			w.mirrors[ref.Registry] = w.src.Host + "/" + ref.Registry
		}
	}
	idx, err := yaml.Marshal(map[string]any{"apiVersion": "v1", "entries": index})
	if err != nil {
		return nil, fmt.Errorf("demo index: %w", err)
	}
	if err := os.WriteFile(filepath.Join(repoDir, "index.yaml"), idx, 0o644); err != nil {
		return nil, fmt.Errorf("demo index: %w", err)
	}
	w.out = filepath.Join(w.work, "helm-charts")
	return w, nil
}

// run syncs every demo chart from the source to the destination.
func (w *demoWorld) run(ctx context.Context, log *zap.Logger) (*engine.Report, error) {
	return engine.Run(ctx, engine.Options{
		Addons:           w.addons,
		TargetRegistry:   w.dst.Host,
		TargetPrefix:     demoPrefix,
		TargetKind:       "oci",
		IncludeDeps:      true,
		Platform:         registry.PlatformAuto,
		SkipExisting:     true,
		RegistryMirrors:  w.mirrors,
		InsecureRegistry: []string{w.src.Host, w.dst.Host},
		OutputDir:        w.out,
		ReportFile:       filepath.Join(w.out, "report.json"),
	}, log)
}

// Close stops the servers and removes the work directory.
func (w *demoWorld) Close() {
	for _, s := range []*demoRegistry{w.src, w.dst} {
		if s != nil {
			s.Close()
		}
	}
	if w.charts != nil {
		w.charts.Close()
	}
	if w.work != "" {
		os.RemoveAll(w.work)
	}
}

// packageChart unpacks the embedded chart name into the work directory and packages it
// into repoDir; it returns the unpacked directory and the archive's index entry.
func (w *demoWorld) packageChart(name, repoDir string) (string, demoIndexEntry, error) {
	dir := filepath.Join(w.work, "src", name)
	sub, err := fs.Sub(demoData, "demodata/"+name)
	if err != nil {
		return "", demoIndexEntry{}, err
	}
	if err := os.CopyFS(dir, sub); err != nil {
		return "", demoIndexEntry{}, err
	}
	ch, err := loader.LoadDir(dir)
	if err != nil {
		return "", demoIndexEntry{}, err
	}
	path, err := chartutil.Save(ch, repoDir)
	if err != nil {
		return "", demoIndexEntry{}, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", demoIndexEntry{}, err
	}
	sum := sha256.Sum256(data)
	return dir, demoIndexEntry{APIVersion: ch.Metadata.APIVersion, Name: ch.Name(), Version: ch.Metadata.Version,
		URLs: []string{w.charts.URL + "/" + filepath.Base(path)}, Digest: hex.EncodeToString(sum[:])}, nil
}

// demoIndexEntry is one chart version of the demo repository's index.yaml.
type demoIndexEntry struct {
	APIVersion string   `json:"apiVersion"`
	Name       string   `json:"name"`
	Version    string   `json:"version"`
	URLs       []string `json:"urls"`
	Digest     string   `json:"digest"`
}

func demoValues(name string) (map[string]any, error) {
	file := "demodata/" + name + ".render-values.yaml"
	b, err := demoData.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // the chart renders with its defaults
	}
	if err != nil {
		return nil, err
	}
	var v map[string]any
	if err := yaml.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return v, nil
}

func demoImages(name string) ([]registry.ImageRef, error) {
	file := "demodata/" + name + ".images.txt"
	b, err := demoData.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var refs []registry.ImageRef
	for i, line := range strings.Split(string(b), "\n") {
		line, _, _ = strings.Cut(line, "#")
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		ref, err := registry.ParseImageRef(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", file, i+1, err)
		}
		refs = append(refs, ref)
	}
	return refs, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
