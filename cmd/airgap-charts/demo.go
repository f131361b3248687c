package main

import (
	"context"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"go.uber.org/zap"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/repo"
	"sigs.k8s.io/yaml"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/engine"
	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// demoData holds a few real charts from the corpus and the images their render needs.
//
//go:embed all:demodata
var demoData embed.FS

// demoCharts are the embedded charts the demo mirrors, with the values each needs.
var demoCharts = []string{"metrics-server", "alertmanager", "external-dns", "traefik"}

// runDemo runs a real sync with no network and no setup: an in-process source registry
// seeded with synthetic multi-arch images at the references the charts use, an
// in-process HTTP chart repository serving the embedded charts, and an in-process
// destination registry. Sources are reached through --registry-mirror, as a user with a
// pull-through cache would.
func runDemo(ctx context.Context, stdout io.Writer, log *zap.Logger) error {
	work, err := os.MkdirTemp("", "airgap-charts-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	src, err := registrytest.Start()
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := registrytest.Start()
	if err != nil {
		return err
	}
	defer dst.Close()

	repoDir := filepath.Join(work, "repo")
	if err := os.MkdirAll(repoDir, 0o755); err != nil {
		return err
	}
	charts := httptest.NewServer(http.FileServer(http.Dir(repoDir)))
	defer charts.Close()

	var addons []config.Addon
	mirrors := map[string]string{}
	for _, c := range demoCharts {
		version, err := packageDemoChart(c, work, repoDir)
		if err != nil {
			return fmt.Errorf("demo chart %s: %w", c, err)
		}
		values, err := demoValues(c)
		if err != nil {
			return err
		}
		addons = append(addons, config.Addon{Chart: c, Repository: charts.URL, Version: version, Release: c, Values: values,
			Source: config.Position{File: "demo"}})
		refs, err := demoImages(c)
		if err != nil {
			return err
		}
		for _, ref := range refs {
			if err := seedImage(ctx, src.Host, ref); err != nil {
				return fmt.Errorf("seed %s: %w", ref, err)
			}
			mirrors[ref.Registry] = src.Host + "/" + ref.Registry
		}
	}
	idx, err := repo.IndexDirectory(repoDir, charts.URL)
	if err != nil {
		return fmt.Errorf("demo index: %w", err)
	}
	if err := idx.WriteFile(filepath.Join(repoDir, "index.yaml"), 0o644); err != nil {
		return err
	}

	out := filepath.Join(work, "helm-charts")
	fmt.Fprintf(stdout, "demo: source registry %s (mirrors %s), chart repository %s, destination registry %s\n\n",
		src.Host, strings.Join(sortedKeys(mirrors), ", "), charts.URL, dst.Host)
	rep, err := engine.Run(ctx, engine.Options{
		Addons:           addons,
		TargetRegistry:   dst.Host,
		TargetPrefix:     "mirror",
		TargetKind:       "oci",
		IncludeDeps:      true,
		Platform:         engine.PlatformAuto,
		SkipExisting:     true,
		RegistryMirrors:  mirrors,
		InsecureRegistry: []string{src.Host, dst.Host},
		OutputDir:        out,
		ReportFile:       filepath.Join(out, "report.json"),
	}, log)
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

func packageDemoChart(name, work, repoDir string) (string, error) {
	dir := filepath.Join(work, "src", name)
	sub, err := fs.Sub(demoData, "demodata/"+name)
	if err != nil {
		return "", err
	}
	if err := os.CopyFS(dir, sub); err != nil {
		return "", err
	}
	ch, err := loader.LoadDir(dir)
	if err != nil {
		return "", err
	}
	if _, err := chartutil.Save(ch, repoDir); err != nil {
		return "", err
	}
	return ch.Metadata.Version, nil
}

func demoValues(name string) (map[string]any, error) {
	b, err := demoData.ReadFile("demodata/" + name + ".render-values.yaml")
	if err != nil {
		return nil, nil // no values needed
	}
	var v map[string]any
	if err := yaml.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("demo values %s: %w", name, err)
	}
	return v, nil
}

func demoImages(name string) ([]registry.ImageRef, error) {
	b, err := demoData.ReadFile("demodata/" + name + ".images.txt")
	if err != nil {
		return nil, err
	}
	var refs []registry.ImageRef
	for _, line := range strings.Split(string(b), "\n") {
		line, _, _ = strings.Cut(line, "#")
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		ref, err := registry.ParseImageRef(line)
		if err != nil {
			return nil, err
		}
		refs = append(refs, ref)
	}
	return refs, nil
}

// seedImage pushes a synthetic linux/amd64 + linux/arm64 index where the mirror serves ref.
func seedImage(ctx context.Context, host string, ref registry.ImageRef) error {
	tag, err := name.NewTag(fmt.Sprintf("%s/%s/%s:%s", host, ref.Registry, ref.Repository, ref.Tag), name.Insecure)
	if err != nil {
		return err
	}
	var adds []mutate.IndexAddendum
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := random.Image(512*1024, 3)
		if err != nil {
			return err
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	idx := mutate.AppendManifests(empty.Index, adds...)
	return remote.WriteIndex(tag, idx, remote.WithContext(ctx))
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
