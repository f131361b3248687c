package main

import (
	"bytes"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestReadmeFlagsMatchHelp keeps the README's flag reference true to --help: every flag it
// names exists, and every flag of sync is documented.
func TestReadmeFlagsMatchHelp(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	flagRE := regexp.MustCompile(`--(?:\[no-\])?[a-z][a-z0-9-]*[a-z0-9]`)
	helpFlags := map[string]bool{}
	syncFlags := map[string]bool{}
	for _, args := range [][]string{{"sync", "--help"}, {"catalog", "--help"}, {"export", "--help"}, {"import", "--help"}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr, func(string) string { return "" }); code != exitOK {
			t.Fatalf("%v: exit %d", args, code)
		}
		for _, f := range flagRE.FindAllString(stdout.String(), -1) {
			if name, ok := strings.CutPrefix(f, "--[no-]"); ok {
				helpFlags["--"+name], helpFlags["--no-"+name] = true, true
				f = "--" + name
			}
			helpFlags[f] = true
			if args[0] == "sync" {
				syncFlags[f] = true
			}
		}
	}
	if len(syncFlags) < 40 {
		t.Fatalf("found only %d sync flags in --help", len(syncFlags))
	}
	inReadme := map[string]bool{}
	for _, f := range flagRE.FindAllString(string(readme), -1) {
		inReadme[f] = true
		if !helpFlags[f] {
			t.Errorf("README names %s, which --help does not list", f)
		}
	}
	var missing []string
	for f := range syncFlags {
		if !inReadme[f] && f != "--help" {
			missing = append(missing, f)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("README does not document %v", missing)
	}
}
