package registry

import (
	"context"
	"github.com/airgap-charts/airgap-charts/registry/transport"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// A plain registry gets each blob with one PUT that carries it (POST, PUT): no PATCH. A host
// that budgets upload completions (ECR's quota, or a rate set by the user) gets the PATCH
// then an empty PUT, so its budgeted request can be retried without the blob.
func TestCopyUploadsMonolithicUnlessCompletionBudgeted(t *testing.T) {
	for _, budgeted := range []bool{false, true} {
		src, dst := registrytest.New(t), registrytest.New(t)
		img := platformImage(t, "linux", "amd64") // config + 2 layers
		pushImage(t, src.Host+"/app:1", img)
		opts := ClientOptions{}
		if budgeted {
			opts.DestLimits = []transport.HostRate{{Host: dst.Host, Kind: transport.Upload, N: 1000, Period: time.Second}}
		}
		c := newTestClient(t, opts)
		res, err := c.Copy(context.Background(), MustParseImageRef(src.Host+"/app:1"), MustParseImageRef(dst.Host+"/app:1"), PlatformAuto)
		if err != nil {
			t.Fatal(err)
		}
		if got := remoteDigest(t, dst.Host+"/app:1"); got != digestOf(t, img) {
			t.Fatalf("budgeted=%v: destination digest %s, want %s", budgeted, got, digestOf(t, img))
		}
		wantChunks := 0
		if budgeted {
			wantChunks = 3
		}
		if got := dst.Count(registrytest.UploadChunk); got != wantChunks {
			t.Fatalf("budgeted=%v: %d PATCH requests, want %d (%v)", budgeted, got, wantChunks, dst.Counts())
		}
		if got := countBy(dst, registrytest.UploadEnd, func(s int) bool { return s == http.StatusCreated }); got != 3 || res.Blobs != 3 || res.Bytes <= 0 {
			t.Fatalf("budgeted=%v: %d uploads completed, result %+v; want 3", budgeted, got, res)
		}
	}
}

// Once one repository holds a blob, the other repositories mount it at the same time, not
// one after the other: mounts of the same digest overlap.
func TestCopyMountsSharedBlobConcurrently(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	img := platformImage(t, "linux", "amd64")
	const repos = 5
	pushImage(t, src.Host+"/app:1", img)
	var mu sync.Mutex
	inflight, peak := map[string]int{}, 0
	dst.Intercept(func(_ http.ResponseWriter, r *http.Request) bool {
		d := r.URL.Query().Get("mount")
		if r.Method != http.MethodPost || d == "" {
			return false
		}
		mu.Lock()
		inflight[d]++
		peak = max(peak, inflight[d])
		mu.Unlock()
		time.Sleep(100 * time.Millisecond) // a WAN round trip
		mu.Lock()
		inflight[d]--
		mu.Unlock()
		return false
	})
	c := newTestClient(t, ClientOptions{Concurrency: 8})
	ctx := context.Background()
	if _, err := c.Copy(ctx, MustParseImageRef(src.Host+"/app:1"), MustParseImageRef(dst.Host+"/m/r0:1"), PlatformAuto); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	mounted := make([]int, repos)
	for i := 1; i < repos; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := c.Copy(ctx, MustParseImageRef(src.Host+"/app:1"), MustParseImageRef(dst.Host+"/m/r"+string(rune('0'+i))+":1"), PlatformAuto)
			if err != nil {
				t.Error(err)
			}
			mounted[i] = res.Mounted
		}()
	}
	wg.Wait()
	total := 0
	for _, n := range mounted {
		total += n
	}
	if total != 3*(repos-1) {
		t.Fatalf("mounted %d blobs, want %d (3 per repository after the first)", total, 3*(repos-1))
	}
	if got := countBy(dst, registrytest.UploadEnd, success); got != 3 {
		t.Fatalf("%d uploads, want 3 (the first repository only)", got)
	}
	if peak < 2 {
		t.Fatalf("at most %d mount of one digest in flight at once: mounts ran one at a time", peak)
	}
}

// A fresh client (no run knowledge) copying into a repository that already holds some of
// the blobs: those are found (HEAD, asked alongside the upload start) and not uploaded.
func TestCopySkipsBlobsTheRepositoryHolds(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	a, b := sharedImages(t) // two shared layers, one own layer and a config each
	pushImage(t, src.Host+"/app:new", b)
	pushImage(t, dst.Host+"/app:old", a)
	dst.Reset()
	c := newTestClient(t, ClientOptions{})
	res, err := c.Copy(context.Background(), MustParseImageRef(src.Host+"/app:new"), MustParseImageRef(dst.Host+"/app:new"), PlatformAuto)
	if err != nil {
		t.Fatal(err)
	}
	if res.Blobs != 4 || res.Reused != 2 || res.Mounted != 0 {
		t.Fatalf("result %+v, want 4 blobs of which 2 reused", res)
	}
	if got := countBy(dst, registrytest.UploadEnd, success); got != 2 {
		t.Fatalf("%d uploads completed, want 2 (config and own layer)", got)
	}
	if got := remoteDigest(t, dst.Host+"/app:new"); got != digestOf(t, b) {
		t.Fatalf("destination digest %s, want %s", got, digestOf(t, b))
	}
}

// Two copies of one index into one repository at once (a tag and a pin by digest): each
// child manifest is fetched from the source once, the second copy waiting for the first.
func TestCopySameIndexTwiceFetchesChildrenOnce(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	idx, _, _ := multiArch(t)
	pushIndex(t, src.Host+"/app:1", idx)
	src.Reset()
	src.Intercept(func(_ http.ResponseWriter, r *http.Request) bool {
		if isManifestGet(r) {
			time.Sleep(50 * time.Millisecond) // both copies reach the children before either is put
		}
		return false
	})
	c := newTestClient(t, ClientOptions{Concurrency: 4})
	d := digestOf(t, idx)
	var wg sync.WaitGroup
	for _, dst := range []string{dst.Host + "/app:1", dst.Host + "/app@" + d} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Copy(context.Background(), MustParseImageRef(src.Host+"/app:1"), MustParseImageRef(dst), PlatformAuto); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	// One index GET per copy, one GET per child.
	if got := src.Count(registrytest.ManifestGet); got != 4 {
		t.Fatalf("source manifest GETs = %d, want 4 (2 index + 2 children)", got)
	}
	if got := remoteDigest(t, dst.Host+"/app:1"); got != d {
		t.Fatalf("destination digest %s, want %s", got, d)
	}
}
