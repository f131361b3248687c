package main

import (
	"reflect"
	"testing"

	"github.com/airgap-charts/airgap-charts/registry"
)

// --platform with a list and --platform-missing skip reach the engine as one parsed value;
// --max-per-host as a map by host ("" for every host).
func TestPlatformListAndMaxPerHostFlags(t *testing.T) {
	inTempDir(t, map[string]string{"values.yaml": exampleValues})
	out := invoke(t, []string{"--values", "values.yaml", "--platform", "linux/arm64,linux/amd64", "--platform-missing", "skip",
		"--max-per-host", "4", "--max-per-host", "Docker.IO=2", "--max-per-host", "ghcr.io=3"}, nil, nil)
	if out.code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", out.code, out.stderr)
	}
	want, _ := registry.MustParsePlatform("linux/amd64,linux/arm64").WithMissing(registry.PlatformMissingSkip)
	if got := out.opts.Platform; !reflect.DeepEqual(got, want) || !got.SkipsMissing() || got.String() != "linux/amd64,linux/arm64" {
		t.Fatalf("platform %v (skips missing %v), want %v skipping missing", got, got.SkipsMissing(), want)
	}
	if got := out.opts.MaxPerHost; !reflect.DeepEqual(got, map[string]int{"": 4, "docker.io": 2, "ghcr.io": 3}) {
		t.Fatalf("max per host %v", got)
	}
}
