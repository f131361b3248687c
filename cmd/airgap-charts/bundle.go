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
	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/registry/bundle"
)

// exportCmd runs the chart stages on the connected side and writes a bundle.
type exportCmd struct {
	To       string `group:"Bundle" required:"" placeholder:"DIR" help:"Bundle directory to write (an unfinished export into it is resumed)."`
	PartSize string `group:"Bundle" placeholder:"SIZE" help:"Largest part file (e.g. 4GiB, 700MB, 1048576); default: one part. A blob larger than SIZE gets a part of its own."`
	Receipt  string `group:"Bundle" placeholder:"FILE" help:"Receipt an import wrote (--receipt-out): blobs and manifests the destination holds are left out of the bundle."`

	Values              string   `group:"Input" placeholder:"FILE" help:"Values file listing addons (values mode)."`
	Catalog             []string `group:"Input" placeholder:"FILE" help:"Catalog file(s), repeatable or comma-separated (catalog mode)."`
	OnlyAddon           string   `group:"Input" placeholder:"NAMES" help:"Export only these addons (as sync's --only-addon)."`
	ExcludeAddons       string   `group:"Input" placeholder:"NAMES" help:"Skip these addons (as sync's --exclude-addons)."`
	Overrides           string   `group:"Input" placeholder:"FILE" help:"chart-overrides.yaml (default: ./chart-overrides.yaml when present); it travels in the bundle."`
	Latest              bool     `group:"Input" help:"Use the newest chart version even where an addon names one."`
	IncludeDependencies bool     `group:"Run" help:"Render subcharts when extracting images (default)."`
	ExcludeDependencies bool     `group:"Run" help:"Render without subcharts."`
	Platform            string   `group:"Run" default:"auto" placeholder:"auto|OS/ARCH[/VARIANT][,...]" help:"auto keeps multi-arch indexes intact; one OS/ARCH or a comma-separated list stores the source index with those children only: the import copies what a sync with the same --platform copies."`
	PlatformMissing     string   `group:"Run" enum:"fail,skip" default:"fail" help:"An image lacking a platform --platform asks for: fail its addon or skip that platform (as sync; recorded for the import) (default: ${default})."`
	Referrers           string   `group:"Signatures" enum:"all,signatures,none" default:"all" help:"What travels with each image: all its referrers (signatures, SBOMs, attestations), signatures only, or none; the import copies them as a sync with the same flag (default: ${default})."`
	ReferrersType       []string `group:"Signatures" name:"referrers-type" sep:"none" placeholder:"TYPE" help:"Carry only referrers of this artifactType, repeatable (as sync)."`
	KubeVersion         string   `group:"Run" default:"${kube_version}" placeholder:"VERSION" help:"Kubernetes version charts are rendered for (default: ${default})."`
	AllowPublicImages   bool     `group:"Run" help:"Recorded in the bundle: the import publishes charts whose mirrored render still pulls public images."`

	PublicECRPassword string `group:"Credentials" name:"public-ecr-password" placeholder:"TOKEN" help:"Token for public.ecr.aws. Env fallback: ECR_PUBLIC_PASSWORD."`
	DockerhubUsername string `group:"Credentials" name:"dockerhub-username" placeholder:"USER" help:"Docker Hub user. Env fallback: DOCKERHUB_USERNAME."`
	DockerhubToken    string `group:"Credentials" name:"dockerhub-token" placeholder:"TOKEN" help:"Docker Hub access token. Env fallback: DOCKERHUB_TOKEN."`

	Concurrency      int           `group:"Registries" default:"${concurrency}" placeholder:"N" help:"Image manifest reads at once (default: ${default})."`
	ChartConcurrency int           `group:"Registries" default:"${cpus}" placeholder:"N" help:"Addons processed at once (default: ${default})."`
	RateLimit        []string      `group:"Registries" sep:"none" placeholder:"HOST=N/PERIOD" help:"Budget of manifest pulls for a registry host, repeatable (as sync)."`
	OnBudget         string        `group:"Registries" enum:"fail,wait" default:"fail" help:"When a pull budget is spent: fail or wait (default: ${default})."`
	RegistryMirror   []string      `group:"Registries" sep:"none" placeholder:"HOST=MIRROR[/path]" help:"Pull images of HOST from MIRROR (as sync). Repeatable."`
	RepoMirror       []string      `group:"Registries" sep:"none" placeholder:"URL=URL" help:"Fetch charts of a repository from a mirror (as sync). Repeatable."`
	InsecureRegistry []string      `group:"Registries" placeholder:"HOST[:PORT]" help:"Reach this host without TLS verification, or over plain HTTP (as sync). Repeatable."`
	CertsDir         string        `group:"Registries" name:"certs-dir" placeholder:"DIR" help:"Per-host TLS material, docker's certs.d layout (as sync)."`
	CAFile           string        `group:"Registries" name:"ca-file" placeholder:"FILE" help:"PEM bundle of extra certificate authorities (as sync)."`
	RequestTimeout   time.Duration `group:"Registries" default:"60s" placeholder:"DURATION" help:"Longest wait for response headers (default: ${default})."`
	StallTimeout     time.Duration `group:"Registries" default:"60s" placeholder:"DURATION" help:"Longest time a transfer may go without a byte (default: ${default})."`
	Retries          int           `group:"Registries" default:"5" placeholder:"N" help:"Retries of a failed registry request (default: ${default})."`
}

func (c *exportCmd) Run(a *app) error {
	partSize, err := parseSize(c.PartSize)
	if err != nil {
		return err
	}
	sc := syncCmd{Values: c.Values, Catalog: c.Catalog, OnlyAddon: c.OnlyAddon, ExcludeAddons: c.ExcludeAddons,
		Overrides: c.Overrides, Latest: c.Latest, IncludeDependencies: c.IncludeDependencies, ExcludeDependencies: c.ExcludeDependencies,
		Platform: c.Platform, PlatformMissing: c.PlatformMissing, KubeVersion: c.KubeVersion, AllowPublicImages: c.AllowPublicImages, OutputDir: c.To,
		PublicECRPassword: c.PublicECRPassword, DockerhubUsername: c.DockerhubUsername, DockerhubToken: c.DockerhubToken,
		Concurrency: c.Concurrency, ChartConcurrency: c.ChartConcurrency, RateLimit: c.RateLimit, OnBudget: c.OnBudget,
		RegistryMirror: c.RegistryMirror, RepoMirror: c.RepoMirror, InsecureRegistry: c.InsecureRegistry,
		CertsDir: c.CertsDir, CAFile: c.CAFile, RequestTimeout: c.RequestTimeout, StallTimeout: c.StallTimeout, Retries: c.Retries,
		TargetKind: "auto", Referrers: c.Referrers, ReferrersType: c.ReferrersType, SkipExisting: true, ECRPutImageRate: registry.ECRPutImageQuota, ECRLayerUploadRate: registry.ECRLayerUploadQuota}
	opts, err := sc.loadInputs(a)
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

// loadInputs checks the flags and reads the addons and overrides, as sync does.
func (c *syncCmd) loadInputs(a *app) (engine.Options, error) {
	opts, mode, err := c.options(a.env)
	if err != nil {
		return opts, err
	}
	if mode == config.ModeValues {
		opts.Addons, err = config.LoadValues(c.Values)
	} else {
		opts.Addons, err = config.LoadCatalogs(splitList(c.Catalog))
	}
	if err != nil {
		return opts, err
	}
	kept, _ := config.Filter(opts.Addons, mode, c.OnlyAddon, c.ExcludeAddons)
	if len(kept) == 0 {
		return opts, usagef("no addon left to process after --only-addon %q / --exclude-addons %q", c.OnlyAddon, c.ExcludeAddons)
	}
	if err := resolvePasswordEnv(kept, a.env); err != nil {
		return opts, err
	}
	for _, ad := range kept {
		a.secrets.add(ad.Password)
	}
	for _, cr := range opts.RepoMirrorCredentials {
		a.secrets.add(cr.Password)
	}
	opts.Addons = kept
	co, err := loadOverrides(c.Overrides)
	if err != nil {
		return opts, err
	}
	opts.Overrides, opts.PublicImages = co.Values, co.PublicImages
	return opts, nil
}

// importCmd imports a bundle into the destination: a sync whose sources are the bundle.
type importCmd struct {
	From       string `group:"Bundle" required:"" placeholder:"DIR" help:"Bundle directory to import (parts may be missing: their images wait)."`
	ReceiptOut string `group:"Bundle" name:"receipt-out" placeholder:"FILE" help:"Write (or update) the receipt: what the destination now holds of the bundles imported, for export --receipt."`
	Lock       string `group:"Bundle" placeholder:"FILE" help:"Lock file the import writes (default: airgap-charts.lock.yaml in --output-dir)."`

	ScanOnly          bool   `group:"Run" help:"Do everything except pushing images and charts."`
	OutputDir         string `group:"Run" default:"./helm-charts" placeholder:"DIR" help:"Where repacked charts and consumer overrides are written (default: ${default})."`
	Report            string `group:"Run" placeholder:"FILE" help:"Write the JSON run report to FILE."`
	AllowPublicImages bool   `group:"Run" help:"Publish a chart even when its mirrored render still pulls public images."`

	VerifySignatures []string `group:"Signatures" name:"verify-signatures" sep:"none" placeholder:"KEY" help:"Cosign public key file, repeatable: each image's signature that travelled in the bundle must verify against one of them (as sync); the bundle must have been exported with --referrers all or signatures."`

	TargetRegistry       string `group:"Destination" placeholder:"HOST" help:"Destination registry (default: the AWS account's private ECR registry)."`
	TargetPrefix         string `group:"Destination" placeholder:"PATH" help:"Path under the registry for image repositories."`
	ChartPrefix          string `group:"Destination" placeholder:"PATH" help:"Path under the registry for charts, before their oci_namespace (as sync)."`
	TargetKind           string `group:"Destination" enum:"auto,ecr,oci" default:"auto" help:"Destination kind: auto, ecr or oci."`
	SkipExisting         bool   `group:"Existing images" default:"true" negatable:"" help:"Skip an image whose destination tag already exists (default: true)."`
	VerifyExistingDigest bool   `group:"Existing images" help:"Skip only when the destination digest matches the bundle's."`
	OverwriteExisting    bool   `group:"Existing images" help:"When the destination digest differs, replace the destination tag."`
	PrivateECRPassword   string `group:"Credentials" name:"private-ecr-password" placeholder:"TOKEN" help:"Token for the private ECR registry. Env fallback: ECR_PRIVATE_PASSWORD."`

	Concurrency      int           `group:"Registries" default:"${concurrency}" placeholder:"N" help:"Image copy workers (default: ${default})."`
	ChartConcurrency int           `group:"Registries" default:"${cpus}" placeholder:"N" help:"Addons processed at once (default: ${default})."`
	PushRateLimit    []string      `group:"Registries" sep:"none" placeholder:"HOST=N/PERIOD" help:"Quota of manifest PUTs for the destination (as sync)."`
	UploadRateLimit  []string      `group:"Registries" sep:"none" placeholder:"HOST=N/PERIOD" help:"Quota of blob upload starts and completions (as sync)."`
	InsecureRegistry []string      `group:"Registries" placeholder:"HOST[:PORT]" help:"Reach the destination without TLS verification, or over plain HTTP."`
	MaxPerHost       []string      `group:"Registries" name:"max-per-host" sep:"none" placeholder:"[HOST=]N" help:"Cap on requests in flight to the destination host (as sync)."`
	CertsDir         string        `group:"Registries" name:"certs-dir" placeholder:"DIR" help:"Per-host TLS material, docker's certs.d layout."`
	CAFile           string        `group:"Registries" name:"ca-file" placeholder:"FILE" help:"PEM bundle of extra certificate authorities."`
	RequestTimeout   time.Duration `group:"Registries" default:"60s" placeholder:"DURATION" help:"Longest wait for response headers (default: ${default})."`
	StallTimeout     time.Duration `group:"Registries" default:"60s" placeholder:"DURATION" help:"Longest time a transfer may go without a byte (default: ${default})."`
	Retries          int           `group:"Registries" default:"5" placeholder:"N" help:"Retries of a failed registry request (default: ${default})."`

	ECRCreateRepositories bool    `group:"ECR repositories" name:"ecr-create-repositories" default:"true" negatable:"" help:"Create missing ECR repositories (default: true)."`
	ECRImmutableTags      bool    `group:"ECR repositories" name:"ecr-immutable-tags" help:"Create repositories with IMMUTABLE tags."`
	ECRScanOnPush         bool    `group:"ECR repositories" name:"ecr-scan-on-push" help:"Create repositories with scan on push."`
	ECRKMSKey             string  `group:"ECR repositories" name:"ecr-kms-key" placeholder:"ARN" help:"Encrypt created repositories with this KMS key."`
	ECRLifecyclePolicy    string  `group:"ECR repositories" name:"ecr-lifecycle-policy" placeholder:"FILE" help:"JSON lifecycle policy applied to created repositories."`
	ECRPutImageRate       float64 `group:"ECR repositories" name:"ecr-put-image-rate" default:"${ecr_put_image_rate}" placeholder:"PER-SECOND" help:"PutImage calls per second (default: ${default})."`
	ECRLayerUploadRate    float64 `group:"ECR repositories" name:"ecr-layer-upload-rate" default:"${ecr_layer_upload_rate}" placeholder:"PER-SECOND" help:"Layer upload initiations per second (default: ${default})."`
}

func (c *importCmd) Run(a *app) error {
	sc := syncCmd{Values: bundle.ManifestFile, ScanOnly: c.ScanOnly, OutputDir: c.OutputDir, Report: c.Report,
		AllowPublicImages: c.AllowPublicImages, TargetRegistry: c.TargetRegistry, TargetPrefix: c.TargetPrefix,
		TargetKind: c.TargetKind, ChartPrefix: c.ChartPrefix, MaxPerHost: c.MaxPerHost, SkipExisting: c.SkipExisting,
		VerifyExistingDigest: c.VerifyExistingDigest, OverwriteExisting: c.OverwriteExisting, PrivateECRPassword: c.PrivateECRPassword, Concurrency: c.Concurrency,
		ChartConcurrency: c.ChartConcurrency, PushRateLimit: c.PushRateLimit, UploadRateLimit: c.UploadRateLimit,
		InsecureRegistry: c.InsecureRegistry, CertsDir: c.CertsDir, CAFile: c.CAFile, RequestTimeout: c.RequestTimeout,
		StallTimeout: c.StallTimeout, Retries: c.Retries, ECRCreateRepositories: c.ECRCreateRepositories,
		ECRImmutableTags: c.ECRImmutableTags, ECRScanOnPush: c.ECRScanOnPush, ECRKMSKey: c.ECRKMSKey,
		ECRLifecyclePolicy: c.ECRLifecyclePolicy, ECRPutImageRate: c.ECRPutImageRate, ECRLayerUploadRate: c.ECRLayerUploadRate,
		Platform: "auto", KubeVersion: engine.DefaultKubeVersion, Referrers: "none", VerifySignatures: c.VerifySignatures, OnBudget: "fail"}
	// The bundle is the import's input, but it may sit on read-only media: the lock goes
	// with the import's other outputs.
	sc.Lock = cmp.Or(c.Lock, filepath.Join(c.OutputDir, engine.LockFileName))
	opts, _, err := sc.options(a.env)
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
	o, err := bundle.Open(c.Dir)
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
