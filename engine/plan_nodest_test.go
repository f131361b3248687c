package engine

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airgap-charts/airgap-charts/registry/ecrsim"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// withoutAWS leaves the test without any AWS configuration: no region, no profile, no
// credentials, no config files.
func withoutAWS(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	for _, k := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// TestPlanWithoutDestination: no --target-registry and no AWS configuration: the plan
// says the destination is unknown, still resolves every source (a missing image fails its
// addon) and plans the rest; nothing pending when all is well.
func TestPlanWithoutDestination(t *testing.T) {
	withoutAWS(t)
	w := newPlanWorld(t, [][2]string{{"alpha", "a1 a2"}, {"gamma", "c1"}}, "c1")
	opts := w.options(t.TempDir())
	opts.TargetRegistry, opts.TargetKind, opts.ScanOnly = "", "auto", true
	rep := w.run(t, opts)
	if !rep.DestinationUnknown || rep.Registry != PlaceholderRegistry {
		t.Fatalf("destination unknown %v, registry %q", rep.DestinationUnknown, rep.Registry)
	}
	by := addonsByName(rep)
	if a := by["alpha"]; a.Status != StatusSuccess || a.ChartResult != ChartPlanned || len(a.Images) != 2 {
		t.Errorf("alpha: %s %q %d images: %s", a.Status, a.ChartResult, len(a.Images), a.Error)
	}
	for _, img := range by["alpha"].Images {
		if img.Result != OutcomePlanned || img.SourceDigest != w.digests[img.Source] || img.Reason != ReasonDestinationUnknown {
			t.Errorf("alpha image %+v", img)
		}
	}
	if a := by["gamma"]; a.Status != StatusError || a.Images[0].Result != OutcomeMissingAtSource {
		t.Errorf("gamma: %s, %+v", a.Status, a.Images)
	}
	if w.src.Count(registrytest.BlobGet) != 0 || len(w.dst.Requests()) != 0 {
		t.Errorf("source %v, destination %v", w.src.Counts(), w.dst.Counts())
	}
	if rep.Pending() || rep.DriftFound() || !rep.Errored() {
		t.Errorf("pending %v, drift %v, errored %v", rep.Pending(), rep.DriftFound(), rep.Errored())
	}
	var sum strings.Builder
	rep.WriteSummary(&sum, false)
	if !strings.Contains(sum.String(), "Destination unknown") {
		t.Errorf("summary:\n%s", sum.String())
	}

	clean := w.options(t.TempDir(), "alpha")
	clean.TargetRegistry, clean.TargetKind, clean.ScanOnly = "", "auto", true
	if rep := w.run(t, clean); rep.Errored() || rep.Pending() || rep.DriftFound() {
		t.Errorf("plan of a good addon without destination: %+v", rep.Totals)
	}
	// A sync still needs its destination.
	clean.ScanOnly = false
	if _, err := Run(context.Background(), clean, e2eLogger(t)); err == nil || !strings.Contains(err.Error(), "region") {
		t.Errorf("sync without a destination: %v, want the missing AWS region", err)
	}
}

// TestPlanECRWarm: a plan against a warm ECR destination (simulated, the real SDK client)
// reads each repository's tags in one ListImages page, creates nothing, writes nothing
// and reads no blob; its images are all present and its charts too.
func TestPlanECRWarm(t *testing.T) {
	w := newPlanWorld(t, [][2]string{{"alpha", "a1 a2"}, {"beta", "b1 a1"}})
	sim := ecrsim.New(t)
	cfg := sim.AWSConfig()
	opts := w.options(t.TempDir())
	opts.TargetRegistry, opts.TargetKind = sim.Host, "ecr"
	opts.InsecureRegistry = append(opts.InsecureRegistry, sim.Host)
	opts.ECR = ECROptions{CreateRepositories: true, Endpoint: sim.URL, AWSConfig: &cfg, PutImageRate: 1000, LayerUploadRate: 1000}
	if rep := w.run(t, opts); rep.Failed() {
		t.Fatalf("sync to ECR failed: %+v", rep.Addons[0])
	}
	sim.ResetCounts()
	w.src.Reset()
	opts.OutputDir = t.TempDir()
	opts.ReportFile = filepath.Join(opts.OutputDir, "report.json")
	opts.ScanOnly = true
	rep := w.run(t, opts)
	if rep.Errored() || rep.Pending() || rep.DriftFound() || rep.Totals.Present != 3 || rep.Totals.ChartsPresent != 2 {
		t.Fatalf("warm ECR plan: %+v", rep.Totals)
	}
	if n := sim.Calls("ListImages"); n > 3 {
		t.Errorf("ListImages calls = %d, want one page per image repository (3)", n)
	}
	for _, op := range []string{"CreateRepository", "PutImage", "BatchDeleteImage", "InitiateLayerUpload", "CompleteLayerUpload", "PutLifecyclePolicy"} {
		if n := sim.Calls(op); n != 0 {
			t.Errorf("the plan called %s %d times", op, n)
		}
	}
	var onImages, other int
	for _, q := range sim.Requests() {
		if isPushKind(q.Kind) || q.Kind == registrytest.BlobGet || q.Kind == registrytest.ManifestDel {
			t.Errorf("the plan sent %s %s", q.Method, q.Path)
		}
		switch {
		case q.Status == http.StatusUnauthorized: // the host's challenge, learned once
		case strings.HasPrefix(q.Repository, "mirror/"):
			onImages++
		case q.Repository != "":
			other++
		}
	}
	if onImages != 0 || other > 2+1 {
		t.Errorf("data plane: %d image requests (want none: the listing answers), %d chart requests (want one per chart, and one budget probe)", onImages, other)
	}
	if n := w.src.Count(registrytest.ManifestHead); n > 3 || w.src.Count(registrytest.BlobGet) != 0 {
		t.Errorf("source: %v, want at most one HEAD per image", w.src.Counts())
	}
	t.Logf("warm ECR plan: %d control-plane calls (ListImages %d), data plane %v; source %v",
		sim.TotalCalls(), sim.Calls("ListImages"), sim.Requests(), w.src.Counts())
}
