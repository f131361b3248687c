package main

import (
	"reflect"
	"strings"

	"github.com/alecthomas/kong"
)

// parse parses args into a.cli. Kong builds a parser's model from every flag of every
// command it holds, which for the whole command line costs more than the rest of a no-op
// sync's start. A command line that can only mean a sync (syncOnly) is parsed with the
// sync's part alone, a bare `version` with the version's; should the part refuse it, the
// whole command line parses it again, so that every error reads as it would have.
// A parser that cannot be built is the build error (a bug in the grammar), apart from the
// arguments' error.
func (a *app) parse(args []string) (kctx *kong.Context, argsErr, buildErr error) {
	var part any
	switch {
	case syncOnly(args):
		part = &a.cli.syncCLI
	case len(args) == 1 && args[0] == "version":
		part = &versionCLI{} // it reads nothing of a.cli
	}
	if part != nil {
		if p, err := a.parserOf(part); err == nil {
			if kctx, err := p.Parse(args); err == nil {
				return kctx, nil, nil
			}
		}
		a.cli = cli{}
	}
	p, err := a.parser()
	if err != nil {
		return nil, nil, err
	}
	kctx, err = p.Parse(args)
	return kctx, err, nil
}

// syncOnly says whether args can only mean a sync: none of them names another command (as
// a command or as any flag's value: the test is by word) or asks for help.
func syncOnly(args []string) bool {
	others := otherCommands()
	for _, arg := range args {
		if arg == "-h" || arg == "--help" || strings.HasPrefix(arg, "--help=") || others[arg] {
			return false
		}
	}
	return true
}

// otherCommands are the names and aliases of cli's commands besides the sync, as kong
// spells them (a field's name in lower case, unless its tags say otherwise).
func otherCommands() map[string]bool {
	names := map[string]bool{}
	t := reflect.TypeFor[cli]()
	for i := range t.NumField() {
		f := t.Field(i)
		if _, ok := f.Tag.Lookup("cmd"); !ok || f.Anonymous {
			continue
		}
		name := f.Tag.Get("name")
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		names[name] = true
		for _, alias := range strings.Split(f.Tag.Get("aliases"), ",") {
			if alias != "" {
				names[alias] = true
			}
		}
	}
	return names
}
