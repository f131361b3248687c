package engine

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// fleet is a set of source images: four single-arch images and two multi-arch indexes
// (linux/amd64 + linux/arm64), every image built on the same two base layers.
type fleet struct {
	refs  []string        // source references
	blobs map[string]bool // distinct blob digests (configs and layers)
	tags  int             // destination manifests a cold copy puts (tags and index children)
}

func (f *fleet) addImage(t *testing.T, img v1.Image) {
	t.Helper()
	cfg, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	f.blobs[cfg.String()] = true
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		f.blobs[d.String()] = true
	}
}

// newFleet pushes the fleet into src under team/app0..3 and team/multi0..1, tag 1.
func newFleet(t *testing.T, src *registrytest.Registry) *fleet {
	t.Helper()
	base, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	baseLayers, err := base.Layers()
	if err != nil {
		t.Fatal(err)
	}
	build := func(arch string) v1.Image {
		own, err := random.Layer(1024, types.DockerLayer)
		if err != nil {
			t.Fatal(err)
		}
		img, err := mutate.AppendLayers(empty.Image, append(append([]v1.Layer(nil), baseLayers...), own)...)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cfg = cfg.DeepCopy()
		cfg.OS, cfg.Architecture = "linux", arch
		if img, err = mutate.ConfigFile(img, cfg); err != nil {
			t.Fatal(err)
		}
		return img
	}
	f := &fleet{blobs: map[string]bool{}}
	for i := range 4 {
		img := build("amd64")
		f.addImage(t, img)
		ref := fmt.Sprintf("%s/team/app%d:1", src.Host, i)
		tag, _ := name.NewTag(ref, name.Insecure)
		if err := remote.Write(tag, img); err != nil {
			t.Fatal(err)
		}
		f.refs = append(f.refs, ref)
		f.tags++
	}
	for i := range 2 {
		amd, arm := build("amd64"), build("arm64")
		f.addImage(t, amd)
		f.addImage(t, arm)
		idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
			mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
			mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
		)
		ref := fmt.Sprintf("%s/team/multi%d:1", src.Host, i)
		tag, _ := name.NewTag(ref, name.Insecure)
		if err := remote.WriteIndex(tag, idx); err != nil {
			t.Fatal(err)
		}
		f.refs = append(f.refs, ref)
		f.tags += 3
	}
	src.Reset()
	return f
}

// jobs are the fleet's jobs into dstHost under the prefix "mirror", submitted twice (two
// addons needing the same images).
func (f *fleet) run(ctx context.Context, opts PoolOptions, dstHost string) []JobResult {
	pool := NewPool(ctx, opts)
	for range 2 {
		for _, ref := range f.refs {
			pool.Submit(job(ref, dstHost))
		}
	}
	return pool.Close()
}

func failures(rs []JobResult) []error {
	var out []error
	for _, r := range rs {
		if r.Err != nil {
			out = append(out, r.Err)
		}
	}
	return out
}

// destinationRepos are the fleet's destination repositories.
func (f *fleet) destinationRepos() []string {
	var out []string
	for _, ref := range f.refs {
		out = append(out, "mirror/"+registry.MustParseImageRef(ref).Repository)
	}
	return out
}

// The fleet into a plain OCI registry: cold, source blob GETs equal distinct blobs and
// shared layers are mounted; warm with skip-existing, exactly one destination HEAD per
// image, no /v2/ ping, nothing from the source.
func TestPoolFleetOCIColdWarm(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	f := newFleet(t, src)
	ctx := context.Background()
	res := f.run(ctx, PoolOptions{Concurrency: 4, Client: newClient(t), Policy: Policy{SkipExisting: true}}, dst.Host)
	if errs := failures(res); len(errs) > 0 || byOutcome(res)[OutcomeCopied] != len(f.refs) {
		t.Fatalf("cold: %v %v", byOutcome(res), errs)
	}
	if got := src.Count(registrytest.BlobGet); got != len(f.blobs) {
		t.Fatalf("cold source blob GETs = %d, want %d distinct blobs", got, len(f.blobs))
	}
	if got := src.Count(registrytest.Other) + dst.Count(registrytest.Other); got != 0 {
		t.Fatalf("cold run sent %d GET /v2/ pings", got)
	}
	if dst.Count(registrytest.Mount) == 0 {
		t.Fatal("no shared base layer was mounted")
	}
	t.Logf("OCI cold: source %v; destination %v (%d distinct blobs)", src.Counts(), dst.Counts(), len(f.blobs))

	src.Reset()
	dst.Reset()
	res = f.run(ctx, PoolOptions{Concurrency: 4, Client: newClient(t), Policy: Policy{SkipExisting: true}}, dst.Host)
	if errs := failures(res); len(errs) > 0 || byOutcome(res)[OutcomeSkippedExisting] != len(f.refs) {
		t.Fatalf("warm: %v %v", byOutcome(res), errs)
	}
	if n := len(src.Requests()); n != 0 {
		t.Fatalf("warm source requests = %d (%v), want 0", n, src.Counts())
	}
	if got, heads := len(dst.Requests()), dst.Count(registrytest.ManifestHead); got != len(f.refs) || heads != len(f.refs) {
		t.Fatalf("warm destination requests = %d (%v), want exactly %d HEADs", got, dst.Counts(), len(f.refs))
	}
	t.Logf("OCI warm: source %d requests; destination %v for %d images", len(src.Requests()), dst.Counts(), len(f.refs))
}
