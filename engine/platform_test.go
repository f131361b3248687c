package engine

import (
	"context"
	"strings"
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

// archImage is a random image whose config says linux/arch.
func archImage(t *testing.T, arch string) v1.Image {
	t.Helper()
	img, err := random.Image(1024, 1)
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

// pushArchIndex pushes an index of one image per arch to ref and returns the children's
// digests by arch.
func pushArchIndex(t *testing.T, ref string, archs ...string) map[string]string {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	out := map[string]string{}
	for _, a := range archs {
		img := archImage(t, a)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: a}}})
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		out[a] = d.String()
	}
	r, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
	return out
}

// A platform list: jobs asking for the same list (in any order) run once, the destination
// gets exactly the listed children, the job reports the source index it differs from,
// and a rerun verifying digests finds the same index; an image lacking a listed platform
// fails, named with the platforms it has.
func TestPoolPlatformList(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	kids := pushArchIndex(t, src.Host+"/app:1", "amd64", "arm64", "s390x")
	pushArchIndex(t, src.Host+"/old:1", "amd64")
	c := newClient(t)
	ctx := context.Background()
	list := func(s string) ImageJob {
		j := job(src.Host+"/app:1", dst.Host)
		j.Platform = registry.MustParsePlatform(s)
		return j
	}

	pool := NewPool(ctx, PoolOptions{Concurrency: 2, Client: c, Policy: Policy{SkipExisting: true}})
	a := pool.Submit(list("linux/amd64,linux/arm64"))
	b := pool.Submit(list("linux/arm64,linux/amd64"))
	single := pool.Submit(list("linux/arm64"))
	old := job(src.Host+"/old:1", dst.Host)
	old.Platform = registry.MustParsePlatform("linux/amd64,linux/arm64")
	missing := pool.Submit(old)
	res := pool.Close()
	if a != b || single == a || len(res) != 3 {
		t.Fatalf("the same list in another order got its own job (%d results)", len(res))
	}
	r := a.Wait(ctx)
	if r.Outcome != OutcomeCopied || r.SourceIndex == "" || r.SourceIndex == r.DestDigest {
		t.Fatalf("list job: %s, source index %q, destination %s: want copied into a new index", r.Outcome, r.SourceIndex, r.DestDigest)
	}
	dest := job(src.Host+"/app:1", dst.Host).Destination
	got, err := c.IndexManifests(ctx, dest, r.DestDigest)
	if err != nil {
		t.Fatal(err)
	}
	var children []string
	for _, m := range got[1:] {
		children = append(children, m.Digest.String())
	}
	if strings.Join(children, " ") != kids["amd64"]+" "+kids["arm64"] {
		t.Fatalf("destination children %v, want amd64 and arm64 only", children)
	}
	m := missing.Wait(ctx)
	if m.Outcome != OutcomeFailed || !strings.Contains(m.Err.Error(), src.Host+"/old:1") || !strings.Contains(m.Err.Error(), "lacks linux/arm64 (it has: linux/amd64)") {
		t.Fatalf("missing platform: %s, %v; want a failure naming the image and its platforms", m.Outcome, m.Err)
	}

	// The filtered index's digest is stable: verifying finds it the same.
	again := NewPool(ctx, PoolOptions{Concurrency: 2, Client: c, Policy: Policy{SkipExisting: true, VerifyDigest: true}})
	pa := again.Submit(list("linux/amd64,linux/arm64"))
	again.Close()
	if r2 := pa.Wait(ctx); r2.Outcome != OutcomeSkippedSameDigest || r2.DestDigest != r.DestDigest {
		t.Fatalf("rerun: %s (%s), want skipped-same-digest at %s", r2.Outcome, r2.DestDigest, r.DestDigest)
	}
}
