package engine

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

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

func newClient(t *testing.T) *registry.Client {
	t.Helper()
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	c, err := registry.NewClient(registry.ClientOptions{Concurrency: 4, SpoolDir: t.TempDir(), Insecure: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func push(t *testing.T, ref string, img v1.Image) string {
	t.Helper()
	r, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func head(t *testing.T, ref string) string {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	d, err := remote.Head(r)
	if err != nil {
		return ""
	}
	return d.Digest.String()
}

// images returns n random images sharing two base layers.
func images(t *testing.T, n int) []v1.Image {
	t.Helper()
	base, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	var out []v1.Image
	for range n {
		l, err := random.Layer(2048, types.DockerLayer)
		if err != nil {
			t.Fatal(err)
		}
		img, err := mutate.AppendLayers(base, l)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, img)
	}
	return out
}

func job(src, dstHost string) ImageJob {
	s := registry.MustParseImageRef(src)
	return ImageJob{Source: s, Destination: registry.MirrorLayout{Registry: dstHost, Prefix: "mirror"}.Destination(s), Platform: registry.PlatformAuto}
}

func byOutcome(rs []JobResult) map[Outcome]int {
	m := map[Outcome]int{}
	for _, r := range rs {
		m[r.Outcome]++
	}
	return m
}

// Jobs submitted twice run once; shared blobs cross the wire once; a warm rerun with
// skip-existing costs no source request at all and one destination HEAD per image.
func TestPoolDedupColdAndWarm(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	imgs := images(t, 3)
	for i, img := range imgs {
		push(t, fmt.Sprintf("%s/app%d:1", src.Host, i), img)
	}
	src.Reset()
	c := newClient(t)
	ctx := context.Background()

	pool := NewPool(ctx, PoolOptions{Concurrency: 3, Client: c, Policy: Policy{SkipExisting: true}})
	var pend []*Pending
	for range 2 { // two addons needing the same images
		for i := range imgs {
			pend = append(pend, pool.Submit(job(fmt.Sprintf("%s/app%d:1", src.Host, i), dst.Host)))
		}
	}
	if pend[0] != pend[3] {
		t.Fatal("a duplicate job got its own Pending")
	}
	results := pool.Close()
	if len(results) != 3 || byOutcome(results)[OutcomeCopied] != 3 {
		t.Fatalf("results %v, want 3 copied", byOutcome(results))
	}
	if r := pend[1].Wait(ctx); r.Outcome != OutcomeCopied || r.DestDigest == "" || r.Bytes <= 0 {
		t.Fatalf("pending result %+v", r)
	}
	// 3 configs + 2 shared layers + 3 own layers.
	if got := src.Count(registrytest.BlobGet); got != 8 {
		t.Fatalf("source blob GETs = %d, want 8", got)
	}
	if got := src.Count(registrytest.ManifestGet); got != 3 {
		t.Fatalf("source manifest GETs = %d, want 3", got)
	}
	if got := dst.Count(registrytest.Mount); got != 4 {
		t.Fatalf("destination mounts = %d, want 4 (2 shared layers × 2 later repositories)", got)
	}

	// Warm rerun, new client as a new process would have.
	src.Reset()
	dst.Reset()
	c2 := newClient(t)
	pool = NewPool(ctx, PoolOptions{Concurrency: 3, Client: c2, Policy: Policy{SkipExisting: true}})
	for i := range imgs {
		pool.Submit(job(fmt.Sprintf("%s/app%d:1", src.Host, i), dst.Host))
	}
	results = pool.Close()
	if byOutcome(results)[OutcomeSkippedExisting] != 3 {
		t.Fatalf("warm results %v, want 3 skipped-existing", byOutcome(results))
	}
	if n := len(src.Requests()); n != 0 {
		t.Fatalf("warm run sent %d requests to the source (%v), want 0", n, src.Counts())
	}
	if got := dst.Count(registrytest.ManifestHead); got != 3 {
		t.Fatalf("warm destination HEADs = %d, want 3", got)
	}
	if n := len(dst.Requests()); n != 3 {
		t.Fatalf("warm run sent %d requests to the destination (%v), want 3 HEADs and no /v2/ ping", n, dst.Counts())
	}

	// Warm with verify-existing-digest: HEADs only, no pull.
	src.Reset()
	pool = NewPool(ctx, PoolOptions{Client: c2, Policy: Policy{SkipExisting: true, VerifyDigest: true}})
	for i := range imgs {
		pool.Submit(job(fmt.Sprintf("%s/app%d:1", src.Host, i), dst.Host))
	}
	results = pool.Close()
	if byOutcome(results)[OutcomeSkippedSameDigest] != 3 {
		t.Fatalf("verify results %v, want 3 skipped-same-digest", byOutcome(results))
	}
	if got := src.Count(registrytest.ManifestGet) + src.Count(registrytest.BlobGet); got != 0 {
		t.Fatalf("verify run pulled %d manifests/blobs, want 0", got)
	}
}

// headPreflight is a Preflight over a real registry: HEAD per tag, with tag deletion (by
// the digest the tag points at) and a record of the repositories it was asked to ensure.
type headPreflight struct {
	mu       sync.Mutex
	deleted  []string
	ensured  []string
	lookups  int
	nameOpts []name.Option
}

func (h *headPreflight) TagDigest(ctx context.Context, dst registry.ImageRef) (string, bool, error) {
	h.mu.Lock()
	h.lookups++
	h.mu.Unlock()
	r, err := dst.TagReference(name.Insecure)
	if err != nil {
		return "", false, err
	}
	d, err := remote.Head(r, remote.WithContext(ctx))
	if err != nil {
		if strings.Contains(err.Error(), "MANIFEST_UNKNOWN") || strings.Contains(err.Error(), "404") {
			return "", false, nil
		}
		return "", false, err
	}
	return d.Digest.String(), true, nil
}

func (h *headPreflight) DeleteTag(ctx context.Context, ref registry.ImageRef) error {
	d, ok, err := h.TagDigest(ctx, ref)
	if err != nil || !ok {
		return err
	}
	dr, err := name.NewDigest(ref.Name()+"@"+d, name.Insecure)
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.deleted = append(h.deleted, ref.String())
	h.mu.Unlock()
	return remote.Delete(dr, remote.WithContext(ctx))
}

func (h *headPreflight) EnsureRepository(_ context.Context, repository string) error {
	h.mu.Lock()
	h.ensured = append(h.ensured, repository)
	h.mu.Unlock()
	return nil
}

// Each preflight mode against a destination tag that holds something else.
func TestPoolPreflightModes(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	imgs := images(t, 2)
	srcDigest := push(t, src.Host+"/app:1", imgs[0])
	oldDigest := push(t, dst.Host+"/mirror/app:1", imgs[1])
	c := newClient(t)
	ctx := context.Background()
	j := job(src.Host+"/app:1", dst.Host)
	run := func(pol Policy, pf Preflight) JobResult {
		t.Helper()
		src.Reset()
		pool := NewPool(ctx, PoolOptions{Client: c, Policy: pol, Preflight: pf})
		res := pool.Submit(j).Wait(ctx)
		pool.Close()
		if res.Err != nil {
			t.Fatalf("%+v: %v", pol, res.Err)
		}
		return res
	}

	res := run(Policy{SkipExisting: true}, nil)
	if res.Outcome != OutcomeSkippedExisting || res.DestDigest != oldDigest || len(src.Requests()) != 0 {
		t.Fatalf("skip-existing: %+v, %d source requests", res, len(src.Requests()))
	}
	res = run(Policy{SkipExisting: true, VerifyDigest: true}, nil)
	if res.Outcome != OutcomeDrift || !strings.HasPrefix(res.Reason, "digest differs") || res.SourceDigest != srcDigest ||
		!strings.Contains(res.Drift, oldDigest) || !strings.Contains(res.Drift, srcDigest) {
		t.Fatalf("verify without overwrite: %+v, want drift naming both digests", res)
	}
	if head(t, dst.Host+"/mirror/app:1") != oldDigest {
		t.Fatal("verify without overwrite changed the destination")
	}
	pf := &headPreflight{}
	res = run(Policy{SkipExisting: true, VerifyDigest: true, Overwrite: true}, pf)
	if res.Outcome != OutcomeOverwritten || head(t, dst.Host+"/mirror/app:1") != srcDigest {
		t.Fatalf("overwrite: %+v", res)
	}
	if len(pf.deleted) != 1 || len(pf.ensured) != 1 || pf.ensured[0] != "mirror/app" {
		t.Fatalf("overwrite: deleted %v, ensured %v", pf.deleted, pf.ensured)
	}
	res = run(Policy{SkipExisting: true, VerifyDigest: true}, pf)
	if res.Outcome != OutcomeSkippedSameDigest || src.Count(registrytest.ManifestGet) != 0 {
		t.Fatalf("verify same digest: %+v (%v)", res, src.Counts())
	}
	if pf.lookups < 2 {
		t.Fatalf("the preflight was not asked: %d lookups", pf.lookups)
	}
}

// Two sources landing on the same destination tag: different digests fail naming both,
// equal digests are fine.
func TestPoolCollision(t *testing.T) {
	a, b, dst := registrytest.New(t), registrytest.New(t), registrytest.New(t)
	imgs := images(t, 2)
	push(t, a.Host+"/lib/x:1", imgs[0])
	push(t, b.Host+"/lib/x:1", imgs[1])
	push(t, a.Host+"/lib/same:1", imgs[0])
	push(t, b.Host+"/lib/same:1", imgs[0])
	c := newClient(t)
	ctx := context.Background()
	pool := NewPool(ctx, PoolOptions{Concurrency: 1, Client: c, Policy: Policy{SkipExisting: true}})
	first := pool.Submit(job(a.Host+"/lib/x:1", dst.Host))
	second := pool.Submit(job(b.Host+"/lib/x:1", dst.Host))
	pool.Submit(job(a.Host+"/lib/same:1", dst.Host))
	same := pool.Submit(job(b.Host+"/lib/same:1", dst.Host))
	pool.Close()
	if r := first.Wait(ctx); r.Outcome != OutcomeCopied {
		t.Fatalf("first: %+v", r)
	}
	r := second.Wait(ctx)
	if r.Outcome != OutcomeFailed || r.Err == nil {
		t.Fatalf("second: %+v, want a collision failure", r)
	}
	for _, want := range []string{"collision", a.Host + "/lib/x:1", b.Host + "/lib/x:1"} {
		if !strings.Contains(r.Err.Error(), want) {
			t.Fatalf("collision error %q does not name %q", r.Err, want)
		}
	}
	if r := same.Wait(ctx); r.Err != nil {
		t.Fatalf("equal digests reported as collision: %v", r.Err)
	}
	want, _ := imgs[0].Digest()
	if got := head(t, dst.Host+"/mirror/lib/x:1"); got != want.String() {
		t.Fatalf("destination overwritten: %s, want %s", got, want)
	}
}

// Submit never blocks, even with one worker and many jobs; scan-only plans without writing.
func TestPoolSubmitNeverBlocksAndScanOnly(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	push(t, src.Host+"/app:1", images(t, 1)[0])
	src.Reset()
	c := newClient(t)
	ctx := context.Background()
	pool := NewPool(ctx, PoolOptions{Concurrency: 1, Client: c, ScanOnly: true})
	start := time.Now()
	for i := range 50 {
		pool.Submit(ImageJob{Source: registry.MustParseImageRef(src.Host + "/app:1"),
			Destination: registry.MustParseImageRef(fmt.Sprintf("%s/app%d:1", dst.Host, i))})
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("50 submits took %s", el)
	}
	results := pool.Close()
	if len(results) != 50 || byOutcome(results)[OutcomeToCopy] != 50 {
		t.Fatalf("scan-only results %v", byOutcome(results))
	}
	if n := writes(dst.Counts()); n != 0 {
		t.Fatalf("scan-only sent %d writes to the destination: %v", n, dst.Counts())
	}
	if n := src.Count(registrytest.ManifestHead); n != 1 {
		t.Fatalf("scan-only resolved one source %d times, want once", n)
	}
}

// A cancelled context fails queued jobs instead of running them.
func TestPoolCancelled(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	push(t, src.Host+"/app:1", images(t, 1)[0])
	c := newClient(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	pool := NewPool(ctx, PoolOptions{Client: c})
	r := pool.Submit(job(src.Host+"/app:1", dst.Host)).Wait(context.Background())
	pool.Close()
	if r.Outcome != OutcomeFailed || r.Err == nil || !strings.Contains(r.Err.Error(), "context canceled") {
		t.Fatalf("result %+v, want failed with context canceled", r)
	}
}

// countingPreflight is a client's OCI preflight with the optional abilities the pool
// discovers: repository creation (counted), tag recording (counted) and a mount policy.
type countingPreflight struct {
	*registry.OCIPreflight
	mu       sync.Mutex
	ensured  map[string]int
	recorded map[string]string
	mounts   bool
}

func (c *countingPreflight) EnsureRepository(_ context.Context, repository string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ensured[repository]++
	return nil
}

func (c *countingPreflight) Record(ref registry.ImageRef, digest string) {
	c.mu.Lock()
	c.recorded[ref.String()] = digest
	c.mu.Unlock()
	c.OCIPreflight.Record(ref, digest)
}

func (c *countingPreflight) MountsBlobs(context.Context) bool { return c.mounts }

// Many jobs into a few repositories: EnsureRepository once per repository, every push
// recorded, and a destination that does not mount is never asked to (each source blob
// still pulled once: the spool serves the other repositories).
func TestPoolEnsuresOncePerRepositoryRecordsAndHonoursMountPolicy(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	imgs := images(t, 3)
	var jobs []ImageJob
	for i, img := range imgs {
		for _, tag := range []string{"1", "2", "3"} {
			ref := fmt.Sprintf("%s/app%d:%s", src.Host, i, tag)
			push(t, ref, img)
			jobs = append(jobs, job(ref, dst.Host))
		}
	}
	src.Reset()
	c := newClient(t)
	pf := &countingPreflight{OCIPreflight: c.OCIPreflight(), ensured: map[string]int{}, recorded: map[string]string{}}
	ctx := context.Background()
	pool := NewPool(ctx, PoolOptions{Concurrency: 4, Client: c, Preflight: pf, Policy: Policy{SkipExisting: true}})
	for _, j := range jobs {
		pool.Submit(j)
	}
	results := pool.Close()
	if errs := failures(results); len(errs) > 0 || byOutcome(results)[OutcomeCopied] != len(jobs) {
		t.Fatalf("results %v %v", byOutcome(results), errs)
	}
	if len(pf.ensured) != 3 {
		t.Fatalf("ensured %v, want 3 repositories", pf.ensured)
	}
	for repo, n := range pf.ensured {
		if n != 1 {
			t.Fatalf("EnsureRepository(%s) called %d times, want 1", repo, n)
		}
	}
	for _, r := range results {
		if pf.recorded[r.Job.Destination.String()] != r.DestDigest {
			t.Fatalf("push of %s not recorded (%v)", r.Job.Destination, pf.recorded)
		}
	}
	if n := dst.Count(registrytest.Mount); n != 0 {
		t.Fatalf("%d mount attempts on a destination whose MountPolicy says no", n)
	}
	if got := src.Count(registrytest.BlobGet); got != 8 { // 3 configs, 2 shared + 3 own layers
		t.Fatalf("source blob GETs = %d, want 8", got)
	}
	// Recorded pushes answer the next run's questions without a request.
	dst.Reset()
	pool = NewPool(ctx, PoolOptions{Client: c, Preflight: pf, Policy: Policy{SkipExisting: true}})
	for _, j := range jobs {
		pool.Submit(j)
	}
	if got := byOutcome(pool.Close()); got[OutcomeSkippedExisting] != len(jobs) || len(dst.Requests()) != 0 {
		t.Fatalf("rerun on the same preflight: %v, %d destination requests", got, len(dst.Requests()))
	}
}

// app:tag and app:tag@digest land on one destination tag: they run one after the other,
// so the multi-arch image's manifests are pulled exactly once; a pin to another digest
// still fails as a collision, and a pinned job finding its tag on other content says so.
func TestPoolPinnedAndTaggedShareOnePull(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	imgs := images(t, 3)
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: imgs[0], Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: imgs[1], Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	r, err := name.NewTag(src.Host+"/lib/app:1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	other := push(t, src.Host+"/lib/other:1", imgs[2])
	src.Reset()
	c := newClient(t)
	ctx := context.Background()
	pool := NewPool(ctx, PoolOptions{Concurrency: 8, Client: c, Policy: Policy{SkipExisting: true}})
	tagged := pool.Submit(job(src.Host+"/lib/app:1", dst.Host))
	pinned := pool.Submit(job(src.Host+"/lib/app:1@"+d.String(), dst.Host))
	wrong := pool.Submit(job(src.Host+"/lib/app:1@"+other, dst.Host))
	pool.Close()
	if got := src.Count(registrytest.ManifestGet); got != 3 {
		t.Fatalf("source manifest GETs = %d, want 3 (index + 2 children once): %v", got, src.Counts())
	}
	if r := tagged.Wait(ctx); r.Outcome != OutcomeCopied {
		t.Fatalf("tagged: %+v", r)
	}
	if r := pinned.Wait(ctx); r.Outcome != OutcomeSkippedExisting || r.DestDigest != d.String() || r.Reason != "" {
		t.Fatalf("pinned: %+v, want skipped-existing on its own digest", r)
	}
	if r := wrong.Wait(ctx); r.Err == nil || !strings.Contains(r.Err.Error(), "collision") {
		t.Fatalf("pin to another digest: %+v, want a collision failure", r)
	}
	if got := head(t, dst.Host+"/mirror/lib/app:1"); got != d.String() {
		t.Fatalf("destination tag holds %s, want %s", got, d)
	}

	// A pinned job alone, its tag already on other content: drift, saying the digests differ.
	dst2 := registrytest.New(t)
	push(t, dst2.Host+"/mirror/lib/app:1", imgs[2])
	pool = NewPool(ctx, PoolOptions{Client: c, Policy: Policy{SkipExisting: true}})
	alone := pool.Submit(job(src.Host+"/lib/app:1@"+d.String(), dst2.Host))
	pool.Close()
	if r := alone.Wait(ctx); r.Outcome != OutcomeDrift || !strings.Contains(r.Reason, "digest differs") || r.Drift == "" {
		t.Fatalf("pinned on other content: %+v, want drift with digest differs", r)
	}
}

// A warm run's preflight HEADs overlap even with one copy slot: the pool asks a caching
// preflight at Submit, not when a job gets its slot, and still sends one HEAD per tag.
func TestPoolWarmPreflightOverlaps(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	imgs := images(t, 8)
	for i, img := range imgs {
		push(t, fmt.Sprintf("%s/mirror/lib/app%d:1", dst.Host, i), img)
	}
	// Each HEAD is held until a second one is in flight (or a generous deadline passes), so
	// the test sees whether HEADs overlap without measuring any time.
	heads := registrytest.NewOverlap()
	var mu sync.Mutex
	seen := 0
	dst.Intercept(func(_ http.ResponseWriter, r *http.Request) bool {
		if k, _ := registrytest.Classify(r); k != registrytest.ManifestHead {
			return false
		}
		mu.Lock()
		seen++
		first := seen == 1 // the first request to a host teaches the client its scheme: let it pass
		mu.Unlock()
		if !first {
			heads.Enter()
			heads.Leave()
		}
		return false
	})
	dst.Reset()
	c := newClient(t)
	ctx := context.Background()
	pool := NewPool(ctx, PoolOptions{Concurrency: 1, Client: c, Policy: Policy{SkipExisting: true}})
	for i := range imgs {
		pool.Submit(job(fmt.Sprintf("%s/lib/app%d:1", src.Host, i), dst.Host))
	}
	results := pool.Close()
	if byOutcome(results)[OutcomeSkippedExisting] != len(imgs) {
		t.Fatalf("results %v, want %d skipped-existing", byOutcome(results), len(imgs))
	}
	if got := dst.Count(registrytest.ManifestHead); got != len(imgs) {
		t.Fatalf("destination HEADs = %d, want %d (one per tag): %v", got, len(imgs), dst.Counts())
	}
	if most := heads.Most(); most < 2 {
		t.Fatalf("at most %d destination HEAD in flight with --concurrency 1: preflight HEADs do not overlap", most)
	}
}
