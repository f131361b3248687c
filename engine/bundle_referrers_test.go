package engine

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/registry/bundle"
	"github.com/airgap-charts/airgap-charts/registry/ecrsim"
	"github.com/airgap-charts/airgap-charts/registry/referrertest"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// exportBundleWith exports w's charts into dir with the run options set adjusts.
func exportBundleWith(t *testing.T, w *e2eWorld, dir string, set func(*Options)) *ExportResult {
	t.Helper()
	opts := w.options("unused.invalid", t.TempDir())
	set(&opts)
	res, err := Export(context.Background(), opts, ExportOptions{Dir: dir}, e2eLogger(t))
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	for _, a := range res.Addons {
		if a.Status != StatusSuccess {
			t.Fatalf("export addon %s: %s %s", a.Addon, a.Status, a.Error)
		}
	}
	return res
}

// importChecked imports dir into opts' destination and fails the test when the import
// reached the sources.
func importChecked(t *testing.T, w *e2eWorld, opts Options, dir string) (*ImportResult, error) {
	t.Helper()
	w.src.Reset()
	w.charts.Reset()
	w.deps.Reset()
	ir, err := Import(context.Background(), opts, ImportOptions{From: dir}, e2eLogger(t))
	if n := len(w.src.Requests()) + w.charts.ArchiveRequests() + w.charts.Count("/index.yaml") + w.deps.Count("/index.yaml"); n != 0 {
		t.Errorf("import reached the sources (%d requests): %v", n, w.src.Counts())
	}
	return ir, err
}

// imageReport is the report of the image ref in rep.
func imageReport(t *testing.T, rep *Report, ref registry.ImageRef) ImageReport {
	t.Helper()
	for _, a := range rep.Addons {
		for _, im := range a.Images {
			if got, err := registry.ParseImageRef(im.Source); err == nil && got.Name() == ref.Name() && got.Tag == ref.Tag {
				return im
			}
		}
	}
	t.Fatalf("no report of image %s", ref)
	return ImageReport{}
}

// copiedReferrers are the referrer digests the run copied for ref, sorted.
func copiedReferrers(t *testing.T, rep *Report, ref registry.ImageRef) []string {
	t.Helper()
	im := imageReport(t, rep, ref)
	if im.Referrers == nil {
		return nil
	}
	out := append([]string(nil), im.Referrers.Copied...)
	sort.Strings(out)
	return out
}

// A signed image's referrers travel in the bundle: a legacy cosign signature (the
// sha256-<hex>.sig tag) and a sigstore bundle (OCI 1.1 referrer) on the index, an SBOM on
// each child. The import, reading nothing from the sources, verifies the signature with
// --verify-signatures and leaves at the destination (a distribution registry, the ECR
// simulator) the referrers the source lists for every subject, the same digests a direct
// sync copies; a wrong key fails the addon; a bundle exported with --referrers none carries
// none and refuses --verify-signatures naming its bundle.json.
func TestBundleReferrersTravel(t *testing.T) {
	w := newE2EWorld(t, []string{"alertmanager"})
	signer := referrertest.NewSigner(t)
	ref := w.expected["alertmanager"][0]
	srcRepo, subjects := signSeeded(t, w, ref, signer)
	want := map[v1.Hash][]string{}
	for _, s := range subjects {
		want[s.Digest] = referrertest.List(t, srcRepo, s.Digest, nil)
		if len(want[s.Digest]) == 0 {
			t.Fatalf("no referrers of %s at the source", s.Digest)
		}
	}
	key := signer.WriteKeyFile(t, t.TempDir(), "cosign.pub")

	dir := filepath.Join(t.TempDir(), "bundle")
	res := exportBundleWith(t, w, dir, func(*Options) {})
	if m := res.Manifest; m.Referrers != registry.ReferrersAll || len(m.Images) != 1 || len(m.Images[0].Referrers) != 4 {
		t.Fatalf("bundle: referrers %q, %d images, referrers %+v; want all, 1 image with 4", m.Referrers, len(m.Images), m.Images)
	}

	// A second export plans the same blobs in the same order (what resuming relies on).
	again := exportBundleWith(t, w, filepath.Join(t.TempDir(), "again"), func(*Options) {}).Manifest
	if !reflect.DeepEqual(blobDigests(again), blobDigests(res.Manifest)) {
		t.Errorf("two exports planned the blobs differently:\n %v\n %v", blobDigests(res.Manifest), blobDigests(again))
	}

	_, _, srep := directSync(t, w, nil)
	wantCopied := copiedReferrers(t, srep, ref)
	if len(wantCopied) != 4 {
		t.Fatalf("direct sync copied referrers %v, want 4", wantCopied)
	}

	check := func(t *testing.T, rep *Report, auth authn.Authenticator) {
		t.Helper()
		checkAddonsSucceeded(t, rep)
		im := imageReport(t, rep, ref)
		if im.Signature == nil || !strings.Contains(im.Signature.By, "cosign.pub") {
			t.Errorf("signature on import: %+v", im.Signature)
		}
		if got := copiedReferrers(t, rep, ref); !reflect.DeepEqual(got, wantCopied) {
			t.Errorf("import copied referrers %v, a direct sync %v", got, wantCopied)
		}
		dstRepo, err := name.NewRepository(registry.MustParseImageRef(im.Destination).Name(), name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range subjects {
			if got := referrertest.List(t, dstRepo, s.Digest, auth); !reflect.DeepEqual(got, want[s.Digest]) {
				t.Errorf("referrers of %s: destination %v, source %v", s.Digest, got, want[s.Digest])
			}
		}
	}

	t.Run("oci", func(t *testing.T) {
		dst := registrytest.New(t)
		opts := bundleImportOptions(dst.Host, t.TempDir())
		opts.VerifyKeys = []string{key}
		ir, err := importChecked(t, w, opts, dir)
		if err != nil {
			t.Fatal(err)
		}
		check(t, ir.Report, nil)
	})

	t.Run("ecr", func(t *testing.T) {
		sim := ecrsim.New(t)
		cfg := sim.AWSConfig()
		opts := bundleImportOptions(sim.Host, t.TempDir())
		opts.TargetKind = "ecr"
		opts.ECR = ECROptions{CreateRepositories: true, Endpoint: sim.URL, AWSConfig: &cfg, PutImageRate: 1000, LayerUploadRate: 1000}
		opts.VerifyKeys = []string{key}
		ir, err := importChecked(t, w, opts, dir)
		if err != nil {
			t.Fatal(err)
		}
		reg, _ := name.NewRegistry(sim.Host, name.Insecure)
		auth, err := newECRRun(t, sim, nil).ecr.Keychain().Resolve(reg)
		if err != nil {
			t.Fatal(err)
		}
		check(t, ir.Report, auth)
	})

	t.Run("delta", func(t *testing.T) {
		dst := registrytest.New(t)
		opts := bundleImportOptions(dst.Host, t.TempDir())
		opts.VerifyKeys = []string{key}
		receipt := filepath.Join(t.TempDir(), "receipt.json")
		if _, err := Import(context.Background(), opts, ImportOptions{From: dir, ReceiptOut: receipt}, e2eLogger(t)); err != nil {
			t.Fatal(err)
		}
		delta := filepath.Join(t.TempDir(), "delta")
		res, err := Export(context.Background(), w.options("unused.invalid", t.TempDir()), ExportOptions{Dir: delta, Receipt: receipt}, e2eLogger(t))
		if err != nil || res.Failed() {
			t.Fatalf("delta export: %v", err)
		}
		// The image's blobs are left out; its referrers travel (verified on import).
		carried := map[string]bool{}
		for _, b := range res.Manifest.Blobs {
			carried[b.Digest] = b.Part != 0
		}
		for _, r := range res.Manifest.Images[0].Referrers {
			if !carried[r.Digest] {
				t.Errorf("referrer %s left out of the delta bundle", r.Digest)
			}
		}
		if res.BlobsSkipped == 0 {
			t.Error("the delta bundle left nothing out")
		}
		dst.Reset()
		ir, err := importChecked(t, w, opts, delta)
		if err != nil {
			t.Fatal(err)
		}
		checkAddonsSucceeded(t, ir.Report)
		if im := imageReport(t, ir.Report, ref); im.Signature == nil || im.Signature.By == "" || im.Referrers == nil || len(im.Referrers.Copied) != 0 {
			t.Errorf("delta import: signature %+v, referrers %+v; want verified, nothing copied", im.Signature, im.Referrers)
		}
		if n := writes(dst.Counts()); n != 0 {
			t.Errorf("delta import of what the destination holds wrote to it: %v", dst.Counts())
		}
	})

	t.Run("types", func(t *testing.T) {
		sbomOnly := func(o *Options) { o.ReferrerTypes = []string{referrertest.SBOMArtifactType} }
		_, _, srep := directSync(t, w, sbomOnly)
		want := copiedReferrers(t, srep, ref)
		if len(want) != 2 {
			t.Fatalf("direct sync with --referrers-type copied %v, want the 2 SBOMs", want)
		}
		typed := filepath.Join(t.TempDir(), "typed")
		exportBundleWith(t, w, typed, sbomOnly)
		dst := registrytest.New(t)
		opts := bundleImportOptions(dst.Host, t.TempDir())
		opts.VerifyKeys = []string{key} // the index's signatures travelled for it, not copied
		ir, err := importChecked(t, w, opts, typed)
		if err != nil {
			t.Fatal(err)
		}
		checkAddonsSucceeded(t, ir.Report)
		if got := copiedReferrers(t, ir.Report, ref); !reflect.DeepEqual(got, want) {
			t.Errorf("import with the export's --referrers-type copied %v, a direct sync %v", got, want)
		}
		if im := imageReport(t, ir.Report, ref); im.Signature == nil || im.Signature.By == "" {
			t.Errorf("signature not verified: %+v", im.Signature)
		}
	})

	t.Run("wrong key", func(t *testing.T) {
		dst := registrytest.New(t)
		opts := bundleImportOptions(dst.Host, t.TempDir())
		opts.VerifyKeys = []string{referrertest.NewSigner(t).WriteKeyFile(t, t.TempDir(), "other.pub")}
		ir, _ := importChecked(t, w, opts, dir)
		if ir == nil || ir.Report == nil {
			t.Fatal("no report")
		}
		a := ir.Report.Addons[0]
		if a.Status != StatusError || !strings.Contains(a.Error, "does not verify") || a.ChartRef != "" {
			t.Errorf("import with another key: %s %q, chart %q; want the addon failed, not published", a.Status, a.Error, a.ChartRef)
		}
	})

	t.Run("none", func(t *testing.T) {
		none := filepath.Join(t.TempDir(), "bundle")
		res := exportBundleWith(t, w, none, func(o *Options) { o.Referrers = registry.ReferrersNone })
		if m := res.Manifest; m.Referrers != registry.ReferrersNone || len(m.Images[0].Referrers) != 0 {
			t.Fatalf("--referrers none: bundle referrers %q, %d", m.Referrers, len(m.Images[0].Referrers))
		}
		if len(res.Manifest.Blobs) >= len(mustManifest(t, dir).Blobs) {
			t.Errorf("--referrers none bundle has %d blobs, the full one %d", len(res.Manifest.Blobs), len(mustManifest(t, dir).Blobs))
		}
		dst := registrytest.New(t)
		opts := bundleImportOptions(dst.Host, t.TempDir())
		opts.VerifyKeys = []string{key}
		if _, err := Import(context.Background(), opts, ImportOptions{From: none}, e2eLogger(t)); err == nil ||
			!errors.As(err, new(*bundle.Error)) || !strings.Contains(err.Error(), filepath.Join(none, "bundle.json")) {
			t.Fatalf("--verify-signatures on a bundle without signatures: %v", err)
		}
		opts.VerifyKeys = nil
		ir, err := importChecked(t, w, opts, none)
		if err != nil {
			t.Fatal(err)
		}
		checkAddonsSucceeded(t, ir.Report)
		dstRepo, _ := name.NewRepository(registry.MustParseImageRef(imageReport(t, ir.Report, ref).Destination).Name(), name.Insecure)
		for _, s := range subjects {
			if got := referrertest.List(t, dstRepo, s.Digest, nil); len(got) != 0 {
				t.Errorf("referrers of %s at the destination after a --referrers none bundle: %v", s.Digest, got)
			}
		}
	})
}

func mustManifest(t *testing.T, dir string) *bundle.Manifest {
	t.Helper()
	m, err := bundle.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func blobDigests(m *bundle.Manifest) []string {
	var out []string
	for _, b := range m.Blobs {
		out = append(out, b.Digest)
	}
	return out
}

// directSync syncs w's addons straight into a fresh registry, set (nil: none) adjusting
// the options: the run a bundle's export and import are compared with.
func directSync(t *testing.T, w *e2eWorld, set func(*Options)) (*registrytest.Registry, Options, *Report) {
	t.Helper()
	direct := registrytest.New(t)
	opts := w.options(direct.Host, t.TempDir())
	if set != nil {
		set(&opts)
	}
	rep, err := Run(context.Background(), opts, e2eLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return direct, opts, rep
}
