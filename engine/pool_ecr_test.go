package engine

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/registry/ecr"
	"github.com/airgap-charts/airgap-charts/registry/ecrsim"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// ecrRun is one process's view of an ECR destination: a real aws-sdk-go-v2 ECR client on
// the simulator and a registry client authenticated by its keychain.
type ecrRun struct {
	ecr    *ecr.Registry
	client *registry.Client
}

func newECRRun(t *testing.T, sim *ecrsim.Sim, set func(*ecr.Options)) ecrRun {
	t.Helper()
	o := ecr.Options{AWSConfig: sim.AWSConfig(), Endpoint: sim.URL, Registry: sim.Host, CreateRepositories: true}
	if set != nil {
		set(&o)
	}
	e, err := ecr.New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	c, err := registry.NewClient(registry.ClientOptions{
		Concurrency: 4, SpoolDir: t.TempDir(), Insecure: []string{"127.0.0.1"},
		Keychains: []authn.Keychain{e.Keychain()},
		ECRHosts:  []string{sim.Host},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return ecrRun{ecr: e, client: c}
}

func (r ecrRun) pool(pol Policy) PoolOptions {
	return PoolOptions{Concurrency: 4, Client: r.client, Preflight: r.ecr, Policy: pol}
}

// simCount counts the data-plane requests of kind answered with a status ok accepts.
func simCount(sim *ecrsim.Sim, kind registrytest.Kind, ok func(int) bool) int {
	n := 0
	for _, q := range sim.Requests() {
		if q.Kind == kind && ok(q.Status) {
			n++
		}
	}
	return n
}

func anyStatus(int) bool { return true }

func isPushKind(k registrytest.Kind) bool {
	switch k {
	case registrytest.ManifestPut, registrytest.UploadStart, registrytest.UploadChunk, registrytest.UploadEnd, registrytest.Mount:
		return true
	}
	return false
}

// The fleet into ECR (simulated, real SDK client), with and without BLOB_MOUNTING.
// Cold: every repository created once before its first push, each source blob pulled
// once; with mounting, shared layers mounted across repositories; without, no mount ever
// tried and shared layers uploaded again from the spool. Warm: nothing from the source,
// one ListImages per repository on the control plane and no data-plane request at all.
func TestPoolFleetECRColdWarm(t *testing.T) {
	for _, mounting := range []bool{false, true} {
		t.Run(map[bool]string{false: "no-blob-mounting", true: "blob-mounting"}[mounting], func(t *testing.T) {
			src := registrytest.New(t)
			f := newFleet(t, src)
			sim := ecrsim.New(t, ecrsim.WithBlobMounting(mounting))
			ctx := context.Background()
			sim.ResetCounts()
			run := newECRRun(t, sim, nil)
			res := f.run(ctx, run.pool(Policy{SkipExisting: true}), sim.Host)
			if errs := failures(res); len(errs) > 0 || byOutcome(res)[OutcomeCopied] != len(f.refs) {
				t.Fatalf("cold: %v %v", byOutcome(res), errs)
			}
			repos := f.destinationRepos()
			if got := sim.Calls("GetAccountSetting"); got != 1 {
				t.Fatalf("GetAccountSetting calls = %d, want 1 (BLOB_MOUNTING read once)", got)
			}
			if got := sim.Calls("CreateRepository"); got != len(repos) {
				t.Fatalf("CreateRepository calls = %d, want %d (one per repository)", got, len(repos))
			}
			for _, r := range repos {
				if _, ok := sim.Repository(r); !ok {
					t.Fatalf("repository %s not created", r)
				}
			}
			for _, q := range sim.Requests() {
				if isPushKind(q.Kind) && q.Status == http.StatusNotFound {
					t.Fatalf("push before the repository existed: %+v", q)
				}
			}
			if got := src.Count(registrytest.BlobGet); got != len(f.blobs) {
				t.Fatalf("cold source blob GETs = %d, want %d distinct blobs", got, len(f.blobs))
			}
			mounts := simCount(sim, registrytest.Mount, anyStatus)
			if mounting {
				if created := simCount(sim, registrytest.Mount, func(s int) bool { return s == http.StatusCreated }); created == 0 || created != mounts {
					t.Fatalf("BLOB_MOUNTING enabled: %d mounts, %d answered 201", mounts, created)
				}
				if got := simCount(sim, registrytest.UploadEnd, anyStatus); got != len(f.blobs) {
					t.Fatalf("uploads = %d, want one per distinct blob (%d)", got, len(f.blobs))
				}
			} else {
				if mounts != 0 {
					t.Fatalf("BLOB_MOUNTING disabled: %d mount attempts, want 0", mounts)
				}
				if got := simCount(sim, registrytest.UploadEnd, anyStatus); got <= len(f.blobs) {
					t.Fatalf("uploads = %d: shared layers should be uploaded once per repository", got)
				}
			}
			if got := simCount(sim, registrytest.Other, anyStatus); got != 0 {
				t.Fatalf("GET /v2/ pings on the data plane = %d", got)
			}
			t.Logf("ECR cold (mounting %v): source %v; control plane: ListImages %d, CreateRepository %d, total %d; data plane: %d requests (mounts %d, uploads %d, manifest PUTs %d, 401s %d)",
				mounting, src.Counts(), sim.Calls("ListImages"), sim.Calls("CreateRepository"), sim.TotalCalls(), len(sim.Requests()),
				mounts, simCount(sim, registrytest.UploadEnd, anyStatus), simCount(sim, registrytest.ManifestPut, anyStatus),
				countStatus(sim, http.StatusUnauthorized))

			// Warm: a new process.
			src.Reset()
			sim.ResetCounts()
			warm := newECRRun(t, sim, nil)
			res = f.run(ctx, warm.pool(Policy{SkipExisting: true}), sim.Host)
			if errs := failures(res); len(errs) > 0 || byOutcome(res)[OutcomeSkippedExisting] != len(f.refs) {
				t.Fatalf("warm: %v %v", byOutcome(res), errs)
			}
			if n := len(src.Requests()); n != 0 {
				t.Fatalf("warm source requests = %d (%v)", n, src.Counts())
			}
			if got := sim.Calls("ListImages"); got != len(repos) {
				t.Fatalf("warm ListImages = %d, want %d (one page per repository)", got, len(repos))
			}
			if got := sim.TotalCalls(); got != len(repos) {
				t.Fatalf("warm control-plane calls = %d, want only the %d ListImages", got, len(repos))
			}
			if n := len(sim.Requests()); n != 0 {
				t.Fatalf("warm data-plane requests = %d (%v), want 0", n, sim.Requests())
			}
			t.Logf("ECR warm (mounting %v): source 0 requests; control plane %d calls (ListImages %d); data plane %d requests",
				mounting, sim.TotalCalls(), sim.Calls("ListImages"), len(sim.Requests()))
		})
	}
}

func countStatus(sim *ecrsim.Sim, status int) int {
	n := 0
	for _, q := range sim.Requests() {
		if q.Status == status {
			n++
		}
	}
	return n
}

// --overwrite-existing on ECR: a changed source replaces the destination tag by
// BatchDeleteImage, then a push; unchanged images are skipped with the same digest.
func TestPoolECROverwriteDeletesThenPushes(t *testing.T) {
	src := registrytest.New(t)
	f := newFleet(t, src)
	sim := ecrsim.New(t)
	ctx := context.Background()
	if res := f.run(ctx, newECRRun(t, sim, nil).pool(Policy{SkipExisting: true}), sim.Host); len(failures(res)) > 0 {
		t.Fatal(failures(res))
	}
	changed := images(t, 1)[0]
	newDigest := push(t, f.refs[0], changed)
	sim.ResetCounts()
	run := newECRRun(t, sim, nil)
	res := f.run(ctx, run.pool(Policy{SkipExisting: true, VerifyDigest: true, Overwrite: true}), sim.Host)
	if errs := failures(res); len(errs) > 0 {
		t.Fatal(errs)
	}
	if got := byOutcome(res); got[OutcomeOverwritten] != 1 || got[OutcomeSkippedSameDigest] != len(f.refs)-1 {
		t.Fatalf("outcomes %v, want 1 overwritten and %d skipped-same-digest", got, len(f.refs)-1)
	}
	if got := sim.Calls("BatchDeleteImage"); got != 1 {
		t.Fatalf("BatchDeleteImage calls = %d, want 1", got)
	}
	dst := job(f.refs[0], sim.Host).Destination
	if d, ok, err := run.ecr.TagDigest(ctx, dst); err != nil || !ok || d != newDigest {
		t.Fatalf("preflight after overwrite: %s %v %v, want %s (Record after push)", d, ok, err, newDigest)
	}
	if got := remoteDigestVia(t, run.ecr, dst); got != newDigest {
		t.Fatalf("destination tag = %s, want %s", got, newDigest)
	}
}

// An IMMUTABLE repository whose tag already points elsewhere: the push is refused and the
// job is a skip with reason "immutable tag", not a failure.
func TestPoolECRImmutableTagIsSkipWithReason(t *testing.T) {
	src := registrytest.New(t)
	f := newFleet(t, src)
	sim := ecrsim.New(t)
	ctx := context.Background()
	immutable := func(o *ecr.Options) { o.ImmutableTags = true }
	if res := f.run(ctx, newECRRun(t, sim, immutable).pool(Policy{SkipExisting: true}), sim.Host); len(failures(res)) > 0 {
		t.Fatal(failures(res))
	}
	if r, _ := sim.Repository("mirror/team/app0"); r.ImageTagMutability != "IMMUTABLE" {
		t.Fatalf("repository mutability %q", r.ImageTagMutability)
	}
	oldDigest := job(f.refs[0], sim.Host)
	before := remoteDigestVia(t, newECRRun(t, sim, nil).ecr, oldDigest.Destination)
	push(t, f.refs[0], images(t, 1)[0])
	run := newECRRun(t, sim, immutable)
	pool := NewPool(ctx, run.pool(Policy{})) // push even where the tag exists
	r := pool.Submit(job(f.refs[0], sim.Host)).Wait(ctx)
	pool.Close()
	if r.Err != nil || r.Outcome != OutcomeSkippedExisting || r.Reason != ReasonImmutableTag {
		t.Fatalf("result %+v, want skipped-existing with reason %q", r, ReasonImmutableTag)
	}
	if got := remoteDigestVia(t, run.ecr, oldDigest.Destination); got != before {
		t.Fatalf("immutable tag moved: %s, was %s", got, before)
	}
}

// remoteDigestVia is what ref's tag points at in the simulator, asked over the data plane.
func remoteDigestVia(t *testing.T, e *ecr.Registry, ref registry.ImageRef) string {
	t.Helper()
	tag, err := name.NewTag(ref.Name()+":"+ref.Tag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	d, err := remote.Head(tag, remote.WithAuthFromKeychain(e.Keychain()))
	if err != nil {
		t.Fatalf("head %s: %v", ref, err)
	}
	return d.Digest.String()
}
