package engine

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/airgap-charts/airgap-charts/engine/reporttest"
	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/stages"
)

// runChecked is Run, and then, when the run wrote a report, the check that it follows
// report.schema.json: every report the suite writes is validated.
func runChecked(t testing.TB, ctx context.Context, opts Options, log *zap.Logger) (*Report, error) {
	t.Helper()
	rep, err := Run(ctx, opts, log)
	if opts.ReportFile != "" && err == nil {
		reporttest.CheckFile(t, ReportSchema, opts.ReportFile)
	}
	return rep, err
}

// fullReport is a report with every field set, every optional part present.
func fullReport() *Report {
	img := ImageReport{
		Source: "docker.io/library/nginx:1.27", Destination: "reg.example/team/library/nginx:1.27",
		SourceDigest: "sha256:" + strings.Repeat("a", 64), DestDigest: "sha256:" + strings.Repeat("b", 64),
		Where:  []stages.Location{{Kind: "Deployment", Name: "web", Path: "spec.template.spec.containers[0].image", Template: "web/templates/d.yaml"}},
		Result: OutcomeCopied, Reason: "r", Error: "e", Bytes: 12, Duration: Duration(1500 * time.Millisecond),
		Referrers: &registry.ReferrersResult{Found: 1, Copied: []string{"sha256:" + strings.Repeat("c", 64)}, Notes: []string{"n"}, Requests: 2},
		Signature: &registry.Verification{Digest: "sha256:" + strings.Repeat("a", 64), By: "cosign-tag (key k.pub)", Checked: 1, Requests: 1},
	}
	addon := &AddonReport{
		Addon: "web", Chart: "web", Release: "web", Repository: "https://charts.example", Version: "1.0.0",
		Status: StatusError, Stage: "images", Error: "boom", Warnings: []string{"w"},
		ChartDigest: "sha256:" + strings.Repeat("d", 64), PackagedDigest: "sha256:" + strings.Repeat("e", 64),
		ChartArchive: "out/web/web-1.0.0.tgz", ChartRef: "oci://reg.example/web:1.0.0", ChartResult: "pushed",
		ConsumerOverrides: "out/web/values.yaml", VerifyPolicy: "out/web/verify-images-policy.yaml",
		Dependencies: []stages.Dependency{{Parent: "web", Name: "db", Version: "1.0.0", Repository: "https://x", State: stages.DepFetched, Enabled: true}},
		Fallbacks:    []string{"f"},
		PublicImages: []PublicImage{{Image: "quay.io/x:1", Render: "packaged", Where: "Deployment/web", Reason: "hard-coded", Allowed: true}},
		Images:       []ImageReport{img},
		RunCache:     RunCacheMiss,
		Timings:      map[string]Duration{"render": Duration(time.Millisecond)},
		Duration:     Duration(2 * time.Second),
	}
	rep := newReport([]*AddonReport{addon}, "reg.example", Options{TargetPrefix: "team", Platform: registry.PlatformAuto, CommandLine: []string{"--values", "v.yaml"}}, 3*time.Second)
	rep.PullsRefused = map[string]int{"docker.io": 3}
	rep.Unreachable = map[string]int{"quay.io": 1}
	return rep
}

func TestReportFollowsSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.json")
	rep := fullReport()
	if err := rep.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	reporttest.CheckFile(t, ReportSchema, path)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	if raw["schema_version"] != float64(ReportSchemaVersion) || raw["tool_version"] == "" || raw["duration_seconds"] != 3.0 {
		t.Errorf("report header: schema_version %v, tool_version %v, duration_seconds %v", raw["schema_version"], raw["tool_version"], raw["duration_seconds"])
	}
	img := raw["addons"].([]any)[0].(map[string]any)["images"].([]any)[0].(map[string]any)
	if img["duration_seconds"] != 1.5 {
		t.Errorf("image duration_seconds %v, want 1.5", img["duration_seconds"])
	}
	// One duration format: no key of the report names another unit.
	for _, bad := range []string{`"duration_ns"`, `"elapsed"`, `"duration"`, `"timings"`} {
		if strings.Contains(string(data), bad) {
			t.Errorf("report still has %s", bad)
		}
	}
	var back Report
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.Duration != rep.Duration || back.Addons[0].Images[0].Duration != rep.Addons[0].Images[0].Duration {
		t.Errorf("durations do not read back: %v, %v", back.Duration, back.Addons[0].Images[0].Duration)
	}
}

// The schema is strict: what it does not describe, or describes otherwise, fails.
func TestReportSchemaRejects(t *testing.T) {
	data, err := json.Marshal(fullReport())
	if err != nil {
		t.Fatal(err)
	}
	if err := reporttest.Validate(ReportSchema, data); err != nil {
		t.Fatalf("the full report does not validate: %v", err)
	}
	for name, edit := range map[string]func(map[string]any){
		"an undocumented field":      func(m map[string]any) { m["surprise"] = 1 },
		"an unknown result":          func(m map[string]any) { image(m)["result"] = "teleported" },
		"an unknown status":          func(m map[string]any) { addon(m)["status"] = "MAYBE" },
		"a duration as text":         func(m map[string]any) { m["duration_seconds"] = "3s" },
		"a negative count":           func(m map[string]any) { m["totals"].(map[string]any)["copied"] = -1 },
		"no schema_version":          func(m map[string]any) { delete(m, "schema_version") },
		"a bad digest":               func(m map[string]any) { image(m)["source_digest"] = "nope" },
		"an undocumented image part": func(m map[string]any) { image(m)["layers"] = 3 },
	} {
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		edit(m)
		bad, _ := json.Marshal(m)
		if reporttest.Validate(ReportSchema, bad) == nil {
			t.Errorf("%s: the schema accepts it", name)
		}
	}
}

func addon(m map[string]any) map[string]any { return m["addons"].([]any)[0].(map[string]any) }
func image(m map[string]any) map[string]any {
	return addon(m)["images"].([]any)[0].(map[string]any)
}

// Every outcome and status the engine has is in the schema.
func TestReportSchemaKnowsEveryValue(t *testing.T) {
	for _, o := range []Outcome{OutcomeCopied, OutcomeSkippedExisting, OutcomeSkippedSameDigest, OutcomeOverwritten, OutcomePlanned, OutcomeFailed} {
		if !strings.Contains(string(ReportSchema), `"`+string(o)+`"`) {
			t.Errorf("result %q is not in report.schema.json", o)
		}
	}
	for _, s := range []string{StatusSuccess, StatusError, StatusIncomplete} {
		if !strings.Contains(string(ReportSchema), `"`+s+`"`) {
			t.Errorf("status %q is not in report.schema.json", s)
		}
	}
}
