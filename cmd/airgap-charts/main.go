// Command airgap-charts mirrors Helm charts and every container image they reference into a
// private registry (AWS ECR or any OCI registry) for air-gapped Kubernetes clusters.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/alecthomas/kong"
	"go.uber.org/zap"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/engine"
)

func main() {
	tuneGC(os.Getenv)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// Exit codes (exitcodes.go lists them all).
const (
	exitOK     = 0 // every addon succeeded
	exitFailed = 1 // some addon failed, or the run could not complete
	exitUsage  = 2 // bad flags or bad input files; nothing was written
	exitNoRun  = 3 // could not run: a registry the run needs was unreachable
)

// run parses args, runs the chosen command and returns the process exit code. Tests call
// it directly; it never exits the process.
func run(args []string, stdout, stderr io.Writer, env func(string) string) int {
	return (&app{stdout: stdout, stderr: stderr, env: env, runEngine: engine.Run}).main(args)
}

// cli is the command line: global flags and the commands.
type cli struct {
	syncCLI

	Plan    planCmd    `cmd:"" help:"Show what a sync would change, asking the registries read-only: exit 0 nothing to do, 4 changes pending, 5 drift found, 1 an addon would fail."`
	Export  exportCmd  `cmd:"" help:"Write the charts and images of a run into a portable bundle directory (connected side); nothing is pushed."`
	Import  importCmd  `cmd:"" help:"Import a bundle into the target registry: copy its images, rewrite and publish its charts (disconnected side)."`
	Bundle  bundleCmd  `cmd:"" help:"Inspect a bundle: verify its parts, list its contents."`
	Catalog catalogCmd `cmd:"" help:"Write a normalized catalog from a values file (the Python tool's values_parser.py)."`
	Demo    demoCmd    `cmd:"" help:"Run a self-contained demonstration against in-process registries."`
	Version versionCmd `cmd:"" help:"Print the version of airgap-charts and of Go."`
}

// globalFlags are the flags of every command.
type globalFlags struct {
	LogFormat string `help:"Log encoding: console or json (auto: console with colours on a terminal, json otherwise)." enum:"auto,console,json" default:"auto"`
	LogLevel  string `help:"Least severe log level shown: debug, info, warn or error." enum:"debug,info,warn,error" default:"info"`
}

// syncCLI is the part of cli a sync needs: the global flags and the sync command. A
// command line that can only mean a sync is parsed with it alone (parser.go).
type syncCLI struct {
	globalFlags

	Sync syncCmd `cmd:"" default:"withargs" help:"Mirror charts and their images into the target registry (the default command)."`
}

// versionCLI is the part of cli a bare `version` needs (parser.go); its Version is cli's.
type versionCLI struct {
	globalFlags

	Version versionCmd `cmd:"" help:"Print the version of airgap-charts and of Go."`
}

// app is one invocation: its writers, its environment and the engine it drives.
type app struct {
	stdout, stderr io.Writer
	env            func(string) string
	runEngine      func(context.Context, engine.Options, *zap.Logger) (*engine.Report, error)

	cli     cli
	args    []string        // as given, for the report (redacted there)
	ctx     context.Context // cancelled by SIGINT or SIGTERM (signals.go)
	log     *zap.Logger
	secrets redactor
	logOut  *switchWriter // where the logger writes: stderr, or above progress bars
}

// usageError is a bad flag or a bad combination of flags (exit code 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// errAddonsFailed reports that the run completed but some addon failed (exit code 1).
var errAddonsFailed = errors.New("some addons failed")

// errCouldNotRun reports that a registry the run needed was down, or that the destination
// refused the credentials (exit code 3).
var errCouldNotRun = errors.New("a registry the run needs is unreachable, or the destination refused the credentials")

// kongExit carries kong's exit request (after --help) out of the parser.
type kongExit int

func (a *app) main(args []string) (code int) {
	a.args = args
	a.secrets.addFromArgs(args, a.env)
	a.stdout, a.stderr = a.secrets.writer(a.stdout), a.secrets.writer(a.stderr)
	ctx, stop := withSignals(context.Background())
	defer stop()
	a.ctx = ctx
	defer func() {
		if r := recover(); r != nil {
			c, ok := r.(kongExit)
			if !ok {
				panic(r)
			}
			code = int(c)
		}
	}()
	kctx, err, buildErr := a.parse(args)
	if buildErr != nil {
		fmt.Fprintf(a.stderr, "airgap-charts: internal error: %v\n", buildErr)
		return exitFailed
	}
	if err != nil {
		fmt.Fprintf(a.stderr, "airgap-charts: error: %v (see airgap-charts --help)\n", err)
		return exitUsage
	}
	err = kctx.Run(a)
	if a.log != nil {
		_ = a.log.Sync()
	}
	if sig := interruption(ctx); sig != nil {
		fmt.Fprintf(a.stderr, "airgap-charts: %v: stopped before the end\n", sig)
		return sig.exitCode()
	}
	return a.exit(err)
}

// parser is the command line's parser, its flags resolved from a.env too.
func (a *app) parser() (*kong.Kong, error) { return a.parserOf(&a.cli) }

// parserOf is the parser of grammar (cli, or a part of it).
func (a *app) parserOf(grammar any) (*kong.Kong, error) {
	return kong.New(grammar,
		kong.Name("airgap-charts"),
		kong.Description("Mirror Helm charts and every container image they reference into a private registry "+
			"(AWS ECR or any OCI registry) for air-gapped Kubernetes clusters. One binary: no helm, crane, yq or aws needed."),
		kong.Writers(a.stdout, a.stderr),
		kong.Exit(func(c int) { panic(kongExit(c)) }),
		defaultVars(),
		withCommandWording(),
		kong.Help(helpWithDefaultCommand),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
		kong.DefaultEnvars(envPrefix),
		kong.Resolvers(envResolver(a.env)),
	)
}

// exit reports err on stderr and maps it to an exit code.
func (a *app) exit(err error) int {
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errCouldNotRun):
		return exitNoRun
	case errors.Is(err, errAddonsFailed):
		return exitFailed
	case errors.Is(err, errPending):
		return exitPending
	case errors.Is(err, errDrift):
		return exitDrift
	case errors.As(err, &ue):
		fmt.Fprintf(a.stderr, "airgap-charts: error: %v (see airgap-charts --help)\n", err)
		return exitUsage
	case config.IsInputError(err):
		fmt.Fprintf(a.stderr, "airgap-charts: error: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(a.stderr, "airgap-charts: error: %v\n", err)
	return exitFailed
}

// logger builds the run's logger once, from the global flags.
func (a *app) logger() (*zap.Logger, error) {
	if a.log != nil {
		return a.log, nil
	}
	a.logOut = &switchWriter{w: a.stderr}
	log, err := newLogger(a.cli.LogFormat, a.cli.LogLevel, a.logOut)
	if err != nil {
		return nil, err
	}
	a.log = log
	return log, nil
}

// helpWithDefaultCommand prints kong's help and, for the top level, the flags of the
// default command too, so that `airgap-charts --help` lists every sync flag.
func helpWithDefaultCommand(options kong.HelpOptions, ctx *kong.Context) error {
	if err := kong.DefaultHelpPrinter(options, ctx); err != nil {
		return err
	}
	if ctx.Selected() != nil {
		if ctx.Selected().Name == "sync" {
			fmt.Fprintln(ctx.Stdout)
			writeExitCodes(ctx.Stdout)
		}
		return nil
	}
	syncCtx, err := kong.Trace(ctx.Kong, []string{"sync"})
	if err != nil {
		return err
	}
	fmt.Fprintln(ctx.Stdout)
	fmt.Fprintln(ctx.Stdout, "Without a command, airgap-charts runs sync:")
	fmt.Fprintln(ctx.Stdout)
	if err := kong.DefaultHelpPrinter(options, syncCtx); err != nil {
		return err
	}
	fmt.Fprintln(ctx.Stdout)
	writeExitCodes(ctx.Stdout)
	return nil
}
