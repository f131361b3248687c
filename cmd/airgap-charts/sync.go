package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"go.uber.org/zap"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/engine"
)

// syncCmd mirrors charts and images: the reference tool's main.py, every flag kept.
type syncCmd struct {
	inputFlags `embed:""`

	runFlags      `embed:""`
	PushImages    bool `group:"Run" help:"Push images and charts (the default when neither --scan-only nor --push-images is given)."`
	renderFlags   `embed:""`
	platformFlags `embed:""`
	Prune         bool `group:"Run" help:"Remove from the output directory the charts and overrides earlier runs wrote for addons no longer in the inputs, and an addon's superseded files once it succeeds (only files a run recorded in airgap-charts-outputs.json)."`
	publicFlags   `embed:""`
	lockFlags     `embed:""`

	signatureFlags `embed:""`
	destFlags      `embed:""`
	existingFlags  `embed:""`

	sourceCredFlags `embed:""`
	destCredFlags   `embed:""`

	registryFlags `embed:""`
	pullFlags     `embed:""`
	pushFlags     `embed:""`
	ecrFlags      `embed:""`
}

// Run validates the flags, loads the addons and runs the engine.
func (c *syncCmd) Run(a *app) error {
	opts, mode, err := c.options(a.env)
	if err != nil {
		return err
	}
	log, err := a.logger()
	if err != nil {
		return err
	}
	if err := c.inputFlags.load(a, &opts, mode, log); err != nil {
		return err
	}

	ctx := a.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	opts.CommandLine = a.secrets.commandLine(a.args)
	log.Info("sync starting", zap.String("mode", string(mode)), zap.Int("addons", len(opts.Addons)),
		zap.Bool("scan_only", opts.ScanOnly), zap.String("platform", opts.Platform.String()))
	var bars *progressBars
	if a.wantProgress() {
		bars = newProgressBars(a.stderr)
		opts.Progress = bars
		a.logOut.set(a.secrets.writer(bars.Writer()))
	}
	report, err := a.runEngine(ctx, opts, log)
	if bars != nil {
		bars.Wait()
		a.logOut.set(a.stderr)
	}
	if err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	if report != nil {
		fmt.Fprintln(a.stdout)
		report.WriteSummary(a.stdout, isTerminal(a.stdout))
	}
	if report != nil && opts.ScanOnly {
		return planExit(report, log)
	}
	if report != nil && report.Failed() {
		failed, incomplete := 0, 0
		for _, r := range report.Addons {
			switch r.Status {
			case engine.StatusSuccess:
			case engine.StatusIncomplete:
				incomplete++
			default:
				failed++
			}
		}
		log.Error("sync finished with failures", zap.Int("failed", failed), zap.Int("incomplete", incomplete), zap.Int("addons", len(report.Addons)))
		if report.CouldNotRun() {
			for host, n := range report.Unreachable {
				log.Error("could not run: host unreachable", zap.String("host", host), zap.Int("images_not_copied", n))
			}
			for host, n := range report.Unauthorized {
				log.Error("could not run: the destination refused the credentials", zap.String("host", host), zap.Int("images_not_copied", n))
			}
			return errCouldNotRun
		}
		return errAddonsFailed
	}
	return nil
}

// options checks the flags and turns them into engine options (addons and overrides are
// filled by Run). It reads nothing but the lifecycle policy, CA and certs files.
func (c *syncCmd) options(env func(string) string) (engine.Options, config.Mode, error) {
	var o engine.Options
	mode, err := c.inputFlags.options(&o)
	if err != nil {
		return o, "", err
	}
	if c.ScanOnly && c.PushImages {
		return o, "", usagef("--scan-only and --push-images cannot be used together")
	}
	for _, group := range []func(*engine.Options) error{
		c.renderFlags.options, c.platformFlags.options, c.runFlags.options, c.signatureFlags.options,
		c.destFlags.options, c.registryFlags.options, c.pullFlags.options, c.pushFlags.options, c.ecrFlags.options,
	} {
		if err := group(&o); err != nil {
			return o, "", err
		}
	}
	c.publicFlags.options(&o)
	c.existingFlags.options(&o)
	c.sourceCredFlags.options(&o, env)
	c.destCredFlags.options(&o, env)
	o.Prune = c.Prune
	if err := c.lockFlags.options(&o, c.firstInput()); err != nil {
		return o, "", err
	}
	return o, mode, nil
}

// loadOverrides reads the named overrides file, or ./chart-overrides.yaml when present.
func loadOverrides(path string) (config.ChartOverrides, error) {
	if path == "" {
		st, err := os.Stat(config.DefaultOverridesFile)
		if errors.Is(err, fs.ErrNotExist) || (err == nil && st.IsDir()) {
			return config.ChartOverrides{}, nil
		}
		path = config.DefaultOverridesFile
	}
	return config.LoadChartOverrides(path)
}

// resolvePasswordEnv fills the chart repository password of addons naming password_env.
func resolvePasswordEnv(addons []config.Addon, env func(string) string) error {
	for i := range addons {
		a := &addons[i]
		if a.Password != "" || a.PasswordEnv == "" {
			continue
		}
		if a.Password = env(a.PasswordEnv); a.Password == "" {
			return &config.InputError{Pos: a.Source, Msg: fmt.Sprintf("addon %q: password_env %s is not set", a.Name(), a.PasswordEnv)}
		}
	}
	return nil
}

func checkJSONFile(path string) error {
	data, err := config.ReadInput(path, "lifecycle policy")
	if err != nil {
		return err
	}
	if !json.Valid(data) {
		return &config.InputError{Pos: config.Position{File: path}, Msg: "lifecycle policy is not valid JSON"}
	}
	return nil
}

func orEnv(v string, env func(string) string, name string) string {
	if v != "" {
		return v
	}
	return env(name)
}

// wantProgress: bars only on a terminal, with console logs, and never in CI.
func (a *app) wantProgress() bool {
	return isTerminal(a.stderr) && a.cli.LogFormat != "json" && a.env("CI") == ""
}
