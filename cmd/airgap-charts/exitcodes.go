package main

import (
	"fmt"
	"io"
)

// Exit codes the run can end with besides exitOK, exitFailed, exitUsage and exitNoRun.
const (
	exitInterrupted = 130 // SIGINT (Ctrl-C): 128 + 2, as a shell reports a process it ended
	exitTerminated  = 143 // SIGTERM: 128 + 15
)

// exitCodeTable is every exit code and what it means, as --help and the README list them.
var exitCodeTable = []struct {
	code    int
	meaning string
}{
	{0, "every addon succeeded (plan, --scan-only: nothing to do)"},
	{1, "some addon failed or was left INCOMPLETE or DRIFT (plan: an addon failed, e.g. an image missing at the source)"},
	{2, "usage or input error: a bad flag, a missing file, malformed YAML, an addon that cannot work; nothing was written"},
	{3, "could not run: a registry the run needs is down, or there are no credentials for the destination"},
	{4, "plan, --scan-only: changes pending (something to copy or publish)"},
	{5, "plan, --scan-only: drift found (a destination tag holds another digest than the source, or a source tag moved since the lock)"},
	{exitInterrupted, "interrupted by SIGINT (Ctrl-C): addons still running were stopped, the report says which"},
	{exitTerminated, "terminated by SIGTERM: the same"},
}

// writeExitCodes prints the exit code table for --help.
func writeExitCodes(w io.Writer) {
	fmt.Fprintln(w, "Exit codes:")
	for _, e := range exitCodeTable {
		fmt.Fprintf(w, "  %-4d %s\n", e.code, e.meaning)
	}
}
