package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/engine"
	"github.com/airgap-charts/airgap-charts/registry/bundle"
)

// exportCmd runs the chart stages on the connected side and writes a bundle.
type exportCmd struct {
	To       string `group:"Bundle" required:"" placeholder:"DIR" help:"Bundle directory to write (an unfinished export into it is resumed)."`
	PartSize string `group:"Bundle" placeholder:"SIZE" help:"Largest part file (e.g. 4GiB, 700MB, 1048576); default: one part. A blob larger than SIZE gets a part of its own."`
	Receipt  string `group:"Bundle" placeholder:"FILE" help:"Receipt an import wrote (--receipt-out): blobs and manifests the destination holds are left out of the bundle."`

	inputFlags    `embed:""`
	renderFlags   `embed:""`
	platformFlags `embed:""`
	publicFlags   `embed:""`
	referrerFlags `embed:""`

	sourceCredFlags `embed:""`

	registryFlags `embed:""`
	pullFlags     `embed:""`
}

// options checks export's flags and turns them into engine options.
func (c *exportCmd) options(env func(string) string) (engine.Options, config.Mode, error) {
	var o engine.Options
	mode, err := c.inputFlags.options(&o)
	if err != nil {
		return o, "", err
	}
	for _, group := range []func(*engine.Options) error{c.renderFlags.options, c.platformFlags.options,
		c.referrerFlags.options, c.registryFlags.options, c.pullFlags.options} {
		if err := group(&o); err != nil {
			return o, "", err
		}
	}
	c.publicFlags.options(&o)
	c.sourceCredFlags.options(&o, env)
	o.OutputDir = c.To
	// Nothing is pushed: the bundle's destination is empty.
	o.SkipExisting = true
	return o, mode, nil
}

func (c *exportCmd) Run(a *app) error {
	partSize, err := parseSize(c.PartSize)
	if err != nil {
		return err
	}
	opts, mode, err := c.options(a.env)
	if err != nil {
		return err
	}
	log, err := a.logger()
	if err != nil {
		return err
	}
	ctx := a.ctx // SIGINT / SIGTERM cancel it: exit 130 / 143, as sync
	if ctx == nil {
		ctx = context.Background()
	}
	if err := c.inputFlags.load(a, &opts, mode, log); err != nil {
		return err
	}
	log.Info("export starting", zap.String("to", c.To), zap.Int("addons", len(opts.Addons)), zap.Int64("part_size", partSize))
	res, err := engine.Export(ctx, opts, engine.ExportOptions{Dir: c.To, PartSize: partSize, Receipt: c.Receipt}, log)
	if err != nil {
		return bundleErr("export", err)
	}
	m := res.Manifest
	fmt.Fprintf(a.stdout, "\nexported %d addons, %d charts, %d images into %s: %d parts, %d blobs written now (%s), %d kept from an earlier run, %d left out (the receipt's destination holds them), %s\n",
		len(m.Addons), len(m.Charts), len(m.Images), c.To, len(m.Parts), res.BlobsWritten, humanBytes(res.BytesWritten),
		res.BlobsKept, res.BlobsSkipped, res.Duration.Round(time.Millisecond))
	for _, ad := range res.Addons {
		if ad.Status != engine.StatusSuccess {
			fmt.Fprintf(a.stdout, "  %s: not exported: %s\n", ad.Addon, ad.Error)
		}
	}
	if res.Failed() {
		return errAddonsFailed
	}
	return nil
}

// importCmd imports a bundle into the destination: a sync whose sources are the bundle.
type importCmd struct {
	From       string `group:"Bundle" required:"" placeholder:"DIR" help:"Bundle directory to import (parts may be missing: their images wait)."`
	ReceiptOut string `group:"Bundle" name:"receipt-out" placeholder:"FILE" help:"Write (or update) the receipt: what the destination now holds of the bundles imported, for export --receipt."`
	Lock       string `group:"Bundle" placeholder:"FILE" help:"Lock file the import writes (default: airgap-charts.lock.yaml in --output-dir)."`

	runFlags    `embed:""`
	publicFlags `embed:""`
	verifyFlags `embed:""`

	destFlags     `embed:""`
	existingFlags `embed:""`
	destCredFlags `embed:""`

	registryFlags `embed:""`
	pushFlags     `embed:""`
	ecrFlags      `embed:""`
}

// options checks import's flags and turns them into engine options; the bundle gives
// the rest (engine.Import).
func (c *importCmd) options(env func(string) string) (engine.Options, error) {
	var o engine.Options
	for _, group := range []func(*engine.Options) error{
		c.runFlags.options, c.verifyFlags.options, c.destFlags.options, c.registryFlags.options, c.pushFlags.options, c.ecrFlags.options,
	} {
		if err := group(&o); err != nil {
			return o, err
		}
	}
	c.publicFlags.options(&o)
	c.existingFlags.options(&o)
	c.destCredFlags.options(&o, env)
	// The bundle is the import's input, but it may sit on read-only media: the lock goes
	// with the import's other outputs.
	o.LockFile = cmp.Or(c.Lock, filepath.Join(c.OutputDir, engine.LockFileName))
	return o, nil
}

func (c *importCmd) Run(a *app) error {
	opts, err := c.options(a.env)
	if err != nil {
		return err
	}
	log, err := a.logger()
	if err != nil {
		return err
	}
	ctx := a.ctx // SIGINT / SIGTERM cancel it: exit 130 / 143, as sync
	if ctx == nil {
		ctx = context.Background()
	}
	log.Info("import starting", zap.String("from", c.From))
	res, err := engine.Import(ctx, opts, engine.ImportOptions{From: c.From, ReceiptOut: c.ReceiptOut}, log)
	if res == nil || res.Report == nil {
		return bundleErr("import", err)
	}
	fmt.Fprintln(a.stdout)
	res.Report.WriteSummary(a.stdout, isTerminal(a.stdout))
	for _, p := range res.Parts {
		if !p.OK() {
			fmt.Fprintf(a.stdout, "part %s: %s\n", p.Part.File, p.Problem)
		}
	}
	for _, w := range res.Waiting {
		fmt.Fprintf(a.stdout, "waiting: %s needs %s\n", w.Image, bundle.PartNames(w.Parts))
	}
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	if res.Report.Failed() {
		if res.Report.CouldNotRun() {
			return errCouldNotRun
		}
		return errAddonsFailed
	}
	return nil
}

// bundleCmd inspects bundles.
type bundleCmd struct {
	Verify bundleVerifyCmd `cmd:"" help:"Check every part of a bundle: says which are missing or corrupt."`
	Ls     bundleLsCmd     `cmd:"" help:"List a bundle's charts, images, sizes and parts."`
}

type bundleVerifyCmd struct {
	Dir string `arg:"" placeholder:"DIR" help:"Bundle directory."`
}

func (c *bundleVerifyCmd) Run(a *app) error {
	o, err := bundle.OpenWhole(c.Dir)
	if err != nil {
		return bundleErr("bundle verify", err)
	}
	bad := 0
	for _, p := range o.Parts {
		if p.OK() {
			fmt.Fprintf(a.stdout, "ok       %s  %d blobs  %s  %s\n", p.Part.File, p.Part.Blobs, humanBytes(p.Part.Size), p.Part.SHA256)
			continue
		}
		bad++
		fmt.Fprintf(a.stdout, "PROBLEM  %s: %s\n", p.Part.File, p.Problem)
	}
	waiting := 0
	for _, img := range o.Manifest.Images {
		if ps := o.Waiting(img); len(ps) > 0 {
			waiting++
			fmt.Fprintf(a.stdout, "waiting  %s needs %s\n", img.Ref, bundle.PartNames(ps))
		}
	}
	fmt.Fprintf(a.stdout, "%d of %d parts good; %d of %d images importable\n", len(o.Parts)-bad, len(o.Parts), len(o.Manifest.Images)-waiting, len(o.Manifest.Images))
	if bad > 0 {
		return fmt.Errorf("bundle %s: %d parts missing or corrupt: %w", c.Dir, bad, errAddonsFailed)
	}
	return nil
}

type bundleLsCmd struct {
	Dir string `arg:"" placeholder:"DIR" help:"Bundle directory."`
}

func (c *bundleLsCmd) Run(a *app) error {
	m, err := bundle.ReadManifest(c.Dir)
	if err != nil {
		return bundleErr("bundle ls", err)
	}
	blobs := m.BlobTable()
	fmt.Fprintf(a.stdout, "bundle %s (schema %d), exported %s, platform %s, referrers %s\n", m.ID, m.Schema, m.Created.Format(time.RFC3339), m.Platform, cmp.Or(m.Referrers, "none"))
	if m.Receipt != nil {
		fmt.Fprintf(a.stdout, "delta against receipt %s for %s\n", m.Receipt.File, m.Receipt.Destination)
	}
	fmt.Fprintln(a.stdout, "\nCHARTS")
	for _, ch := range m.Charts {
		fmt.Fprintf(a.stdout, "  %s %s  %s  %s\n", ch.Name, ch.Version, humanBytes(ch.Size), ch.Repository)
	}
	fmt.Fprintln(a.stdout, "\nIMAGES")
	for _, img := range m.Images {
		parts := map[int]bool{}
		for _, d := range img.Blobs {
			parts[blobs[d].Part] = true
		}
		var ps []string
		for n := range parts {
			if n == 0 {
				ps = append(ps, "destination")
			} else {
				ps = append(ps, strconv.Itoa(n))
			}
		}
		refs := ""
		if n := len(img.Referrers); n > 0 {
			refs = fmt.Sprintf("  %d referrers", n)
		}
		fmt.Fprintf(a.stdout, "  %s  %s  %s  parts %s%s\n", img.Ref, img.Digest, humanBytes(img.Size), strings.Join(sortedStrings(ps), ","), refs)
	}
	fmt.Fprintln(a.stdout, "\nPARTS")
	for _, p := range m.Parts {
		note := ""
		if p.Oversized {
			note = "  (one blob larger than the part size)"
		}
		fmt.Fprintf(a.stdout, "  %s  %d blobs  %s  %s%s\n", p.File, p.Blobs, humanBytes(p.Size), p.SHA256, note)
	}
	return nil
}

// bundleErr makes a bundle input error an input error (exit code 2).
func bundleErr(cmd string, err error) error {
	var be *bundle.Error
	if errors.As(err, &be) {
		return &config.InputError{Pos: config.Position{File: be.File}, Msg: be.Msg, Err: err}
	}
	return fmt.Errorf("%s: %w", cmd, err)
}

// parseSize reads 1048576, 700MB, 700MiB, 4G, 4GiB.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"TB", 1000 * 1000 * 1000 * 1000},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}, {"B", 1}}
	mult := int64(1)
	num := s
	for _, u := range units {
		if strings.HasSuffix(strings.ToUpper(s), strings.ToUpper(u.suffix)) && len(s) > len(u.suffix) {
			num, mult = strings.TrimSpace(s[:len(s)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n <= 0 {
		return 0, usagef("--part-size %q: want a size such as 4GiB, 700MB or 1048576", s)
	}
	v := int64(n * float64(mult))
	if v < 64<<10 {
		return 0, usagef("--part-size %q: at least 64KiB", s)
	}
	return v, nil
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func sortedStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}
