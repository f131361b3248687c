package engine

import (
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// faultCase is one fault on one side of a run. complete: the run must succeed despite it;
// else it must fail with an error naming it (one of names, case-insensitive).
type faultCase struct {
	name     string
	side     string // source, destination, chart repository
	rule     registrytest.Rule
	complete bool
	names    []string
}

var (
	manifestGet = registrytest.OnKinds(registrytest.ManifestGet)
	blobGet     = registrytest.OnKinds(registrytest.BlobGet)
	byTag       = registrytest.Both(manifestGet, registrytest.OnPath("/manifests/1"))
	byDigest    = registrytest.Both(manifestGet, registrytest.OnPath("/manifests/sha256:"))
	archive     = registrytest.OnPath(".tgz")
	index       = registrytest.OnPath("/index.yaml")
)

func faultCases() []faultCase {
	type R = registrytest.Rule
	const (
		status   = registrytest.FaultStatus
		reset    = registrytest.FaultReset
		truncate = registrytest.FaultTruncate
		corrupt  = registrytest.FaultCorrupt
		tamper   = registrytest.FaultTamper
		stall    = registrytest.FaultStall
		trickle  = registrytest.FaultTrickle
	)
	slow := time.Second // a trickle slower than the stall timeout
	return []faultCase{
		{"5xx on manifest GETs", "source", R{Match: manifestGet, Fault: status, Status: 503, Times: 3}, true, nil},
		{"5xx on blob GETs", "source", R{Match: blobGet, Fault: status, Status: 502, Times: 3}, true, nil},
		{"reset mid-body of blobs", "source", R{Match: blobGet, Fault: reset, Times: 2}, true, nil},
		{"reset mid-body of manifests", "source", R{Match: manifestGet, Fault: reset, Times: 2}, true, nil},
		{"truncated blob", "source", R{Match: blobGet, Fault: truncate, Times: 1}, true, nil},
		{"truncated blobs throughout", "source", R{Match: blobGet, Fault: truncate}, false, []string{"checksum", "digest", "size", "unexpected EOF"}},
		{"wrong blob digests", "source", R{Match: blobGet, Fault: corrupt}, false, []string{"checksum", "digest"}},
		{"tampered manifests by tag", "source", R{Match: byTag, Fault: tamper}, false, []string{"refused", "Docker-Content-Digest"}},
		{"tampered manifests by digest", "source", R{Match: byDigest, Fault: tamper}, false, []string{"refused", "digest"}},
		{"429 storm", "source", R{Fault: status, Status: 429, Times: 8}, true, nil},
		{"stalled manifest GETs", "source", R{Match: manifestGet, Fault: stall, Times: 2}, true, nil},
		{"trickling blobs", "source", R{Match: blobGet, Fault: trickle, Interval: slow}, false, []string{"stalled"}},
		{"stalled blobs throughout", "source", R{Match: registrytest.Both(blobGet, registrytest.OnPath("/org/alpha/")), Fault: stall}, false, []string{"stalled"}},

		{"5xx on manifest PUTs", "destination", R{Match: registrytest.OnKinds(registrytest.ManifestPut), Fault: status, Status: 500, Times: 3}, true, nil},
		{"5xx on upload starts", "destination", R{Match: registrytest.OnKinds(registrytest.UploadStart), Fault: status, Status: 503, Times: 3}, true, nil},
		{"lost answers to upload completions", "destination", R{Match: registrytest.OnKinds(registrytest.UploadEnd), Fault: reset, Times: 2}, true, nil},
		{"lost answers to manifest PUTs", "destination", R{Match: registrytest.OnKinds(registrytest.ManifestPut), Fault: reset, Times: 2}, true, nil},
		{"429 storm", "destination", R{Fault: status, Status: 429, Times: 8}, true, nil},
		{"stalled manifest PUT", "destination", R{Match: registrytest.OnKinds(registrytest.ManifestPut), Fault: stall, Times: 1}, true, nil},
		{"stalled manifest PUTs throughout", "destination", R{Match: registrytest.OnKinds(registrytest.ManifestPut), Fault: stall}, false, []string{"stalled"}},
		{"5xx throughout", "destination", R{Fault: status, Status: 503}, false, []string{"503", "Service Unavailable", "UNAVAILABLE"}},

		{"5xx on index.yaml", "chart repository", R{Match: index, Fault: status, Status: 503, Times: 2}, true, nil},
		{"reset mid-body of the archive", "chart repository", R{Match: archive, Fault: reset, Times: 1}, true, nil},
		{"reset mid-body of index.yaml", "chart repository", R{Match: index, Fault: reset, Times: 1}, true, nil},
		{"truncated archives", "chart repository", R{Match: archive, Fault: truncate}, false, []string{"digest", "unexpected EOF", "gzip", "truncated"}},
		{"wrong archive digests", "chart repository", R{Match: archive, Fault: corrupt}, false, []string{"digest"}},
		{"429 storm", "chart repository", R{Fault: status, Status: 429, Times: 6}, true, nil},
		{"stalled index.yaml", "chart repository", R{Match: index, Fault: stall, Times: 1}, true, nil},
		{"trickling archives", "chart repository", R{Match: archive, Fault: trickle, Interval: slow}, false, []string{"stalled"}},
	}
}

// TestFaultSuite puts each fault between the run and one of its peers. Every run either
// completes or fails naming the fault; every destination tag is absent or the source's
// digest; and a rerun without the fault completes, touching at the source only the images
// the faulty run left missing.
func TestFaultSuite(t *testing.T) {
	var survived, failedLoudly atomic.Int32
	// Each case has a world of its own: they run in parallel, and the group returns when
	// every case has ended.
	t.Run("cases", func(t *testing.T) {
		for _, fc := range faultCases() {
			t.Run(fc.side+"/"+fc.name, func(t *testing.T) {
				t.Parallel()
				w := newFaultWorld(t)
				proxy := map[string]*registrytest.FaultProxy{"source": w.srcP, "destination": w.dstP, "chart repository": w.chartP}[fc.side]
				proxy.SetRules(fc.rule)
				out := t.TempDir()
				a := w.run(t, out)
				if proxy.Injected(fc.rule.Fault) == 0 {
					t.Fatalf("no %s injected: the case proves nothing", fc.rule.Fault)
				}
				switch {
				case fc.complete && a.Status != StatusSuccess:
					t.Fatalf("%s: %s at %s: %s; want the run to get through the fault", fc.name, a.Status, a.Stage, a.Error)
				case !fc.complete && a.Status == StatusSuccess:
					t.Fatalf("%s: SUCCESS; want a failure naming the fault", fc.name)
				case !fc.complete && !containsAnyFold(a.Error, fc.names):
					t.Fatalf("%s: failed with %q; want it to name the fault (one of %q)", fc.name, a.Error, fc.names)
				}
				if fc.complete {
					survived.Add(1)
				} else {
					failedLoudly.Add(1)
					t.Logf("failed loudly: %s", a.Error)
				}
				missing := w.checkDestination(t)
				if fc.complete && len(missing) > 0 {
					t.Fatalf("run succeeded with %v absent at the destination", missing)
				}

				proxy.SetRules()
				w.srcP.Reset()
				w.dstP.Reset()
				again := w.run(t, out)
				if again.Status != StatusSuccess {
					t.Fatalf("rerun without the fault: %s at %s: %s", again.Status, again.Stage, again.Error)
				}
				if left := w.checkDestination(t); len(left) > 0 {
					t.Fatalf("after the rerun %v still absent", left)
				}
				allowed := map[string]bool{} // repository paths under the mirror prefixes: org/alpha
				for _, img := range missing {
					allowed[strings.TrimPrefix(strings.Split(img, ":")[0], "quay.io/")] = true
				}
				for repo, n := range sourceRepos(w.srcP) {
					if !allowed[strings.TrimPrefix(repo, "quay.io/")] {
						t.Errorf("rerun sent %d source requests for %s, which the first run had copied", n, repo)
					}
				}
				for _, q := range w.dstP.Requests() {
					if q.Kind == registrytest.ManifestPut && strings.HasPrefix(q.Repository, "mirror/") && !allowed[strings.TrimPrefix(q.Repository, "mirror/")] {
						t.Errorf("rerun put a manifest into %s, which the first run had copied", q.Repository)
					}
				}
			})
		}
	})
	t.Logf("faults survived: %d, failed loudly naming the fault: %d, of %d", survived.Load(), failedLoudly.Load(), len(faultCases()))
}

func containsAnyFold(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(strings.ToLower(s), strings.ToLower(sub)) {
			return true
		}
	}
	return false
}

// TestBudgetCompletesWholeImages: a --rate-limit budget of 4 pulls for three 2-platform
// images (3 pulls each) completes one image whole rather than starting all three; the
// others fail naming the spent budget, the report says how many more pulls were needed,
// and the source saw no more manifest GETs than the budget.
func TestBudgetCompletesWholeImages(t *testing.T) {
	w := newFaultWorld(t)
	opts := w.options(t.TempDir())
	opts.RateLimits = []RateLimit{{Host: "quay.io", N: 4, Period: time.Hour}}
	rep, err := runChecked(t, t.Context(), opts, e2eLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	a := rep.Addons[0]
	if a.Status == StatusSuccess || !strings.Contains(a.Error, "pull budget spent") {
		t.Fatalf("%s: %s; want a failure naming the spent pull budget", a.Status, a.Error)
	}
	missing := w.checkDestination(t)
	if len(missing) != 2 {
		t.Fatalf("absent at the destination: %v; want exactly one of the three images copied whole", missing)
	}
	gets := 0
	for _, q := range w.srcP.Requests() {
		if q.Kind == registrytest.ManifestGet {
			gets++
		}
	}
	if gets < 3 || gets > 4 {
		t.Fatalf("%d manifest GETs at the source, want the copied image's 3 and at most the budget, 4", gets)
	}
	if n := rep.PullsRefused[w.srcP.Host]; n < 2 {
		t.Fatalf("PullsRefused = %v; want at least the 2 images' first pulls for %s", rep.PullsRefused, w.srcP.Host)
	}
}

// TestDeadDestinationIsCouldNotRun: a destination on a closed port is found down after a
// few connection failures; the report says so per host, counting the images it cost, and
// the run reports that it could not run (exit code 3 in the CLI).
func TestDeadDestinationIsCouldNotRun(t *testing.T) {
	w := newFaultWorld(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	opts := w.options(t.TempDir())
	opts.TargetRegistry = dead
	opts.InsecureRegistry = append(opts.InsecureRegistry, dead)
	rep, err := runChecked(t, t.Context(), opts, e2eLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.CouldNotRun() || rep.Unreachable[dead] == 0 {
		t.Fatalf("unreachable hosts %v, want %s counted", rep.Unreachable, dead)
	}
	if rep.Addons[0].Status == StatusSuccess || rep.Unreachable[dead] > len(rep.Addons[0].Images) {
		t.Errorf("addon %s with %d images; unreachable %v", rep.Addons[0].Status, len(rep.Addons[0].Images), rep.Unreachable)
	}
}
