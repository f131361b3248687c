package main

import (
	"bytes"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/airgap-charts/airgap-charts/engine"
)

// TestEnvironmentConfiguresARun: with no flag but the command, AIRGAP_CHARTS_* variables
// give the run its inputs and settings (strings, numbers, durations, negated booleans,
// lists, repeatable HOST=N/PERIOD values); a flag on the command line wins over its variable.
func TestEnvironmentConfiguresARun(t *testing.T) {
	inTempDir(t, map[string]string{"values.yaml": exampleValues})
	env := map[string]string{
		"AIRGAP_CHARTS_VALUES":            "values.yaml",
		"AIRGAP_CHARTS_TARGET_REGISTRY":   "harbor.example.com",
		"AIRGAP_CHARTS_TARGET_PREFIX":     "team/x",
		"AIRGAP_CHARTS_TARGET_KIND":       "oci",
		"AIRGAP_CHARTS_CONCURRENCY":       "3",
		"AIRGAP_CHARTS_SKIP_EXISTING":     "false",
		"AIRGAP_CHARTS_SCAN_ONLY":         "true",
		"AIRGAP_CHARTS_REQUEST_TIMEOUT":   "90s",
		"AIRGAP_CHARTS_INSECURE_REGISTRY": "127.0.0.1:5001,mirror.local",
		"AIRGAP_CHARTS_RATE_LIMIT":        "docker.io=100/6h",
		"AIRGAP_CHARTS_OUTPUT_DIR":        "out",
		"AIRGAP_CHARTS_REPORT":            "report.json",
		"AIRGAP_CHARTS_DOCKERHUB_TOKEN":   "env-dh-token-1",
		"AIRGAP_CHARTS_LOG_FORMAT":        "json",
	}
	out := invoke(t, []string{"sync"}, env, nil)
	if out.code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", out.code, out.stderr)
	}
	o := out.opts
	if len(o.Addons) != 2 || o.TargetRegistry != "harbor.example.com" || o.TargetPrefix != "team/x" || o.TargetKind != "oci" ||
		o.Concurrency != 3 || o.SkipExisting || !o.ScanOnly || o.RequestTimeout != 90*time.Second ||
		!reflect.DeepEqual(o.InsecureRegistry, []string{"127.0.0.1:5001", "mirror.local"}) ||
		!reflect.DeepEqual(o.RateLimits, []engine.RateLimit{{Host: "docker.io", N: 100, Period: 6 * time.Hour}}) ||
		o.OutputDir != "out" || o.ReportFile != "report.json" || o.DockerHubToken != "env-dh-token-1" {
		t.Errorf("options from the environment: %+v", o)
	}
	if !strings.HasPrefix(strings.TrimSpace(out.stderr), "{") {
		t.Errorf("AIRGAP_CHARTS_LOG_FORMAT=json did not give JSON logs:\n%s", out.stderr)
	}
	if strings.Contains(out.stderr+out.stdout, "env-dh-token-1") {
		t.Errorf("a secret given through the environment was printed")
	}

	// The command line wins.
	out = invoke(t, []string{"sync", "--concurrency", "5", "--target-registry", "other.example.com"}, env, nil)
	if out.code != exitOK || out.opts.Concurrency != 5 || out.opts.TargetRegistry != "other.example.com" || out.opts.TargetPrefix != "team/x" {
		t.Errorf("flags over environment: exit %d, concurrency %d, registry %q, prefix %q", out.code, out.opts.Concurrency, out.opts.TargetRegistry, out.opts.TargetPrefix)
	}

	// A bad value in the environment is a usage error naming the variable.
	out = invoke(t, []string{"sync"}, map[string]string{"AIRGAP_CHARTS_VALUES": "values.yaml", "AIRGAP_CHARTS_CONCURRENCY": "many"}, nil)
	if out.code != exitUsage || !strings.Contains(out.stderr, "--concurrency") {
		t.Errorf("bad environment value: exit %d, stderr %s", out.code, out.stderr)
	}
}

// TestHelpNamesEveryEnvironmentVariable: every flag of every command shows its
// AIRGAP_CHARTS_* variable, named after the flag.
func TestHelpNamesEveryEnvironmentVariable(t *testing.T) {
	flagLine := regexp.MustCompile(`^ {2,6}(?:-\w, )?--(?:\[no-\])?([a-z][a-z0-9-]*)`)
	for _, cmd := range []string{"sync", "catalog"} {
		var stdout, stderr bytes.Buffer
		if code := run([]string{cmd, "--help"}, &stdout, &stderr, func(string) string { return "" }); code != exitOK {
			t.Fatalf("%s --help: exit %d", cmd, code)
		}
		help := stdout.String()
		// A flag's entry runs from its line to the next flag's line or group title.
		entries := regexp.MustCompile(`(?m)^ {2,6}(?:-\w, )?--`).Split(help, -1)
		n := 0
		for _, line := range strings.Split(help, "\n") {
			m := flagLine.FindStringSubmatch(line)
			if m == nil || m[1] == "help" {
				continue
			}
			n++
			want := "$" + envPrefix + "_" + strings.ToUpper(strings.ReplaceAll(m[1], "-", "_"))
			found := false
			for _, e := range entries {
				if strings.HasPrefix(strings.TrimPrefix(e, "[no-]"), m[1]) && strings.Contains(strings.Join(strings.Fields(e), ""), want) {
					found = true
				}
			}
			if !found {
				t.Errorf("%s --help: --%s does not name %s", cmd, m[1], want)
			}
		}
		if cmd == "sync" && n < 40 {
			t.Errorf("sync --help: only %d flags seen", n)
		}
		if !strings.Contains(help, "Examples:") {
			t.Errorf("%s --help has no examples", cmd)
		}
	}
}

// TestExitCodesInHelpAndReadme: --help and the README carry the same exit code table.
func TestExitCodesInHelpAndReadme(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--help"}, {"sync", "--help"}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr, func(string) string { return "" }); code != exitOK {
			t.Fatalf("%v: exit %d", args, code)
		}
		for _, e := range exitCodeTable {
			line := "  " + strconv.Itoa(e.code) + strings.Repeat(" ", 5-len(strconv.Itoa(e.code))) + e.meaning
			if !strings.Contains(stdout.String(), line) {
				t.Errorf("%v does not list exit code %d as %q", args, e.code, e.meaning)
			}
		}
	}
	for _, e := range exitCodeTable {
		row := "| `" + strconv.Itoa(e.code) + "` | " + e.meaning + " |"
		if !strings.Contains(string(readme), row) {
			t.Errorf("README exit code table lacks the row %s", row)
		}
	}
}
