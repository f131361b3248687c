package registry

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// An index copied with platform auto arrives intact: same index digest, every child.
func TestCopyIndexAutoKeepsDigests(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	idx, amd64, arm64 := multiArch(t)
	pushIndex(t, src.Host+"/team/app:1", idx)
	c := newTestClient(t, ClientOptions{Concurrency: 4})

	res, err := c.Copy(context.Background(), MustParseImageRef(src.Host+"/team/app:1"), MustParseImageRef(dst.Host+"/mirror/team/app:1"), PlatformAuto)
	if err != nil {
		t.Fatal(err)
	}
	want := digestOf(t, idx)
	if got := remoteDigest(t, dst.Host+"/mirror/team/app:1"); got != want {
		t.Fatalf("destination digest %s, want %s", got, want)
	}
	if res.SourceDigest != want || res.DestDigest != want {
		t.Fatalf("result digests %s/%s, want %s", res.SourceDigest, res.DestDigest, want)
	}
	for _, img := range []v1.Image{amd64, arm64} {
		d := digestOf(t, img)
		if got := remoteDigest(t, dst.Host+"/mirror/team/app@"+d); got != d {
			t.Fatalf("child %s missing in destination", d)
		}
	}
	// 2 images × (config + 2 layers), nothing shared.
	if res.Blobs != 6 || res.Mounted != 0 || res.Reused != 0 || res.Bytes <= 0 {
		t.Fatalf("result %+v, want 6 blobs uploaded", res)
	}
}

// linux/arm64 copies that child only and the tag points at it.
func TestCopySinglePlatformFromIndex(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	idx, amd64, arm64 := multiArch(t)
	pushIndex(t, src.Host+"/app:1", idx)
	c := newTestClient(t, ClientOptions{})

	res, err := c.Copy(context.Background(), MustParseImageRef(src.Host+"/app:1"), MustParseImageRef(dst.Host+"/app:1"), MustParsePlatform("linux/arm64"))
	if err != nil {
		t.Fatal(err)
	}
	want := digestOf(t, arm64)
	if got := remoteDigest(t, dst.Host+"/app:1"); got != want || res.DestDigest != want {
		t.Fatalf("tag points at %s (result %s), want the arm64 child %s", got, res.DestDigest, want)
	}
	if got := remoteDigest(t, dst.Host+"/app@"+digestOf(t, amd64)); got != "" {
		t.Fatalf("amd64 child was copied too")
	}
	sd, err := c.SourceDigest(context.Background(), MustParseImageRef(src.Host+"/app:1"), MustParsePlatform("linux/arm64"))
	if err != nil || sd != want {
		t.Fatalf("SourceDigest = %s, %v; want %s", sd, err, want)
	}
}

// A single-platform source and a platform it is not for: an error that says so.
func TestCopySingleArchPlatformMismatch(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	pushImage(t, src.Host+"/solo:1", platformImage(t, "linux", "amd64"))
	c := newTestClient(t, ClientOptions{})
	_, err := c.Copy(context.Background(), MustParseImageRef(src.Host+"/solo:1"), MustParseImageRef(dst.Host+"/solo:1"), MustParsePlatform("linux/arm64"))
	if err == nil || !strings.Contains(err.Error(), "single-platform image for linux/amd64, not linux/arm64") {
		t.Fatalf("err = %v, want a single-platform mismatch", err)
	}
	if dst.Count(registrytest.ManifestPut) != 0 {
		t.Fatalf("a manifest was pushed")
	}
	// The matching platform copies.
	if _, err := c.Copy(context.Background(), MustParseImageRef(src.Host+"/solo:1"), MustParseImageRef(dst.Host+"/solo:1"), MustParsePlatform("linux/amd64")); err != nil {
		t.Fatal(err)
	}
}

// sharedImages are two images with two layers in common.
func sharedImages(t *testing.T) (a, b v1.Image) {
	t.Helper()
	base, err := random.Image(4096, 2)
	if err != nil {
		t.Fatal(err)
	}
	add := func() v1.Image {
		l, err := random.Layer(4096, types.DockerLayer)
		if err != nil {
			t.Fatal(err)
		}
		img, err := mutate.AppendLayers(base, l)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	return add(), add()
}

// Two repositories sharing blobs: every source blob GET once, shared ones mounted.
func TestCopySharedBlobsPulledOnceAndMounted(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	a, b := sharedImages(t)
	pushImage(t, src.Host+"/a:1", a)
	pushImage(t, src.Host+"/b:1", b)
	src.Reset()
	c := newTestClient(t, ClientOptions{Concurrency: 4})

	results := make([]CopyResult, 2)
	var wg sync.WaitGroup
	for i, repo := range []string{"a", "b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := c.Copy(context.Background(), MustParseImageRef(src.Host+"/"+repo+":1"), MustParseImageRef(dst.Host+"/m/"+repo+":1"), PlatformAuto)
			if err != nil {
				t.Error(err)
			}
			results[i] = res
		}()
	}
	wg.Wait()
	// configs 2 + shared layers 2 + own layers 2.
	if got := src.Count(registrytest.BlobGet); got != 6 {
		t.Fatalf("source blob GETs = %d, want 6 (%v)", got, src.Counts())
	}
	if got := countBy(dst, registrytest.Mount, func(s int) bool { return s == 201 }); got != 2 {
		t.Fatalf("destination mounts = %d, want 2 (%v)", got, dst.Counts())
	}
	if results[0].Mounted+results[1].Mounted != 2 {
		t.Fatalf("results report %d+%d mounts, want 2", results[0].Mounted, results[1].Mounted)
	}
	for _, repo := range []string{"a", "b"} {
		want := map[string]v1.Image{"a": a, "b": b}[repo]
		if got := remoteDigest(t, dst.Host+"/m/"+repo+":1"); got != digestOf(t, want) {
			t.Fatalf("%s: digest %s, want %s", repo, got, digestOf(t, want))
		}
	}
}

// A registry that answers a mount with 202 (ECR without BLOB_MOUNTING): upload instead,
// one mount attempt only, and still one source GET per blob thanks to the spool.
func TestCopyMountRefusedFallsBackToUpload(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	a, b := sharedImages(t)
	pushImage(t, src.Host+"/a:1", a)
	pushImage(t, src.Host+"/b:1", b)
	src.Reset()
	var mu sync.Mutex
	mountAttempts := 0
	dst.Intercept(func(_ http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && r.URL.Query().Get("mount") != "" {
			mu.Lock()
			mountAttempts++
			mu.Unlock()
			r.URL.RawQuery = "" // the registry opens a plain upload session: 202
		}
		return false
	})
	c := newTestClient(t, ClientOptions{Concurrency: 2})
	ctx := context.Background()
	if _, err := c.Copy(ctx, MustParseImageRef(src.Host+"/a:1"), MustParseImageRef(dst.Host+"/a:1"), PlatformAuto); err != nil {
		t.Fatal(err)
	}
	res, err := c.Copy(ctx, MustParseImageRef(src.Host+"/b:1"), MustParseImageRef(dst.Host+"/b:1"), PlatformAuto)
	if err != nil {
		t.Fatal(err)
	}
	if mountAttempts != 1 {
		t.Fatalf("mount attempts = %d, want 1 then none", mountAttempts)
	}
	if res.Mounted != 0 || res.Blobs != 4 {
		t.Fatalf("result %+v, want 4 blobs, none mounted", res)
	}
	if got := src.Count(registrytest.BlobGet); got != 6 {
		t.Fatalf("source blob GETs = %d, want 6", got)
	}
	if got := remoteDigest(t, dst.Host+"/b:1"); got != digestOf(t, b) {
		t.Fatalf("b digest %s, want %s", got, digestOf(t, b))
	}
}

// --registry-mirror: the source comes from the mirror, the destination follows the ref.
func TestCopyPullsThroughMirror(t *testing.T) {
	mirror, dst := registrytest.New(t), registrytest.New(t)
	img := platformImage(t, "linux", "amd64")
	pushImage(t, mirror.Host+"/docker.io/bitnami/nginx:1", img)
	mirror.Reset()
	c := newTestClient(t, ClientOptions{Mirrors: map[string]string{"docker.io": mirror.Host + "/docker.io"}})
	src := MustParseImageRef("docker.io/bitnami/nginx:1")
	dref := MirrorLayout{Registry: dst.Host, Prefix: "p"}.Destination(src)
	if _, err := c.Copy(context.Background(), src, dref, PlatformAuto); err != nil {
		t.Fatal(err)
	}
	if got := remoteDigest(t, dst.Host+"/p/bitnami/nginx:1"); got != digestOf(t, img) {
		t.Fatalf("destination digest %s, want %s", got, digestOf(t, img))
	}
	if mirror.Count(registrytest.ManifestGet) != 1 || mirror.Count(registrytest.BlobGet) != 3 {
		t.Fatalf("mirror saw %v, want 1 manifest GET and 3 blob GETs", mirror.Counts())
	}
	for _, q := range mirror.Requests() {
		if q.Repository != "" && q.Repository != "docker.io/bitnami/nginx" {
			t.Fatalf("mirror request for repository %q", q.Repository)
		}
	}
}

// SourceDigest uses HEAD only: no manifest GET (no Docker Hub pull).
func TestSourceDigestUsesHead(t *testing.T) {
	src := registrytest.New(t)
	idx, _, _ := multiArch(t)
	pushIndex(t, src.Host+"/app:1", idx)
	src.Reset()
	c := newTestClient(t, ClientOptions{})
	got, err := c.SourceDigest(context.Background(), MustParseImageRef(src.Host+"/app:1"), PlatformAuto)
	if err != nil || got != digestOf(t, idx) {
		t.Fatalf("SourceDigest = %s, %v; want %s", got, err, digestOf(t, idx))
	}
	if n := src.Count(registrytest.ManifestGet); n != 0 {
		t.Fatalf("manifest GETs = %d, want 0", n)
	}
	pinned := MustParseImageRef(src.Host + "/app:1@" + digestOf(t, idx))
	src.Reset()
	if got, err := c.SourceDigest(context.Background(), pinned, PlatformAuto); err != nil || got != pinned.Digest {
		t.Fatalf("pinned SourceDigest = %s, %v", got, err)
	}
	if n := len(src.Requests()); n != 0 {
		t.Fatalf("a pinned source cost %d requests, want 0", n)
	}
}
