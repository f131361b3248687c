package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/airgap-charts/airgap-charts/registry"
)

// A rerun that finds what the last run recorded leaves the record's file alone; a new
// referrer, a changed listing or a new image is written, and read back as written.
func TestReferrerMemoIsWrittenOnlyWhenSomethingIsNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "referrers.json")
	subject := v1.Descriptor{MediaType: "application/vnd.oci.image.manifest.v1+json", Size: 10,
		Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}, Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}
	sig := v1.Descriptor{MediaType: "application/vnd.oci.image.manifest.v1+json", Size: 5,
		Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("b", 64)}, ArtifactType: "application/vnd.dev.cosign.artifact.sig.v1+json",
		Annotations: map[string]string{"k": "v"}}
	result := func(referrers []string, listing []v1.Descriptor) registry.ReferrersResult {
		return registry.ReferrersResult{AtDestination: map[string][]string{subject.Digest.String(): referrers},
			Listings: map[string][]v1.Descriptor{subject.Digest.String(): listing}}
	}
	// The last run's record, as it left it.
	m := loadReferrerMemo(path)
	m.put("reg/app@sha256:11", []v1.Descriptor{subject}, result([]string{sig.Digest.String()}, []v1.Descriptor{sig}))
	if err := m.save(); err != nil {
		t.Fatal(err)
	}
	written, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rerun := func(key string, r registry.ReferrersResult) bool {
		t.Helper()
		if err := os.WriteFile(path, written, 0o644); err != nil {
			t.Fatal(err)
		}
		stale := []byte(`{"images":{}}`) // what save would leave if it wrote the record from scratch
		m := loadReferrerMemo(path)
		if got := m.known("reg/app@sha256:11"); !got[sig.Digest.String()] {
			t.Fatalf("read back: known referrers %v, want %s", got, sig.Digest)
		}
		m.put(key, []v1.Descriptor{subject}, r)
		if err := os.WriteFile(path, stale, 0o644); err != nil { // the file is rewritten only by a save that has something to write
			t.Fatal(err)
		}
		if err := m.save(); err != nil {
			t.Fatal(err)
		}
		now, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(now) != string(stale)
	}
	// The same findings, rebuilt as a rerun builds them (fresh maps and slices).
	same := sig
	same.Annotations = map[string]string{"k": "v"}
	if rerun("reg/app@sha256:11", result([]string{sig.Digest.String()}, []v1.Descriptor{same})) {
		t.Error("a rerun that found what was recorded wrote the record")
	}
	newSig := "sha256:" + strings.Repeat("c", 64)
	if !rerun("reg/app@sha256:11", result([]string{sig.Digest.String(), newSig}, []v1.Descriptor{sig})) {
		t.Error("a new referrer at the destination was not written")
	}
	changed := sig
	changed.Annotations = map[string]string{"k": "other"}
	if !rerun("reg/app@sha256:11", result([]string{sig.Digest.String()}, []v1.Descriptor{changed})) {
		t.Error("a changed listing was not written")
	}
	if !rerun("reg/other@sha256:22", result([]string{sig.Digest.String()}, []v1.Descriptor{sig})) {
		t.Error("a new image was not written")
	}
}
