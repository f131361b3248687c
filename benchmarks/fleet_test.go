package benchmarks

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/repo"
	"sigs.k8s.io/yaml"
)

func TestFleetIsDeterministic(t *testing.T) {
	a, err := NewFleet(FleetOptions{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewFleet(FleetOptions{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewFleet(FleetOptions{Seed: 8})
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.Images {
		if a.Images[i].Digest != b.Images[i].Digest {
			t.Fatalf("image %d: digest %s vs %s with the same seed", i, a.Images[i].Digest, b.Images[i].Digest)
		}
	}
	if a.Images[0].Digest == c.Images[0].Digest {
		t.Fatalf("seeds 7 and 8 gave the same first image %s", a.Images[0].Digest)
	}
}

func TestFleetShape(t *testing.T) {
	f, err := NewFleet(FleetOptions{Seed: 1, Charts: 12, Images: 30})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Images) != 30 || len(f.Charts) != 12 {
		t.Fatalf("got %d images / %d charts, want 30 / 12", len(f.Images), len(f.Charts))
	}
	used := map[int]int{}
	pinned, multi := 0, 0
	for _, c := range f.Charts {
		if len(c.Uses) < 2 || len(c.Uses) > 6 {
			t.Errorf("chart %s has %d images, want 2–6", c.Name, len(c.Uses))
		}
		for _, u := range c.Uses {
			used[u.Image]++
			if u.Pinned {
				pinned++
			}
		}
	}
	shared := 0
	for i := range f.Images {
		if used[i] == 0 {
			t.Errorf("image %d (%s) is used by no chart", i, f.Images[i].Ref("src"))
		}
		if used[i] > 1 {
			shared++
		}
		if f.Images[i].MultiArch {
			multi++
		}
	}
	if pinned == 0 || shared == 0 || multi == 0 || multi == len(f.Images) {
		t.Fatalf("pinned=%d shared=%d multi-arch=%d of %d: want some of each", pinned, shared, multi, len(f.Images))
	}
	// Distinct blob accounting: recount from the images themselves.
	distinct := map[v1.Hash]bool{}
	refs := 0
	for _, img := range f.Images {
		for _, b := range img.Blobs {
			distinct[b] = true
		}
		refs += len(img.Blobs)
	}
	if f.DistinctBlobs() != len(distinct) {
		t.Fatalf("DistinctBlobs = %d, recount %d", f.DistinctBlobs(), len(distinct))
	}
	if f.DistinctBlobs() >= refs {
		t.Fatalf("no blob shared between images: %d distinct of %d references", f.DistinctBlobs(), refs)
	}
	if f.RepoBlobRefs() < f.DistinctBlobs() || f.RepoBlobRefs() > refs {
		t.Fatalf("RepoBlobRefs = %d, want between %d and %d", f.RepoBlobRefs(), f.DistinctBlobs(), refs)
	}
}

func TestFleetPushAndServe(t *testing.T) {
	ctx := context.Background()
	f, err := NewFleet(FleetOptions{Seed: 3, Charts: 4, Images: 8, MultiArchFraction: 0.5, PinnedFraction: 0.3})
	if err != nil {
		t.Fatal(err)
	}
	reg := registrytest.New(t)
	if err := f.Push(ctx, reg.Host); err != nil {
		t.Fatal(err)
	}
	// Blob uploads into an empty registry: each distinct blob is stored once per repository
	// it appears in (ggcr mounts nothing across repositories without a hint).
	blobsInRegistry := map[string]bool{}
	for _, q := range reg.Requests() {
		if q.Kind == registrytest.UploadEnd && q.Status == http.StatusCreated {
			blobsInRegistry[q.Repository] = true
		}
	}
	if len(blobsInRegistry) != len(f.Repositories()) {
		t.Fatalf("uploads went to %d repositories, want %d", len(blobsInRegistry), len(f.Repositories()))
	}
	sawIndex := false
	for _, img := range f.Images {
		ref, _ := name.NewTag(img.Ref(reg.Host), name.Insecure)
		desc, err := remote.Get(ref)
		if err != nil {
			t.Fatalf("get %s: %v", ref, err)
		}
		if desc.Digest != img.Digest {
			t.Fatalf("%s: registry digest %s, fleet %s", ref, desc.Digest, img.Digest)
		}
		if img.MultiArch {
			sawIndex = true
			idx, err := desc.ImageIndex()
			if err != nil {
				t.Fatal(err)
			}
			im, _ := idx.IndexManifest()
			var plats []string
			for _, m := range im.Manifests {
				plats = append(plats, m.Platform.String())
			}
			if strings.Join(plats, ",") != "linux/amd64,linux/arm64" {
				t.Fatalf("%s: platforms %v", ref, plats)
			}
		}
	}
	if !sawIndex {
		t.Fatal("no multi-arch index in the fleet")
	}

	dir := t.TempDir()
	cr, err := f.ServeCharts(filepath.Join(dir, "repo"))
	if err != nil {
		t.Fatal(err)
	}
	defer cr.Close()
	resp, err := http.Get(cr.URL + "/index.yaml")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	idxPath := filepath.Join(dir, "index.yaml")
	if err := os.WriteFile(idxPath, body, 0o644); err != nil {
		t.Fatal(err)
	}
	index, err := repo.LoadIndexFile(idxPath)
	if err != nil {
		t.Fatalf("served index.yaml: %v", err)
	}
	pinnedSeen := false
	for _, c := range f.Charts {
		cv, err := index.Get(c.Name, c.Version)
		if err != nil {
			t.Fatalf("index lacks %s %s: %v", c.Name, c.Version, err)
		}
		resp, err := http.Get(cr.URL + "/" + cv.URLs[0])
		if err != nil {
			t.Fatal(err)
		}
		ch, err := loader.LoadArchive(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s archive: %v", c.Name, err)
		}
		vals := ""
		for _, rf := range ch.Raw {
			if rf.Name == "values.yaml" {
				vals = string(rf.Data)
			}
		}
		for _, u := range c.Uses {
			if !strings.Contains(vals, f.Images[u.Image].Repository) {
				t.Fatalf("%s values lack %s", c.Name, f.Images[u.Image].Repository)
			}
			if u.Pinned {
				pinnedSeen = true
				if !strings.Contains(vals, f.Images[u.Image].Digest.String()) {
					t.Fatalf("%s values lack the pinned digest of %s", c.Name, f.Images[u.Image].Repository)
				}
			}
		}
	}
	if !pinnedSeen {
		t.Fatal("no chart pins an image by digest")
	}

	catPath := filepath.Join(dir, "catalog.yaml")
	if err := f.WriteCatalog(catPath, cr.URL); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(catPath)
	var cat struct{ Addons []map[string]string }
	if err := yaml.Unmarshal(raw, &cat); err != nil {
		t.Fatal(err)
	}
	if len(cat.Addons) != len(f.Charts) || cat.Addons[0]["repository"] != cr.URL || cat.Addons[0]["chart"] != f.Charts[0].Name {
		t.Fatalf("catalog: %s", raw)
	}
	for _, k := range []string{"chart", "repository", "oci_namespace", "version", "release"} {
		if _, ok := cat.Addons[0][k]; !ok {
			t.Fatalf("catalog entry lacks %q: %s", k, raw)
		}
	}
}

func TestFleetMoveTags(t *testing.T) {
	ctx := context.Background()
	f, err := NewFleet(FleetOptions{Seed: 5, Charts: 6, Images: 20})
	if err != nil {
		t.Fatal(err)
	}
	moved, err := f.MoveTags(0.05)
	if err != nil {
		t.Fatal(err)
	}
	if len(moved) != 1 {
		t.Fatalf("5%% of 20 tags: moved %d", len(moved))
	}
	n, size := f.MovedBlobs(moved)
	if n < 2 || size <= 0 {
		t.Fatalf("moved tag brings %d new blobs / %d bytes, want a new config and layer at least", n, size)
	}
	reg := registrytest.New(t)
	if err := f.Push(ctx, reg.Host); err != nil {
		t.Fatal(err)
	}
	img := f.Images[moved[0]]
	ref, _ := name.NewTag(img.Ref(reg.Host), name.Insecure)
	if err := f.ApplyMove(ctx, reg.Host, moved); err != nil {
		t.Fatal(err)
	}
	d, err := remote.Head(ref)
	if err != nil {
		t.Fatal(err)
	}
	if d.Digest == img.Digest {
		t.Fatalf("%s did not move", ref)
	}
	if err := f.RevertMove(ctx, reg.Host, moved); err != nil {
		t.Fatal(err)
	}
	if d, _ := remote.Head(ref); d == nil || d.Digest != img.Digest {
		t.Fatalf("%s not reverted", ref)
	}
}
