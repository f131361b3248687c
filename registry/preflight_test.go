package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

func TestOCIPreflightOneHeadPerTag(t *testing.T) {
	reg := registrytest.New(t)
	img := randomImage(t)
	d, _ := img.Digest()
	for _, tag := range []string{"a", "b"} {
		ref, _ := name.NewTag(reg.Host+"/mirror/app:"+tag, name.Insecure)
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
	}
	reg.Reset()
	p := newTestClient(t, ClientOptions{Insecure: []string{reg.Host}}).OCIPreflight()
	ref := func(tag string) ImageRef { return ImageRef{Registry: reg.Host, Repository: "mirror/app", Tag: tag} }
	want := map[string]bool{"a": true, "b": true, "missing": false}
	g, ctx := errgroup.WithContext(context.Background())
	for i := range 60 {
		tag := []string{"a", "b", "missing"}[i%3]
		g.Go(func() error {
			got, ok, err := p.TagDigest(ctx, ref(tag))
			if err != nil {
				return err
			}
			if ok != want[tag] || (ok && got != d.String()) {
				return fmt.Errorf("TagDigest %s = %s %v", tag, got, ok)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if n := reg.Count(registrytest.ManifestHead); n != 3 {
		t.Fatalf("manifest HEADs for 60 questions on 3 tags = %d, want 3 (%v)", n, reg.Requests())
	}
	if n := reg.Count(registrytest.ManifestGet) + reg.Count(registrytest.BlobGet); n != 0 {
		t.Fatalf("%d GETs, want none", n)
	}
	if n := reg.Count(registrytest.Other); n != 0 {
		t.Fatalf("%d other requests (GET /v2/ pings), want none", n)
	}
	// Pushes and deletions of the run update the answers without asking again.
	before := len(reg.Requests())
	p.Record(ref("missing"), d.String())
	p.Forget(ref("a"))
	if got, ok, _ := p.TagDigest(context.Background(), ref("missing")); !ok || got != d.String() {
		t.Fatal("recorded tag not seen")
	}
	if _, ok, _ := p.TagDigest(context.Background(), ref("a")); ok {
		t.Fatal("forgotten tag still seen")
	}
	if len(reg.Requests()) != before {
		t.Fatalf("%d requests after Record/Forget, want 0", len(reg.Requests())-before)
	}
	// A digest-only reference is one HEAD of the digest.
	if got, ok, err := p.TagDigest(context.Background(), ImageRef{Registry: reg.Host, Repository: "mirror/app", Digest: d.String()}); !ok || err != nil || got != d.String() {
		t.Fatalf("digest reference: %s %v %v", got, ok, err)
	}
}

func TestOCIPreflightFailureIsRetried(t *testing.T) {
	reg := registrytest.New(t)
	p := newTestClient(t, ClientOptions{Insecure: []string{reg.Host}, Retries: -1}).OCIPreflight()
	ref := ImageRef{Registry: reg.Host, Repository: "x/y", Tag: "1"}
	reg.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusForbidden)
			return true
		}
		return false
	})
	if _, _, err := p.TagDigest(context.Background(), ref); err == nil {
		t.Fatal("HEAD answered 403: want an error")
	}
	reg.Intercept(nil)
	if _, ok, err := p.TagDigest(context.Background(), ref); err != nil || ok {
		t.Fatalf("after the registry recovered: %v %v, want not found and no error", ok, err)
	}
}

func TestPreflightCacheCoalescesFillAndKeepsRunChanges(t *testing.T) {
	release, started := make(chan struct{}), make(chan struct{}, 2)
	var mu sync.Mutex
	lists := 0
	c := NewPreflightCache(func(ctx context.Context, registry, repository string) (map[string]string, error) {
		mu.Lock()
		lists++
		n := lists
		mu.Unlock()
		started <- struct{}{}
		<-release
		if n == 1 {
			return nil, errors.New("throttled")
		}
		return map[string]string{"old": "sha256:1", "gone": "sha256:2"}, nil
	}, nil)
	ref := func(tag string) ImageRef { return ImageRef{Registry: "r", Repository: "p", Tag: tag} }
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Go(func() {
			_, _, err := c.TagDigest(context.Background(), ref("old"))
			errs <- err
		})
	}
	<-started // the fill is in flight: change the repository under it
	c.Record(ref("new"), "sha256:3")
	c.Forget(ref("gone"))
	close(release)
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if err != nil {
			failed++
		}
	}
	if failed != 1 || lists != 2 {
		t.Fatalf("%d callers failed and %d fills ran; want the failing fill's caller only, then one retry", failed, lists)
	}
	if d, ok, _ := c.TagDigest(context.Background(), ref("old")); !ok || d != "sha256:1" {
		t.Fatal("listed tag lost")
	}
	if _, ok, _ := c.TagDigest(context.Background(), ref("gone")); ok {
		t.Fatal("tag forgotten during the fill came back")
	}
}
