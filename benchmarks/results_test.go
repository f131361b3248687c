package benchmarks

import (
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

func run(tool, scenario, step string, wall time.Duration, src, dst Counts) RunResult {
	return RunResult{Tool: tool, Scenario: scenario, Step: step, Status: "ok", Stats: ToolStats{Wall: wall, PeakRSS: 90 << 20}, Src: src, Dst: dst}
}

func counts(kv map[registrytest.Kind]int, ok map[registrytest.Kind]int, mounted int) Counts {
	return Counts{Kinds: kv, OK: ok, Mounted: mounted, Injected: map[string]int{}, Total: kv[registrytest.ManifestHead]}
}

func TestTargetsAndReport(t *testing.T) {
	f := FleetFacts{Charts: 2, Images: 3, DistinctBlobs: 10, RepoBlobRefs: 14}
	coldSrc := counts(map[registrytest.Kind]int{registrytest.BlobGet: 10}, nil, 0)
	coldDst := counts(nil, map[registrytest.Kind]int{registrytest.UploadEnd: 11}, 4) // one upload too many
	warmSrc := counts(map[registrytest.Kind]int{}, nil, 0)
	warmDst := counts(map[registrytest.Kind]int{registrytest.ManifestHead: 3}, nil, 0)
	r := &Results{Fleet: f, Config: Config{}.withDefaults(), Machine: DescribeMachine(), Started: time.Now(),
		Runs: []RunResult{
			run("airgap-charts", "loopback", "cold", 2*time.Second, coldSrc, coldDst),
			run("airgap-charts", "loopback", "warm", 100*time.Millisecond, warmSrc, warmDst),
			run("airgap-charts", "wan", "cold", 8*time.Second, coldSrc, coldDst),
			run("regsync", "loopback", "cold", 4*time.Second, coldSrc, coldDst),
			run("regsync", "loopback", "warm", 50*time.Millisecond, warmSrc, warmDst),
			run("regsync", "wan", "cold", 10*time.Second, coldSrc, coldDst),
			{Tool: "skopeo copy --all", Scenario: "loopback", Step: "cold", Status: "absent", Err: "absent: not on PATH"},
		},
		Sweep: []RunResult{run("airgap-charts", "sweep-1", "cold", 9*time.Second, coldSrc, coldDst),
			run("airgap-charts", "sweep-8", "cold", 3*time.Second, coldSrc, coldDst)},
	}
	verdicts := map[string]string{}
	for _, tl := range r.Targets(f) {
		verdicts[tl.Target] = tl.Verdict
	}
	want := map[string]string{
		"cold: source blob GETs (= distinct blobs)":                                "met",
		"cold: destination uploads completed (= distinct blobs)":                   "MISSED (got 11, want == 10)",
		"cold: destination mounts (= repository blob references - distinct blobs)": "met",
		"warm: destination requests on image repositories (<= 1 per image)":        "met",
		"cold wall under WAN ≤ 0.7× best peer":                                     "MISSED by 14% (limit 0.7×)",
		"cold wall on loopback ≤ 1.0× best peer":                                   "met",
		"warm wall ≤ regsync's":                                                    "MISSED by 100% (limit 1.0×)",
	}
	for k, v := range want {
		if verdicts[k] != v {
			t.Errorf("%s: verdict %q, want %q", k, verdicts[k], v)
		}
	}
	dir := t.TempDir()
	if err := WriteResults(dir, r); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "RESULTS.md"))
	for _, s := range []string{"## Targets", "| skopeo copy --all | absent |", "| regsync | ok | 4.00 | 2.00 |", "![concurrency vs wall](sweep.svg)", "Machine:"} {
		if !strings.Contains(string(md), s) {
			t.Errorf("RESULTS.md lacks %q", s)
		}
	}
	for _, name := range []string{"sweep.svg", "tools.svg"} {
		raw, _ := os.ReadFile(filepath.Join(dir, name))
		dec := xml.NewDecoder(strings.NewReader(string(raw)))
		shapes := 0
		for {
			tok, err := dec.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s is not well-formed XML: %v", name, err)
			}
			if se, ok := tok.(xml.StartElement); ok && (se.Name.Local == "circle" || se.Name.Local == "rect") {
				shapes++
			}
		}
		if shapes < 3 {
			t.Fatalf("%s has %d data shapes", name, shapes)
		}
	}
}
