package main

import (
	"fmt"
	"reflect"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airgap-charts/airgap-charts/engine"
)

// memoryBound is what one malformed input may cost: the peak of the heap in use during
// the invocation, above what it was before.
const memoryBound = 64 << 20

// measure runs f and returns the peak heap in use above the level before (sampled while f
// runs) and the bytes allocated in all.
func measure(f func()) (peak, total uint64) {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var top atomic.Uint64
	top.Store(before.HeapInuse)
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		// Sampled from runtime/metrics, which does not stop the world (ReadMemStats in a
		// loop did, and starved the run it measured), every 250µs: far quicker than a
		// heap can grow by the megabytes the limits are about.
		defer close(stopped)
		samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
		tick := time.NewTicker(250 * time.Microsecond)
		defer tick.Stop()
		for {
			metrics.Read(samples)
			if inuse := samples[0].Value.Uint64() + samples[1].Value.Uint64(); inuse > top.Load() {
				top.Store(inuse)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	f()
	close(done)
	<-stopped
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if after.HeapInuse > top.Load() {
		top.Store(after.HeapInuse)
	}
	return top.Load() - before.HeapInuse, after.TotalAlloc - before.TotalAlloc
}

// addon is one good addon of a catalog or values file, at lines 2 to 5.
const addon = "  - chart: loki\n    repository: https://grafana.github.io/helm-charts\n    version: 6.6.0\n    release: loki\n"

// hostileInput is one malformed input to the CLI: the files it finds, its arguments, and
// the error line it must end with.
type hostileInput struct {
	name  string
	files map[string]string
	args  []string
	want  string // the last stderr line after "airgap-charts: error: "
}

// nest builds text nested depth levels deep: open repeated, then close repeated.
func nest(open, close string, depth int) string {
	return strings.Repeat(open, depth) + "x" + strings.Repeat(close, depth)
}

// indented builds a mapping nested depth levels deep by indentation.
func indented(depth int) string {
	var b strings.Builder
	for i := range depth {
		fmt.Fprintf(&b, "%sk:\n", strings.Repeat(" ", i))
	}
	return b.String()
}

// aliasBomb is a document whose last alias expands to 10^9 values.
func aliasBomb(indent string) string {
	s := indent + "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
	for i := 1; i < 9; i++ {
		s += fmt.Sprintf("%sa%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", indent, i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	return s
}

// mergeBomb is a mapping of 40 levels, each merging the two before: expanded as written,
// 2^40 merges.
func mergeBomb(indent string) string {
	s := indent + "m0: &m0 {k0: 0}\n" + indent + "m1: &m1 {k1: 1}\n"
	for i := 2; i < 40; i++ {
		s += fmt.Sprintf("%sm%d: &m%d {<<: [*m%d, *m%d], k%d: %d}\n", indent, i, i, i-1, i-2, i, i)
	}
	return s
}

// flatKeys is a mapping of n keys (a mapping this wide costs yaml.v3's Decode n² steps).
func flatKeys(indent string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%sk%d: %d\n", indent, i, i)
	}
	return b.String()
}

func hostileInputs() []hostileInput {
	const deep = 50000 // 100 KB of brackets: before the depth bound, more than 3 GB
	big := strings.Repeat("# padding line of a file larger than the input cap\n", 5<<20/50)
	longName := strings.Repeat("a", 1<<20)
	values := map[string]string{"values.yaml": "addons:\n" + addon}
	with := func(extra map[string]string) map[string]string {
		out := map[string]string{"values.yaml": "addons:\n" + addon}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	cat := []string{"--catalog", "catalog.yaml"}
	val := []string{"--values", "values.yaml"}
	ov := []string{"--values", "values.yaml", "--overrides", "co.yaml"}
	badRelease := "  - chart: loki\n    repository: https://x.example.com\n    release: Bad_Release\n"
	tooDeep := "YAML nested deeper than 256 levels (the most an input may nest)"
	tooBig := "file is larger than 4 MiB, the most an input file may hold"
	return []hostileInput{
		// Catalogs.
		{"catalog flow sequences 50000 deep", map[string]string{"catalog.yaml": "addons: " + nest("[", "]", deep) + "\n"}, cat, "catalog.yaml:1: " + tooDeep},
		{"catalog flow mappings 50000 deep", map[string]string{"catalog.yaml": "addons: " + nest("{a: ", "}", deep) + "\n"}, cat, "catalog.yaml:1: " + tooDeep},
		{"catalog compact sequences 50000 deep", map[string]string{"catalog.yaml": "addons:\n" + strings.Repeat("- ", deep) + "x\n"}, cat, "catalog.yaml:2: " + tooDeep},
		{"catalog indentation 300 deep", map[string]string{"catalog.yaml": "addons:\n" + addon + indented(300)}, cat, "catalog.yaml:262: " + tooDeep},
		{"catalog unterminated 50000 deep", map[string]string{"catalog.yaml": "addons: " + strings.Repeat("[", deep) + "\n"}, cat, "catalog.yaml:1: " + tooDeep},
		{"catalog /dev/zero", nil, []string{"--catalog", "/dev/zero"}, "/dev/zero: catalog " + tooBig},
		{"catalog of 5 MiB", map[string]string{"catalog.yaml": "addons:\n" + addon + big}, cat, "catalog.yaml: catalog " + tooBig},
		{"catalog duplicate release key", map[string]string{"catalog.yaml": "addons:\n" + addon + "    release: logs\n"}, cat, `catalog.yaml:6: key "release" is given twice in one mapping, at lines 5 and 6 (remove one)`},
		{"catalog duplicate addons key", map[string]string{"catalog.yaml": "addons:\n" + addon + "addons: []\n"}, cat, `catalog.yaml:6: key "addons" is given twice in one mapping, at lines 1 and 6 (remove one)`},
		{"catalog duplicate key in values", map[string]string{"catalog.yaml": "addons:\n" + addon + "    values:\n      a: 1\n      b: 2\n      a: 3\n"}, cat, `catalog.yaml:9: key "a" is given twice in one mapping, at lines 7 and 9 (remove one)`},
		{"catalog addons: []", map[string]string{"catalog.yaml": "addons: []\n"}, cat, "catalog.yaml: the `addons:` list is empty: this catalog declares no addons"},
		{"catalog addons: null", map[string]string{"catalog.yaml": "addons:\n"}, cat, "catalog.yaml: the `addons:` list is empty: this catalog declares no addons"},
		{"two empty catalogs", map[string]string{"a.yaml": "addons: []\n", "b.yaml": "addons: []\n"}, []string{"--catalog", "a.yaml,b.yaml"}, "a.yaml: the `addons:` list is empty, as in every catalog given (a.yaml, b.yaml): no addons declared"},
		{"catalog release uppercase", map[string]string{"catalog.yaml": "addons:\n" + badRelease}, cat, `catalog.yaml:4: addon "Bad_Release": release "Bad_Release" is not a valid release name (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit)`},
		{"catalog release of 54 characters", map[string]string{"catalog.yaml": "addons:\n  - chart: loki\n    repository: https://x.example.com\n    release: " + strings.Repeat("r", 54) + "\n"}, cat, `catalog.yaml:4: addon "` + strings.Repeat("r", 54) + `": release "` + strings.Repeat("r", 54) + `" is longer than 53 characters`},
		{"catalog release ending in a dash", map[string]string{"catalog.yaml": "addons:\n  - chart: loki\n    repository: https://x.example.com\n    release: loki-\n"}, cat, `catalog.yaml:4: addon "loki-": release "loki-" is not a valid release name (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit)`},
		{"catalog release of 1 MiB", map[string]string{"catalog.yaml": "addons:\n  - chart: loki\n    repository: https://x.example.com\n    release: " + longName + "\n"}, cat, `catalog.yaml:4: addon "` + longName + `": release "` + longName[:64] + `"… (1048576 bytes) is longer than 53 characters`},
		{"catalog namespace with underscore", map[string]string{"catalog.yaml": "addons:\n" + addon + "    namespace: kube_system\n"}, cat, `catalog.yaml:6: addon "loki": namespace "kube_system" is not a valid namespace (lowercase letters, digits and '-', starting and ending with a letter or digit)`},
		{"catalog namespace of 64 characters", map[string]string{"catalog.yaml": "addons:\n" + addon + "    namespace: " + strings.Repeat("n", 64) + "\n"}, cat, `catalog.yaml:6: addon "loki": namespace "` + strings.Repeat("n", 64) + `" is longer than 63 characters`},
		{"catalog oci_namespace climbing out", map[string]string{"catalog.yaml": "addons:\n" + addon + "    oci_namespace: ../../x\n"}, cat, `catalog.yaml:6: addon "loki": oci_namespace "../../x" refers to "..", which is not a repository path component`},
		{"catalog oci_namespace with empty component", map[string]string{"catalog.yaml": "addons:\n" + addon + "    oci_namespace: a//b\n"}, cat, `catalog.yaml:6: addon "loki": oci_namespace "a//b" has an empty path component`},
		{"catalog oci_namespace uppercase", map[string]string{"catalog.yaml": "addons:\n" + addon + "    oci_namespace: Grafana\n"}, cat, `catalog.yaml:6: addon "loki": oci_namespace "Grafana": component "Grafana" is not a valid repository name component (lowercase letters and digits, separated by '.', '_', '__' or '-')`},
		{"catalog two documents", map[string]string{"catalog.yaml": "addons:\n" + addon + "---\naddons: []\n"}, cat, "catalog.yaml: a catalog is one YAML document with an `addons:` list; found 2 documents"},
		{"catalog root is a list", map[string]string{"catalog.yaml": "- chart: loki\n"}, cat, "catalog.yaml:1: a catalog needs an `addons:` list"},
		{"catalog alias bomb in values", map[string]string{"catalog.yaml": "addons:\n" + addon + "    values:\n" + aliasBomb("      ")}, cat, `catalog.yaml:7: addon "loki": values: values expand to more than 1048576 entries (aliases included)`},
		{"catalog tab indentation", map[string]string{"catalog.yaml": "addons:\n\t- chart: loki\n"}, cat, "catalog.yaml:2:1: malformed YAML: found character '\t' that cannot start any token"},
		{"catalog unterminated quote", map[string]string{"catalog.yaml": "addons:\n  - chart: \"loki\n"}, cat, "catalog.yaml:2:12: malformed YAML: could not find end character of double-quoted text"},
		{"catalog NUL bytes", map[string]string{"catalog.yaml": "addons:\n  - chart: \x00\x00\x00\n"}, cat, "catalog.yaml: malformed YAML: control characters are not allowed"},
		// Values files.
		{"values flow sequences 50000 deep", map[string]string{"values.yaml": "addons: " + nest("[", "]", deep) + "\n"}, val, "values.yaml:1: " + tooDeep},
		{"values compact sequences 50000 deep", map[string]string{"values.yaml": "apps:\n" + strings.Repeat("- ", deep) + "x\n"}, val, "values.yaml:2: " + tooDeep},
		{"values 50000 deep in a helm.values string", map[string]string{"values.yaml": "addons:\n" + addon + "    helm:\n      values: |\n        a: " + nest("[", "]", deep) + "\n"}, val, `values.yaml:8: addon "loki": values: ` + tooDeep},
		{"values /dev/zero", nil, []string{"--values", "/dev/zero"}, "/dev/zero: values " + tooBig},
		{"values of 5 MiB", map[string]string{"values.yaml": "addons:\n" + addon + big}, val, "values.yaml: values " + tooBig},
		{"values duplicate chart key", map[string]string{"values.yaml": "addons:\n" + addon + "    chart: tempo\n"}, val, `values.yaml:6: key "chart" is given twice in one mapping, at lines 2 and 6 (remove one)`},
		{"values duplicate key deep in values", map[string]string{"values.yaml": "addons:\n" + addon + "    values:\n      image:\n        tag: a\n        tag: b\n"}, val, `values.yaml:9: key "tag" is given twice in one mapping, at lines 8 and 9 (remove one)`},
		{"values duplicate key in a helm.values string", map[string]string{"values.yaml": "addons:\n" + addon + "    helm:\n      values: |\n        a: 1\n        a: 2\n"}, val, `values.yaml:9: addon "loki": values: key "a" is given twice in one mapping, at lines 8 and 9 (remove one)`},
		{"values duplicate Argo CD spec", map[string]string{"values.yaml": "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: loki\nspec:\n  source: {chart: loki, repoURL: https://x.example.com}\nspec: {}\n"}, val, `values.yaml:7: key "spec" is given twice in one mapping, at lines 5 and 7 (remove one)`},
		{"values addons: []", map[string]string{"values.yaml": "addons: []\n"}, val, "values.yaml:1: the `addons:` list is empty: this file declares no addons"},
		{"values releaseName invalid", map[string]string{"values.yaml": "addons:\n  - chart: loki\n    repository: https://x.example.com\n    releaseName: -loki\n"}, val, `values.yaml:4: addon "-loki": release "-loki" is not a valid release name (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit)`},
		{"values release from an invalid chart name", map[string]string{"values.yaml": "addons:\n  - chart: Loki\n    repository: https://x.example.com\n"}, val, `values.yaml:2: addon "Loki": release "Loki" is not a valid release name (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit)`},
		{"values Argo CD name invalid as a release", map[string]string{"values.yaml": "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: Loki_App\nspec:\n  source: {chart: loki, repoURL: https://x.example.com, targetRevision: 1.0.0}\n"}, val, `values.yaml:6: addon "Loki_App": release "Loki_App" is not a valid release name (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit)`},
		{"values Argo CD destination namespace invalid", map[string]string{"values.yaml": "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: loki\nspec:\n  destination: {namespace: Monitoring}\n  source: {chart: loki, repoURL: https://x.example.com}\n"}, val, `values.yaml:7: addon "loki": namespace "Monitoring" is not a valid namespace (lowercase letters, digits and '-', starting and ending with a letter or digit)`},
		{"values chart path climbing out", map[string]string{"values.yaml": "addons:\n  - chart: ../loki\n    repository: oci://ghcr.io/x\n    release: loki\n"}, val, `values.yaml:2: addon "loki": oci_namespace ".." refers to "..", which is not a repository path component`},
		{"values merge-key bomb", map[string]string{"values.yaml": "addons:\n" + badRelease + "    values:\n" + mergeBomb("      ")}, val, `values.yaml:4: addon "Bad_Release": release "Bad_Release" is not a valid release name (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit)`},
		{"values 60000 keys in one mapping", map[string]string{"values.yaml": "addons:\n" + badRelease + "    values:\n" + flatKeys("      ", 60000)}, val, `values.yaml:4: addon "Bad_Release": release "Bad_Release" is not a valid release name (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit)`},
		{"values alias bomb in helm.values", map[string]string{"values.yaml": "addons:\n" + addon + "    helm:\n      valuesObject:\n" + aliasBomb("        ")}, val, `values.yaml:8: addon "loki": values: values expand to more than 1048576 entries (aliases included)`},
		{"values string not a mapping", map[string]string{"values.yaml": "addons:\n" + addon + "    values: \"- a\"\n"}, val, `values.yaml:6: addon "loki": values string is not a YAML mapping`},
		{"values repository of 1 MiB", map[string]string{"values.yaml": "addons:\n  - chart: loki\n    repository: s3://" + longName + "\n"}, val, `values.yaml:3: addon "loki": repository "s3://` + longName[:251] + `…" has scheme "s3"; use http://, https:// or oci://`},
		// chart-overrides.yaml.
		{"overrides 50000 deep", with(map[string]string{"co.yaml": "overrides:\n  loki: " + nest("{a: ", "}", deep) + "\n"}), ov, "co.yaml:2: " + tooDeep},
		{"overrides /dev/zero", values, []string{"--values", "values.yaml", "--overrides", "/dev/zero"}, "/dev/zero: overrides " + tooBig},
		{"overrides of 5 MiB", with(map[string]string{"co.yaml": big}), ov, "co.yaml: overrides " + tooBig},
		{"overrides duplicate chart", with(map[string]string{"co.yaml": "overrides:\n  loki: {a: 1}\n  loki: {b: 2}\n"}), ov, `co.yaml:3: key "loki" is given twice in one mapping, at lines 2 and 3 (remove one)`},
		{"overrides duplicate value key", with(map[string]string{"co.yaml": "overrides:\n  loki:\n    image: a\n    image: b\n"}), ov, `co.yaml:4: key "image" is given twice in one mapping, at lines 3 and 4 (remove one)`},
		{"overrides duplicate top key", with(map[string]string{"co.yaml": "overrides: {}\npublic_images: {}\noverrides: {}\n"}), ov, `co.yaml:3: key "overrides" is given twice in one mapping, at lines 1 and 3 (remove one)`},
		{"overrides duplicate public_images chart", with(map[string]string{"co.yaml": "public_images:\n  loki: [a]\n  loki: [b]\n"}), ov, `co.yaml:3: key "loki" is given twice in one mapping, at lines 2 and 3 (remove one)`},
		{"overrides alias bomb", with(map[string]string{"co.yaml": "overrides:\n  loki:\n" + aliasBomb("    ")}), ov, `co.yaml:3: overrides for chart "loki": values expand to more than 1048576 entries (aliases included)`},
		{"overrides unknown key", with(map[string]string{"co.yaml": "override: {}\n"}), ov, `co.yaml:1: unknown key "override" (chart-overrides.yaml holds ` + "`overrides:` and `public_images:`)"},
		// Flags.
		{"target-prefix climbing out", values, append(val, "--target-prefix", "../evil"), `--target-prefix "../evil" refers to "..", which is not a repository path component (see airgap-charts --help)`},
		{"target-prefix dot component", values, append(val, "--target-prefix", "a/./b"), `--target-prefix "a/./b" refers to ".", which is not a repository path component (see airgap-charts --help)`},
		{"target-prefix empty component", values, append(val, "--target-prefix", "a//b"), `--target-prefix "a//b" has an empty path component (see airgap-charts --help)`},
		{"target-prefix uppercase", values, append(val, "--target-prefix", "Mirror"), `--target-prefix "Mirror": component "Mirror" is not a valid repository name component (lowercase letters and digits, separated by '.', '_', '__' or '-') (see airgap-charts --help)`},
		{"target-prefix with a query", values, append(val, "--target-prefix", "x?y=1"), `--target-prefix "x?y=1": component "x?y=1" is not a valid repository name component (lowercase letters and digits, separated by '.', '_', '__' or '-') (see airgap-charts --help)`},
		{"report is a directory", with(map[string]string{"rdir/keep": ""}), append(val, "--report", "rdir"), "--report rdir: is a directory, not a file (see airgap-charts --help)"},
		{"report under a regular file", with(map[string]string{"afile": "x"}), append(val, "--report", "afile/report.json"), "--report afile/report.json: afile is not a directory (see airgap-charts --help)"},
		{"report is a device", values, append(val, "--report", "/dev/null"), "--report /dev/null: is not a regular file (see airgap-charts --help)"},
		{"ca-file /dev/zero", values, append(val, "--ca-file", "/dev/zero"), "/dev/zero: CA " + tooBig},
		{"lifecycle policy /dev/zero", values, append(val, "--ecr-lifecycle-policy", "/dev/zero"), "/dev/zero: lifecycle policy " + tooBig},
	}
}

// TestHostileInputsCostBoundedMemory: each malformed input file or flag ends with exit
// code 2 and one error line naming the file:line or the flag, before the engine starts,
// having written nothing, at a bounded cost in memory.
func TestHostileInputsCostBoundedMemory(t *testing.T) {
	cases := hostileInputs()
	var worst uint64
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := inTempDir(t, tc.files)
			before := listTree(t, dir)
			var out outcome
			peak, total := measure(func() {
				out = invoke(t, append(tc.args, "--output-dir", "out"), nil, func(engine.Options) (*engine.Report, error) {
					t.Error("the engine ran despite bad input")
					return nil, nil
				})
			})
			worst = max(worst, peak)
			if out.code != exitUsage {
				t.Errorf("exit code %d, want %d; stderr:\n%s", out.code, exitUsage, lastLines(out.stderr, 3))
			}
			lines := strings.Split(strings.TrimSpace(out.stderr), "\n")
			if got := lines[len(lines)-1]; got != "airgap-charts: error: "+tc.want {
				t.Errorf("stderr last line:\n got %.400s\nwant airgap-charts: error: %.400s", got, tc.want)
			}
			if out.stdout != "" {
				t.Errorf("stdout not empty: %.200q", out.stdout)
			}
			if after := listTree(t, dir); !reflect.DeepEqual(after, before) {
				t.Errorf("files changed: before %v, after %v", before, after)
			}
			if peak > memoryBound {
				t.Errorf("peak heap %d MiB above the start, want under %d MiB (allocated %d MiB in all)", peak>>20, memoryBound>>20, total>>20)
			}
		})
	}
	t.Logf("%d malformed inputs and flags refused; worst peak heap %d MiB", len(cases), worst>>20)
}
