package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	helmregistry "helm.sh/helm/v3/pkg/registry"
	"oras.land/oras-go/v2/registry/remote/auth"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/stages"
)

// destination names where a run put things: registry is the host written in references
// (the ECR simulator's), serve the host the test reads from without credentials (the
// simulator's backing registry).
type destination struct {
	registry, serve, prefix string
}

// mirrored is where the layout puts src: {registry}/{prefix}/{source repository path}.
func (d destination) mirrored(src registry.ImageRef, host string) registry.ImageRef {
	return registry.ImageRef{Registry: host, Repository: d.prefix + "/" + src.Repository, Tag: src.Tag, Digest: src.Digest}
}

// checkAddonsSucceeded fails for every addon that did not succeed.
func checkAddonsSucceeded(t *testing.T, rep *Report) {
	t.Helper()
	for _, a := range rep.Addons {
		if a.Status != StatusSuccess {
			t.Errorf("addon %s: %s at %s: %s", a.Addon, a.Status, a.Stage, a.Error)
		}
	}
}

// checkImagesMirrored checks, per chart, that the report lists exactly the expected images
// with their mirrored destinations, and that each destination tag holds the source digest.
func checkImagesMirrored(t *testing.T, w *e2eWorld, rep *Report, d destination) {
	t.Helper()
	for _, a := range rep.Addons {
		want := map[string]string{}
		for _, ref := range w.expected[a.Chart] {
			want[ref.String()] = d.mirrored(ref, d.registry).String()
		}
		got := map[string]string{}
		for _, img := range a.Images {
			if annotationOnlyWhere(img.Where) && img.Result == OutcomeFailed {
				continue // not used by the render: its failure is a warning (see below)
			}
			got[img.Source] = img.Destination
		}
		for src, dst := range want {
			if g, ok := got[src]; !ok {
				t.Errorf("chart %s: expected image %s not in the report", a.Chart, src)
			} else if g != dst {
				t.Errorf("chart %s: image %s went to %s, want %s", a.Chart, src, g, dst)
			}
		}
		for src := range got {
			if _, ok := want[src]; !ok {
				t.Errorf("chart %s: image %s reported but not in the corpus list", a.Chart, src)
			}
		}
	}
	seen := map[string]bool{}
	for _, n := range w.names {
		for _, ref := range w.expected[n] {
			dst := d.mirrored(ref, d.serve)
			dst.Digest = ""
			if seen[dst.String()] {
				continue
			}
			seen[dst.String()] = true
			want := w.sourceDigest(ref)
			tag, err := name.NewTag(dst.String(), name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			desc, err := remote.Head(tag)
			if err != nil {
				t.Errorf("chart %s: %s not at its mirrored place %s: %v", n, ref, dst, err)
				continue
			}
			if desc.Digest.String() != want {
				t.Errorf("chart %s: %s holds %s, the source digest is %s", n, dst, desc.Digest, want)
			}
		}
	}
}

// pullChart pulls oci://{host}/{chart}:{version} with Helm's registry client and loads it.
func pullChart(t *testing.T, host, chartName, version string) *chart.Chart {
	t.Helper()
	httpClient := &http.Client{}
	client, err := helmregistry.NewClient(
		helmregistry.ClientOptPlainHTTP(),
		helmregistry.ClientOptHTTPClient(httpClient),
		helmregistry.ClientOptCredentialsFile(filepath.Join(t.TempDir(), "config.json")),
		helmregistry.ClientOptAuthorizer(auth.Client{Client: httpClient,
			Credential: func(context.Context, string) (auth.Credential, error) { return auth.EmptyCredential, nil }}),
	)
	if err != nil {
		t.Fatal(err)
	}
	res, err := client.Pull(host + "/" + chartName + ":" + strings.ReplaceAll(version, "+", "_"))
	if err != nil {
		t.Errorf("chart %s %s not pushed to %s: %v", chartName, version, host, err)
		return nil
	}
	ch, err := loader.LoadArchive(bytes.NewReader(res.Chart.Data))
	if err != nil {
		t.Errorf("chart %s pulled from %s does not load: %v", chartName, host, err)
		return nil
	}
	if ch.Name() != chartName || ch.Metadata.Version != version {
		t.Errorf("pulled %s %s, want %s %s", ch.Name(), ch.Metadata.Version, chartName, version)
	}
	return ch
}

// annotationOnlyWhere reports whether an image was found only in the chart's
// artifacthub.io/images annotation.
func annotationOnlyWhere(where []stages.Location) bool {
	for _, w := range where {
		if w.Kind != "Chart" || !strings.HasPrefix(w.Path, "annotations.") {
			return false
		}
	}
	return len(where) > 0
}

// renderImages renders ch as the addon is rendered, values layered in order, and returns
// every image reference it yields, except those only the chart's artifacthub.io/images
// annotation lists (the render does not pull them; the rewrite leaves the annotation).
func renderImages(t *testing.T, ch *chart.Chart, chartName string, layers ...map[string]any) []registry.ImageRef {
	t.Helper()
	var vals []map[string]any
	for _, l := range layers {
		if l != nil {
			vals = append(vals, l)
		}
	}
	r, err := stages.Render(context.Background(), ch, stages.RenderOptions{Release: chartName, Namespace: "ns", Values: vals})
	if err != nil {
		t.Fatalf("render %s: %v", chartName, err)
	}
	found, err := stages.Extract(r, ch)
	if err != nil {
		t.Fatalf("extract %s: %v", chartName, err)
	}
	var out []registry.ImageRef
	for _, f := range found {
		if !f.AnnotationOnly {
			out = append(out, f.Ref)
		}
	}
	return out
}

// checkPrivate fails unless images is exactly the private set of the chart's expected
// images; label says which render it was. It returns the public ones.
func checkPrivate(t *testing.T, w *e2eWorld, d destination, chartName, label string, images []registry.ImageRef) []string {
	t.Helper()
	want := map[string]bool{}
	for _, ref := range w.expected[chartName] {
		want[d.mirrored(ref, d.registry).String()] = true
	}
	declared := map[string]bool{}
	for _, ref := range w.declared[chartName] {
		declared[d.mirrored(ref, d.registry).String()] = true
	}
	var public []string
	got := map[string]bool{}
	for _, ref := range images {
		got[ref.String()] = true
		if ref.Registry != d.registry {
			public = append(public, ref.String())
		} else if !want[ref.String()] {
			t.Errorf("chart %s, %s: private image %s is not one the run mirrored", chartName, label, ref)
		}
	}
	for ref := range want {
		if !got[ref] && !declared[ref] {
			t.Errorf("chart %s, %s: mirrored image %s not rendered", chartName, label, ref)
		}
	}
	sort.Strings(public)
	if len(public) > 0 {
		t.Errorf("chart %s, %s: public images %v", chartName, label, public)
	}
	return public
}

// originalWithDependencies loads the chart the addon repository serves and builds its
// missing dependencies the way the run does (same repository mirrors), as a consumer's
// `helm dependency build` would.
func originalWithDependencies(t *testing.T, w *e2eWorld, chartName string) *chart.Chart {
	t.Helper()
	ch, err := loader.LoadDir(w.dirs[chartName])
	if err != nil {
		t.Fatal(err)
	}
	insecure := func(host string) bool { return host == w.ociCharts.Host }
	res, err := stages.NewResolver(stages.ResolverOptions{RepoMirrors: w.repoMirrors, Insecure: insecure})
	if err != nil {
		t.Fatal(err)
	}
	f, err := stages.NewFetcher(stages.FetcherOptions{CacheDir: t.TempDir(), Insecure: insecure})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stages.ResolveDependencies(context.Background(), ch, stages.DependencyOptions{
		Include: true, Resolver: res, Fetcher: f, Values: w.renderValues[chartName]}); err != nil {
		t.Fatalf("dependencies of %s: %v", chartName, err)
	}
	return ch
}

// readOverrides reads a consumer overrides file.
func readOverrides(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("consumer overrides: %v", err)
	}
	v := map[string]any{}
	if err := sigsyaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("consumer overrides %s: %v", path, err)
	}
	return v
}

// reportFile is report.json as a reader sees it.
type reportFile struct {
	Addons []struct {
		Addon, Status string
		ChartRef      string `json:"chart_ref"`
		Images        []struct {
			Source       string            `json:"source"`
			Destination  string            `json:"destination"`
			SourceDigest string            `json:"source_digest"`
			DestDigest   string            `json:"destination_digest"`
			Where        []stages.Location `json:"where"`
			Result       string            `json:"result"`
		} `json:"images"`
	} `json:"addons"`
	Totals Totals `json:"totals"`
}

func readReport(t *testing.T, path string) reportFile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	var r reportFile
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("report %s: %v", path, err)
	}
	return r
}

func mustRef(t *testing.T, s string) registry.ImageRef {
	t.Helper()
	ref, err := registry.ParseImageRef(s)
	if err != nil {
		t.Fatalf("reference %q: %v", s, err)
	}
	return ref
}
