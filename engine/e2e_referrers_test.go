package engine

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/registry/referrertest"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// signSeeded signs a seeded image where the mirror serves it: a legacy cosign signature and
// a sigstore bundle on the index, an SBOM on each child. It returns the subjects (index
// first, then children).
func signSeeded(t *testing.T, w *e2eWorld, ref registry.ImageRef, s *referrertest.Signer) (name.Repository, []v1.Descriptor) {
	t.Helper()
	repo, err := name.NewRepository(w.src.Host+"/"+ref.Registry+"/"+ref.Repository, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	got, err := remote.Get(repo.Tag(ref.Tag))
	if err != nil {
		t.Fatal(err)
	}
	idx, err := v1.ParseIndexManifest(strings.NewReader(string(got.Manifest)))
	if err != nil {
		t.Fatal(err)
	}
	subjects := append([]v1.Descriptor{got.Descriptor}, idx.Manifests...)
	referrertest.LegacySignature(t, repo, got.Digest, s)
	referrertest.Bundle(t, repo, got.Descriptor, s)
	for _, c := range idx.Manifests {
		referrertest.SBOM(t, repo, c)
	}
	return repo, subjects
}

// kyvernoPolicy is the part of a Kyverno ClusterPolicy the written one must fill.
type kyvernoPolicy struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Spec       struct {
		Rules []struct {
			VerifyImages []struct {
				ImageReferences []string `json:"imageReferences"`
				Attestors       []struct {
					Entries []struct {
						Keys struct {
							PublicKeys string `json:"publicKeys"`
						} `json:"keys"`
					} `json:"entries"`
				} `json:"attestors"`
			} `json:"verifyImages"`
		} `json:"rules"`
	} `json:"spec"`
}

// A signed image crosses with its signatures and SBOMs: the destination lists the same
// referrers as the source for the index and each child; its signature verified first; the
// Kyverno policy names the private repository and the key. A rerun writes nothing and
// asks the destination nothing about referrers; a signature added at the source since is
// the one thing the next run copies.
func TestE2EReferrersCrossVerifiedWithPolicy(t *testing.T) {
	w := newE2EWorld(t, []string{"alertmanager"})
	signer := referrertest.NewSigner(t)
	ref := w.expected["alertmanager"][0]
	srcRepo, subjects := signSeeded(t, w, ref, signer)
	dst := registrytest.New(t)
	out := t.TempDir()
	opts := w.options(dst.Host, out)
	opts.VerifyKeys = []string{signer.WriteKeyFile(t, t.TempDir(), "cosign.pub")}
	ctx := context.Background()
	rep, err := runChecked(t, ctx, opts, e2eLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	checkAddonsSucceeded(t, rep)
	img := rep.Addons[0].Images[0]
	if img.Signature == nil || !strings.Contains(img.Signature.By, "cosign.pub") {
		t.Errorf("image signature: %+v", img.Signature)
	}
	if img.Referrers == nil || len(img.Referrers.Copied) != 4 || rep.Totals.ReferrersCopied != 4 {
		t.Fatalf("referrers: %+v (totals %d)", img.Referrers, rep.Totals.ReferrersCopied)
	}
	dstRef := registry.MustParseImageRef(img.Destination)
	dstRepo, _ := name.NewRepository(dstRef.Name(), name.Insecure)
	for _, s := range subjects {
		want := referrertest.List(t, srcRepo, s.Digest, nil)
		if got := referrertest.List(t, dstRepo, s.Digest, nil); !reflect.DeepEqual(got, want) || len(want) == 0 {
			t.Errorf("referrers of %s: destination %v, source %v", s.Digest, got, want)
		}
	}

	data, err := os.ReadFile(rep.Addons[0].VerifyPolicy)
	if err != nil {
		t.Fatalf("verification policy: %v", err)
	}
	var pol kyvernoPolicy
	if err := sigsyaml.Unmarshal(data, &pol); err != nil {
		t.Fatal(err)
	}
	if pol.APIVersion != "kyverno.io/v1" || pol.Kind != "ClusterPolicy" || len(pol.Spec.Rules) != 1 || len(pol.Spec.Rules[0].VerifyImages) != 1 {
		t.Fatalf("policy: %+v", pol)
	}
	vi := pol.Spec.Rules[0].VerifyImages[0]
	if !reflect.DeepEqual(vi.ImageReferences, []string{dstRef.Name() + ":*", dstRef.Name() + "@*"}) ||
		vi.Attestors[0].Entries[0].Keys.PublicKeys != string(signer.PublicKeyPEM(t)) {
		t.Errorf("policy verifies %v with %q", vi.ImageReferences, vi.Attestors[0].Entries[0].Keys.PublicKeys)
	}
	if filepath.Dir(rep.Addons[0].VerifyPolicy) != filepath.Dir(rep.Addons[0].ConsumerOverrides) {
		t.Errorf("policy %s is not beside the consumer overrides %s", rep.Addons[0].VerifyPolicy, rep.Addons[0].ConsumerOverrides)
	}

	w.src.Reset()
	dst.Reset()
	again, err := runChecked(t, ctx, opts, e2eLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	checkAddonsSucceeded(t, again)
	if n := writes(dst.Counts()); n != 0 {
		t.Errorf("rerun wrote to the destination: %v", dst.Counts())
	}
	for _, q := range dst.Requests() {
		if strings.HasPrefix(q.Repository, "mirror/") && (strings.Contains(q.Path, "sha256") || strings.Contains(q.Path, "/referrers/")) {
			t.Errorf("rerun asked the destination about referrers: %s %s", q.Method, q.Path)
		}
	}

	fresh := referrertest.Bundle(t, srcRepo, subjects[0], referrertest.NewSigner(t))
	third, err := runChecked(t, ctx, opts, e2eLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	checkAddonsSucceeded(t, third)
	if got := third.Addons[0].Images[0].Referrers; got == nil || !reflect.DeepEqual(got.Copied, []string{fresh.Digest.String()}) {
		t.Errorf("after a new signature at the source the run copied %+v, want only %s", got, fresh.Digest)
	}
	if got, want := referrertest.List(t, dstRepo, subjects[0].Digest, nil), referrertest.List(t, srcRepo, subjects[0].Digest, nil); !reflect.DeepEqual(got, want) {
		t.Errorf("index referrers after the new signature: destination %v, source %v", got, want)
	}
}

// An image signed by another key fails verification: it is not copied and its chart is
// not published; an addon whose image verifies is.
func TestE2EBadSignatureNotPublished(t *testing.T) {
	w := newE2EWorld(t, []string{"alertmanager", "metrics-server"})
	good, other := referrertest.NewSigner(t), referrertest.NewSigner(t)
	signSeeded(t, w, w.expected["alertmanager"][0], good)
	signSeeded(t, w, w.expected["metrics-server"][0], other)
	dst := registrytest.New(t)
	opts := w.options(dst.Host, t.TempDir())
	opts.VerifyKeys = []string{good.WriteKeyFile(t, t.TempDir(), "cosign.pub")}
	rep, err := runChecked(t, context.Background(), opts, e2eLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	am, ms := addonReport(t, rep, "alertmanager"), addonReport(t, rep, "metrics-server")
	if am.Status != StatusSuccess {
		t.Errorf("alertmanager: %s: %s", am.Status, am.Error)
	}
	if ms.Status != StatusError || ms.Stage != "images" || !strings.Contains(ms.Error, "metrics-server") || !strings.Contains(ms.Error, "does not verify") {
		t.Errorf("metrics-server: %s at %s: %s", ms.Status, ms.Stage, ms.Error)
	}
	if ms.ChartRef != "" || chartPushes(dst, "metrics-server") != 0 {
		t.Errorf("metrics-server chart published (%q) though its image did not verify", ms.ChartRef)
	}
	for _, q := range dst.Requests() {
		if strings.Contains(q.Repository, "metrics-server/metrics-server") && q.Method != "HEAD" && q.Method != "GET" {
			t.Fatalf("the unverified image was written to the destination: %s %s", q.Method, q.Path)
		}
	}
}
