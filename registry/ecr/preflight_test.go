package ecr

import (
	"context"
	"fmt"
	"github.com/airgap-charts/airgap-charts/registry"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"

	"github.com/airgap-charts/airgap-charts/registry/ecrsim"
)

// seedTags pushes images into repo and tags them n times in all; it returns tag → digest.
func seedTags(t *testing.T, sim *ecrsim.Sim, repo string, n int) map[string]string {
	t.Helper()
	ctx := context.Background()
	seeder := newECR(t, sim, func(o *Options) { o.CreateRepositories = true })
	if err := seeder.EnsureRepository(ctx, repo); err != nil {
		t.Fatal(err)
	}
	imgs := []v1.Image{randomImage(t), randomImage(t), randomImage(t)}
	want := map[string]string{}
	for i, img := range imgs {
		if err := push(seeder, fmt.Sprintf("%s/%s:seed-%d", sim.Host, repo, i), img); err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		want[fmt.Sprintf("seed-%d", i)] = d.String()
	}
	// The extra tags go straight into the registry behind the simulator (faster; the
	// simulator lists what the registry holds).
	pusher, err := remote.NewPusher()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i := len(imgs); i < n; i++ {
		img := imgs[i%len(imgs)]
		tag := fmt.Sprintf("v%04d", i)
		g.Go(func() error {
			ref, err := name.NewTag(sim.Backend.Host+"/"+repo+":"+tag, name.Insecure)
			if err != nil {
				return err
			}
			if err := pusher.Push(gctx, ref, img); err != nil {
				return err
			}
			d, _ := img.Digest()
			mu.Lock()
			want[tag] = d.String()
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	return want
}

func TestECRBatchPreflightListsEachRepositoryOnce(t *testing.T) {
	sim := ecrsim.New(t)
	const repo = "team/big/app"
	want := seedTags(t, sim, repo, 2500)

	e := newECR(t, sim, nil) // a new run: nothing cached
	sim.ResetCounts()
	ctx := context.Background()
	tags := make([]string, 0, len(want))
	for tag := range want {
		tags = append(tags, tag)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, tag := range tags {
		g.Go(func() error {
			d, ok, err := e.TagDigest(gctx, registry.ImageRef{Registry: sim.Host, Repository: repo, Tag: tag})
			if err != nil {
				return err
			}
			if !ok || d != want[tag] {
				return fmt.Errorf("TagDigest %s = %s %v, want %s", tag, d, ok, want[tag])
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := sim.Calls("ListImages"); got != 3 {
		t.Fatalf("ListImages calls for 2500 tags = %d, want 3 pages", got)
	}
	// Warm: any number of further questions cost nothing.
	for _, tag := range append(tags, "missing-1", "missing-2") {
		if _, _, err := e.TagDigest(ctx, registry.ImageRef{Registry: sim.Host, Repository: repo, Tag: tag}); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok, _ := e.TagDigest(ctx, registry.ImageRef{Registry: sim.Host, Repository: repo, Tag: "missing-1"}); ok {
		t.Fatal("a missing tag reported as existing")
	}
	if sim.TotalCalls() != 3 || len(sim.Requests()) != 0 {
		t.Fatalf("after the fill: %d control-plane calls (want 3), %d registry requests (want 0)", sim.TotalCalls(), len(sim.Requests()))
	}
	// A push the run makes is seen without listing again.
	e.Record(registry.ImageRef{Registry: sim.Host, Repository: repo, Tag: "new"}, want["seed-0"])
	if d, ok, _ := e.TagDigest(ctx, registry.ImageRef{Registry: sim.Host, Repository: repo, Tag: "new"}); !ok || d != want["seed-0"] || sim.TotalCalls() != 3 {
		t.Fatalf("recorded tag: %s %v after %d calls", d, ok, sim.TotalCalls())
	}
	// A digest-only reference: known digests answer from the cache, others ask once.
	if _, ok, _ := e.TagDigest(ctx, registry.ImageRef{Registry: sim.Host, Repository: repo, Digest: want["seed-1"]}); !ok || sim.TotalCalls() != 3 {
		t.Fatal("digest of a listed tag not answered from the cache")
	}
	unknown := "sha256:" + fmt.Sprintf("%064d", 7)
	for range 2 {
		if _, ok, err := e.TagDigest(ctx, registry.ImageRef{Registry: sim.Host, Repository: repo, Digest: unknown}); ok || err != nil {
			t.Fatalf("unknown digest: %v %v", ok, err)
		}
	}
	if sim.Calls("DescribeImages") != 1 {
		t.Fatalf("DescribeImages calls for one unknown digest asked twice = %d, want 1", sim.Calls("DescribeImages"))
	}
}

func TestECRBatchPreflightMissingRepositoryIsEmpty(t *testing.T) {
	sim := ecrsim.New(t)
	e := newECR(t, sim, nil)
	sim.ResetCounts()
	for _, tag := range []string{"1", "2", "3"} {
		d, ok, err := e.TagDigest(context.Background(), registry.ImageRef{Registry: sim.Host, Repository: "not/yet", Tag: tag})
		if err != nil || ok || d != "" {
			t.Fatalf("TagDigest in a missing repository = %q %v %v, want not found", d, ok, err)
		}
	}
	if sim.Calls("ListImages") != 1 {
		t.Fatalf("ListImages calls = %d, want 1 (RepositoryNotFound cached as empty)", sim.Calls("ListImages"))
	}
	if _, _, err := e.TagDigest(context.Background(), registry.ImageRef{Registry: "docker.io", Repository: "x/y", Tag: "1"}); err == nil {
		t.Fatal("TagDigest of another registry's image: want an error")
	}
}
