package main

import (
	"bytes"
	"reflect"
	"sort"
	"testing"
)

// The names parse looks for are exactly the whole command line's commands besides sync,
// with their aliases, as kong reads them.
func TestOtherCommandsAreTheModelsCommands(t *testing.T) {
	a := &app{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, env: func(string) string { return "" }}
	p, err := a.parser()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, c := range p.Model.Children {
		if c.Name != "sync" {
			want = append(want, c.Name)
			want = append(want, c.Aliases...)
		}
	}
	var got []string
	for n := range otherCommands() {
		got = append(got, n)
	}
	sort.Strings(want)
	sort.Strings(got)
	if len(want) < 6 || !reflect.DeepEqual(got, want) {
		t.Fatalf("other commands %v, the model's %v", got, want)
	}
}

// A command line that can only mean a sync is parsed by the sync's part alone, and a bare
// `version` by the version's, into what the whole command line parses it into; any other,
// and any the part refuses, by the whole, with the whole's error.
func TestParseTakesTheSyncPartOnlyWhenItCanOnlyBeASync(t *testing.T) {
	env := map[string]string{"AIRGAP_CHARTS_CONCURRENCY": "5", "AIRGAP_CHARTS_TARGET_REGISTRY": "reg.example.com"}
	cases := []struct {
		args     []string
		syncPart bool
		fails    bool
		help     bool
		// versionPart: parsed by the version's part (a bare `version`).
		versionPart bool
	}{
		{args: []string{"sync", "--catalog", "c.yaml", "--log-format", "json", "--referrers", "none"}, syncPart: true},
		{args: []string{"--catalog", "c.yaml", "--log-level", "debug"}, syncPart: true}, // the default command
		{args: nil, syncPart: true},
		{args: []string{"sync", "--catalog", "plan"}}, // a value that is a command's name: by the whole
		{args: []string{"plan", "--catalog", "c.yaml"}},
		{args: []string{"version"}, versionPart: true},
		{args: []string{"--log-level", "debug", "version"}},                     // a flag besides: by the whole
		{args: []string{"sync", "--no-such-flag"}, syncPart: true, fails: true}, // refused by the part: by the whole
		{args: []string{"sync", "--concurrency", "many"}, syncPart: true, fails: true},
		{args: []string{"--log-format", "xml", "sync"}, syncPart: true, fails: true},
		{args: []string{"sync", "--help"}, help: true}, // help exits the parse: syncOnly only
	}
	for _, c := range cases {
		if got := syncOnly(c.args); got != c.syncPart {
			t.Errorf("%q: syncOnly %v, want %v", c.args, got, c.syncPart)
		}
		if c.help {
			continue
		}
		a := &app{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, env: func(k string) string { return env[k] }}
		kctx, err, buildErr := a.parse(c.args)
		if buildErr != nil {
			t.Fatal(buildErr)
		}
		whole := &app{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, env: func(k string) string { return env[k] }}
		p, perr := whole.parser()
		if perr != nil {
			t.Fatal(perr)
		}
		wctx, werr := p.Parse(c.args)
		if c.fails {
			if err == nil || werr == nil || err.Error() != werr.Error() {
				t.Errorf("%q: error %v, the whole command line's %v", c.args, err, werr)
			}
			continue
		}
		if err != nil || werr != nil {
			t.Fatalf("%q: %v / %v", c.args, err, werr)
		}
		if kctx.Command() != wctx.Command() {
			t.Errorf("%q: command %q, the whole command line's %q", c.args, kctx.Command(), wctx.Command())
		}
		// What a sync reads (the version reads nothing of it); the whole command line also
		// fills other commands' defaults.
		if !c.versionPart && !reflect.DeepEqual(a.cli.syncCLI, whole.cli.syncCLI) {
			t.Errorf("%q: parsed into\n%+v\nthe whole command line into\n%+v", c.args, a.cli.syncCLI, whole.cli.syncCLI)
		}
		if parts := len(kctx.Model.Children); (parts == 1) != ((c.syncPart || c.versionPart) && !c.fails) {
			t.Errorf("%q: parsed by a model of %d commands; one part only: want %v", c.args, parts, c.syncPart || c.versionPart)
		}
	}
}

// The version's part refuses what the whole command line refuses of a bare `version` (a
// global flag's bad value from the environment), with the same error, and its command reads
// as cli's.
func TestVersionPartIsTheWholesVersion(t *testing.T) {
	env := map[string]string{"AIRGAP_CHARTS_LOG_FORMAT": "xml"}
	a := &app{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, env: func(k string) string { return env[k] }}
	_, err, buildErr := a.parse([]string{"version"})
	whole := &app{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, env: func(k string) string { return env[k] }}
	p, perr := whole.parser()
	if buildErr != nil || perr != nil {
		t.Fatal(buildErr, perr)
	}
	_, werr := p.Parse([]string{"version"})
	if err == nil || werr == nil || err.Error() != werr.Error() {
		t.Errorf("bad log format: %v, the whole command line's %v", err, werr)
	}
	part, _ := reflect.TypeFor[versionCLI]().FieldByName("Version")
	full, _ := reflect.TypeFor[cli]().FieldByName("Version")
	if part.Tag != full.Tag {
		t.Errorf("the version part's command %q, cli's %q", part.Tag, full.Tag)
	}
}
