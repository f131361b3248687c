package registry

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// newTestClient builds a client with no docker config of the user's. Test registries
// listen in plain HTTP on 127.0.0.1: unless opts name insecure hosts, 127.0.0.1 (every
// port) is marked insecure, as a user would have to.
func newTestClient(t testing.TB, opts ClientOptions) *Client {
	t.Helper()
	if opts.Insecure == nil {
		opts.Insecure = []string{"127.0.0.1"}
	}
	return newStrictClient(t, opts)
}

// newStrictClient is newTestClient without the default insecure hosts.
func newStrictClient(t testing.TB, opts ClientOptions) *Client {
	t.Helper()
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	if _, set := os.LookupEnv("HELM_REGISTRY_CONFIG"); !set {
		t.Setenv("HELM_REGISTRY_CONFIG", filepath.Join(t.TempDir(), "none.json")) // not the user's
	}
	if opts.SpoolDir == "" {
		opts.SpoolDir = t.TempDir()
	}
	c, err := NewClient(opts)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// platformImage is a random image whose config says os/arch.
func platformImage(t testing.TB, os, arch string) v1.Image {
	t.Helper()
	img, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = os, arch
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// multiArch is an index of a linux/amd64 and a linux/arm64 image.
func multiArch(t *testing.T) (idx v1.ImageIndex, amd64, arm64 v1.Image) {
	t.Helper()
	amd64 = platformImage(t, "linux", "amd64")
	arm64 = platformImage(t, "linux", "arm64")
	idx = mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: amd64, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm64, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
	)
	return idx, amd64, arm64
}

func pushImage(t testing.TB, ref string, img v1.Image) {
	t.Helper()
	r, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
}

func pushIndex(t *testing.T, ref string, idx v1.ImageIndex) {
	t.Helper()
	r, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
}

// remoteDigest is the digest ref resolves to, by HEAD ("" when missing).
func remoteDigest(t *testing.T, ref string) string {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	d, err := remote.Head(r)
	if err != nil {
		if strings.Contains(err.Error(), "404") || strings.Contains(err.Error(), "MANIFEST_UNKNOWN") {
			return ""
		}
		t.Fatalf("head %s: %v", ref, err)
	}
	return d.Digest.String()
}

func digestOf(t *testing.T, d interface{ Digest() (v1.Hash, error) }) string {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

// countBy counts requests of kind with status matching ok.
func countBy(reg *registrytest.Registry, kind registrytest.Kind, ok func(int) bool) int {
	n := 0
	for _, q := range reg.Requests() {
		if q.Kind == kind && ok(q.Status) {
			n++
		}
	}
	return n
}

func success(s int) bool { return s > 0 && s < 400 }

// isManifestGet reports whether req is a manifest GET.
func isManifestGet(req *http.Request) bool {
	k, _ := registrytest.Classify(req)
	return k == registrytest.ManifestGet
}

func randomImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	return img
}
