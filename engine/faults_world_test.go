package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"helm.sh/helm/v3/pkg/chart"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
	"github.com/airgap-charts/airgap-charts/stages/chartrepotest"
)

// faultImages are the images of the fault chart, each a seeded 2-platform index.
var faultImages = []string{"quay.io/org/alpha:1", "quay.io/org/beta:1", "quay.io/org/gamma:1"}

// faultWorld is a source registry, a destination registry and an HTTP chart repository,
// each behind a fault-injecting proxy the run talks to.
type faultWorld struct {
	src, dst           *registrytest.Registry
	charts             *chartrepotest.HTTPRepo
	srcP, dstP, chartP *registrytest.FaultProxy
	digests            map[string]string // image → seeded index digest
}

// faultChart runs every image of faultImages from values the rewrite reaches.
func faultChart() *chart.Chart {
	var containers, values strings.Builder
	vals := map[string]any{}
	for _, img := range faultImages {
		repo, tag, _ := strings.Cut(img, ":")
		key := repo[strings.LastIndex(repo, "/")+1:]
		fmt.Fprintf(&containers, "      - name: %s\n        image: \"{{ .Values.%s.image.repository }}:{{ .Values.%s.image.tag }}\"\n", key, key, key)
		fmt.Fprintf(&values, "%s:\n  image:\n    repository: %s\n    tag: %q\n", key, repo, tag)
		vals[key] = map[string]any{"image": map[string]any{"repository": repo, "tag": tag}}
	}
	deployment := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  template:\n    spec:\n      containers:\n" + containers.String()
	return &chart.Chart{
		Metadata:  &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "faulty", Version: "1.0.0"},
		Values:    vals,
		Templates: []*chart.File{{Name: "templates/deployment.yaml", Data: []byte(deployment)}},
		Raw:       []*chart.File{{Name: "values.yaml", Data: []byte(values.String())}},
	}
}

func newFaultWorld(t *testing.T) *faultWorld {
	t.Helper()
	w := &faultWorld{src: registrytest.New(t), dst: registrytest.New(t), charts: chartrepotest.NewHTTPRepo(t), digests: map[string]string{}}
	for _, img := range faultImages {
		w.digests[img] = seedImage(t, w.src.Host, mustRef(t, img))
	}
	w.charts.SetArchiveBase(chartrepotest.Relative) // archives are fetched through the proxy too
	w.charts.AddChart(t, faultChart())
	w.srcP = registrytest.NewFaultProxy(t, w.src.Server.URL)
	w.dstP = registrytest.NewFaultProxy(t, w.dst.Server.URL)
	w.chartP = registrytest.NewFaultProxy(t, w.charts.URL)
	return w
}

// faultTimeouts are what the suite gives every run: silences and retry waits short
// enough for a fast suite, retries as the defaults.
const (
	faultRequestTimeout = 300 * time.Millisecond
	faultStallTimeout   = 300 * time.Millisecond
	faultRetryBackoff   = time.Millisecond
)

func (w *faultWorld) options(out string) Options {
	return Options{
		Addons: []config.Addon{{Chart: "faulty", Repository: w.chartP.URL, Version: "1.0.0",
			Release: "faulty", Namespace: "ns", Source: config.Position{File: "values.yaml", Line: 1}}},
		TargetRegistry: w.dstP.Host, TargetPrefix: "mirror", TargetKind: "oci",
		IncludeDeps: true, Platform: registry.PlatformAuto, SkipExisting: true, Concurrency: 4, ChartConcurrency: 1,
		RegistryMirrors:  map[string]string{"quay.io": w.srcP.Host + "/quay.io"},
		InsecureRegistry: []string{w.srcP.Host, w.dstP.Host},
		RequestTimeout:   faultRequestTimeout, StallTimeout: faultStallTimeout, RetryBackoff: faultRetryBackoff,
		OutputDir: out, ReportFile: filepath.Join(out, "report.json"),
		// The images carry no referrers; discovery's HEADs would only blur the rerun's
		// request counts (referrer faults are tested beside the referrer copy).
		Referrers: "none",
	}
}

func (w *faultWorld) run(t *testing.T, out string) *AddonReport {
	t.Helper()
	rep, err := runChecked(t, context.Background(), w.options(out), e2eLogger(t))
	if err != nil {
		t.Fatalf("run could not start: %v", err)
	}
	if len(rep.Addons) != 1 {
		t.Fatalf("%d addon reports", len(rep.Addons))
	}
	return rep.Addons[0]
}

// destDigest is the digest the destination tag of img points at, asked of the destination
// itself (not through its proxy); "" when absent.
func (w *faultWorld) destDigest(t *testing.T, img string) string {
	t.Helper()
	ref, err := name.NewTag(w.dst.Host+"/mirror/"+strings.TrimPrefix(img, "quay.io/"), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(ref)
	if err != nil {
		return ""
	}
	return desc.Digest.String()
}

// checkDestination fails unless every image's destination tag is absent or the source's
// digest; it returns the images absent.
func (w *faultWorld) checkDestination(t *testing.T) (missing []string) {
	t.Helper()
	for _, img := range faultImages {
		switch got := w.destDigest(t, img); got {
		case "":
			missing = append(missing, img)
		case w.digests[img]:
		default:
			t.Errorf("destination %s is %s, the source is %s", img, got, w.digests[img])
		}
	}
	return missing
}

// sourceRepos are the image repositories the source proxy saw requests for.
func sourceRepos(p *registrytest.FaultProxy) map[string]int {
	out := map[string]int{}
	for _, q := range p.Requests() {
		if q.Repository != "" {
			out[q.Repository]++
		}
	}
	return out
}
