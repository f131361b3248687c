package benchmarks

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// WriteResults writes RESULTS.md, sweep.svg and tools.svg into dir.
func WriteResults(dir string, r *Results) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "sweep.svg"), []byte(SweepSVG(r)), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "tools.svg"), []byte(ToolsSVG(r)), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "RESULTS.md"), []byte(Markdown(r)), 0o644)
}

func mb(n int64) string { return fmt.Sprintf("%.1f", float64(n)/1e6) }

// Markdown renders the results.
func Markdown(r *Results) string {
	var b strings.Builder
	c, f, m := r.Config, r.Fleet, r.Machine
	fmt.Fprintf(&b, "# airgap-charts benchmark results\n\n")
	fmt.Fprintf(&b, "Run on %s (took %s) by `go run ./benchmarks/cmd/airgap-bench`.\n\n", r.Started.Format("2006-01-02 15:04 MST"), r.Took.Round(1e9))
	fmt.Fprintf(&b, "**Machine:** %s, %d cores, %.1f GiB memory, %s, %s. All registries, proxies and tools share this machine.\n\n",
		orDash(m.CPU), m.Cores, float64(m.MemBytes)/(1<<30), m.GoVersion, m.OS)
	fmt.Fprintf(&b, "**Fleet** (seed %d): %d charts, %d images in %d repositories (%d multi-arch indexes of linux/amd64 + linux/arm64), "+
		"%d chart image references (%d pinned by digest), %d manifests, %d distinct blobs (%s MB), %d repository blob references. "+
		"Moved step: %d tags moved to new content (%d new blobs, %s MB); ours gets `--overwrite-existing` in it, as the peers replace a moved tag.\n\n",
		c.Fleet.Seed, f.Charts, f.Images, f.Repositories, f.MultiArch, f.ChartImageRefs, f.Pinned, f.Manifests,
		f.DistinctBlobs, mb(f.DistinctBytes), f.RepoBlobRefs, f.MovedTags, f.MovedBlobs, mb(f.MovedBytes))
	fmt.Fprintf(&b, "**Conditions:** every tool gets parallelism %d and a fresh destination (distribution v3, in memory) per scenario. "+
		"WAN: %v round trip per request and per connection/TLS handshake, %s MB/s per connection each way. "+
		"Hub: %d manifest GETs per %v (HEADs free), plus %.0f%% random 429s. ECR: manifest PUT 10/s, upload start and complete 100/s. "+
		"Per-run timeout %v (%v in the hub scenario, where a tool that honours Retry-After waits out the window).\n\n",
		c.Concurrency, c.RTT, mb(c.Bandwidth), c.HubPulls, c.HubWindow, c.FaultRate*100, c.Timeout, min(c.Timeout, c.HubTimeout))

	fmt.Fprintf(&b, "## Targets (ours against the best peer, same run)\n\n| target | measured | verdict |\n| --- | --- | --- |\n")
	for _, t := range r.Targets(f) {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", t.Target, cell(t.Measured), cell(t.Verdict))
	}
	b.WriteString("\n")

	for _, sc := range []struct{ scenario, step, title string }{
		{"loopback", "cold", "Cold copy into an empty destination (loopback)"},
		{"loopback", "warm", "No-op rerun (loopback)"},
		{"loopback", "moved", fmt.Sprintf("%.0f%% of source tags moved to new content (loopback)", c.MoveFraction*100)},
		{"wan", "cold", "Cold copy under WAN emulation"},
		{"wan", "warm", "No-op rerun under WAN emulation"},
		{"hub", "cold", "Docker Hub budget with random 429s: cold"},
		{"hub", "warm", "Docker Hub budget: warm rerun"},
		{"ecr", "cold", "ECR quota emulation: cold"},
		{"plan", "warm-plan", "Plan against a warm destination (airgap-charts plan, read only)"},
	} {
		writeTable(&b, r, sc.scenario, sc.step, sc.title)
	}

	fmt.Fprintf(&b, "## Concurrency sweep (ours, cold, WAN %v / %s MB/s)\n\n", c.RTT, mb(c.Bandwidth))
	if len(r.Sweep) == 0 {
		b.WriteString("Not run: ours could not be built.\n\n")
	} else {
		b.WriteString("| --concurrency | status | wall s | source blob GETs | peak RSS MB |\n| --- | --- | --- | --- | --- |\n")
		for _, x := range r.Sweep {
			fmt.Fprintf(&b, "| %d | %s | %.2f | %d | %s |\n", sweepConc(x), x.Status, x.Stats.Wall.Seconds(),
				x.Src.Kinds[registrytest.BlobGet], mb(x.Stats.PeakRSS))
		}
		b.WriteString("\n")
	}
	b.WriteString("![concurrency vs wall](sweep.svg)\n\n![per-tool cold and warm wall](tools.svg)\n\n")

	b.WriteString("## Failures and absent tools\n\n")
	any := false
	for _, x := range append(append([]RunResult(nil), r.Runs...), r.Sweep...) {
		if x.Status != "ok" {
			any = true
			fmt.Fprintf(&b, "- %s, %s %s: **%s** — %s\n", x.Tool, x.Scenario, x.Step, x.Status, cell(tail(x.Err, 400)))
		}
	}
	if !any {
		b.WriteString("None.\n")
	}
	b.WriteString("\n## How to read this\n\n" +
		"- Source counts are what the proxy in front of the source registry saw; destination counts are requests on image repositories " +
		"(chart pushes by ours are excluded; `dst all` includes them and the /v2/ pings).\n" +
		"- 429s: hub = the pull limit refused a manifest GET (avoidable by pacing), fault = injected at random, ecr = over the quota.\n" +
		"- Peak RSS: ours and regsync run as one process; crane and skopeo run one process per image, and the figure is the largest one " +
		"(several run at once). The reference style is one Go process using crane.Copy image by image.\n" +
		"- The reference style validates each chart image on the source and skips an existing destination tag, as the Python tool does; " +
		"it therefore never updates a moved tag.\n")
	return b.String()
}

func sweepConc(x RunResult) int {
	var n int
	fmt.Sscanf(x.Scenario, "sweep-%d", &n)
	return n
}

func writeTable(b *strings.Builder, r *Results, scenario, step, title string) {
	var rows []RunResult
	for _, x := range r.Runs {
		if x.Scenario == scenario && x.Step == step {
			rows = append(rows, x)
		}
	}
	if len(rows) == 0 {
		return
	}
	ours, haveOurs := r.Find("airgap-charts", scenario, step)
	fmt.Fprintf(b, "## %s\n\n", title)
	b.WriteString("| tool | status | wall s | × ours | src manifest GET | src blob GET | src blob MB | dst requests | dst all | uploads | mounts | 429 hub/ecr/fault | peak RSS MB |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	f := r.Fleet
	for _, x := range rows {
		ratio := "-"
		if haveOurs && ours.Status == "ok" && x.Status == "ok" && ours.Stats.Wall > 0 {
			ratio = fmt.Sprintf("%.2f", x.Stats.Wall.Seconds()/ours.Stats.Wall.Seconds())
		}
		if x.Status == "absent" {
			fmt.Fprintf(b, "| %s | absent | - | - | - | - | - | - | - | - | - | - | - |\n", x.Tool)
			continue
		}
		fmt.Fprintf(b, "| %s | %s | %.2f | %s | %d | %d (%d) | %s (%s) | %d | %d | %d | %d | %d/%d/%d | %s |\n",
			x.Tool, x.Status, x.Stats.Wall.Seconds(), ratio,
			x.Src.Kinds[registrytest.ManifestGet], x.Src.Kinds[registrytest.BlobGet], f.DistinctBlobs,
			mb(x.Src.BlobGetBytes), mb(f.DistinctBytes), x.Dst.Total, x.DstAll.Total,
			x.Dst.OK[registrytest.UploadEnd], x.Dst.Mounted,
			x.Src.Injected["hub"], x.Dst.Injected["ecr"], x.Src.Injected["fault"], mb(x.Stats.PeakRSS))
	}
	b.WriteString("\nIn parentheses: the fleet's distinct blobs and bytes.\n\n")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func cell(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ").Replace(s)
}
