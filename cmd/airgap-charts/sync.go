package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"go.uber.org/zap"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/engine"
	"github.com/airgap-charts/airgap-charts/registry/transport"
)

// syncCmd mirrors charts and images: the reference tool's main.py, every flag kept.
type syncCmd struct {
	Values        string   `group:"Input" placeholder:"FILE" help:"Values file listing addons (values mode; filters match chart names)."`
	Catalog       []string `group:"Input" placeholder:"FILE" help:"Catalog file(s), repeatable or comma-separated (catalog mode; filters match release names). Alternative to --values."`
	OnlyAddon     string   `group:"Input" placeholder:"NAMES" help:"Process only these addons: comma-separated, case-insensitive, exact (chart names in values mode, release names in catalog mode)."`
	ExcludeAddons string   `group:"Input" placeholder:"NAMES" help:"Skip these addons (same matching as --only-addon)."`
	Overrides     string   `group:"Input" placeholder:"FILE" help:"Per-chart render values (overrides: {CHART: {...}}) and images allowed to stay public (public_images: {CHART: [REF, ...]}). Default: ./chart-overrides.yaml when present."`
	Latest        bool     `group:"Input" help:"Use the newest chart version even where an addon names one."`

	ScanOnly            bool   `group:"Run" help:"Plan: resolve every source and ask the destination read-only what it holds (the plan command's checks), push nothing; still writes the repacked charts and consumer overrides. Exit 4 when changes are pending, 5 when drift is found."`
	PushImages          bool   `group:"Run" help:"Push images and charts (the default when neither --scan-only nor --push-images is given)."`
	IncludeDependencies bool   `group:"Run" help:"Render subcharts when extracting images (default)."`
	ExcludeDependencies bool   `group:"Run" help:"Render without subcharts."`
	Platform            string `group:"Run" default:"auto" placeholder:"auto|OS/ARCH[/VARIANT][,...]" help:"Image copy platform: auto keeps multi-arch indexes intact; one OS/ARCH[/VARIANT] (e.g. linux/amd64) copies that single-platform manifest and the tag points at it; a comma-separated list (e.g. linux/amd64,linux/arm64) copies a new index holding exactly those children: its digest differs from the source index's (the report's source_index_digest), and signatures made for the source index do not cover it."`
	PlatformMissing     string `group:"Run" enum:"fail,skip" default:"fail" help:"An image lacking a platform --platform asks for: fail its addon, naming the platforms the image has, or skip (leave that platform out, with a warning) (default: ${default})."`
	KubeVersion         string `group:"Run" default:"${kube_version}" placeholder:"VERSION" help:"Kubernetes version charts are rendered for, so that kubeVersion constraints pass (default: ${default})."`
	OutputDir           string `group:"Run" default:"./helm-charts" placeholder:"DIR" help:"Where charts, repacked archives and consumer overrides are written (default: ${default})."`
	Report              string `group:"Run" placeholder:"FILE" help:"Write the JSON run report to FILE."`
	lockFlags
	Prune             bool `group:"Run" help:"Remove from the output directory the charts and overrides earlier runs wrote for addons no longer in the inputs, and an addon's superseded files once it succeeds (only files a run recorded in airgap-charts-outputs.json)."`
	AllowPublicImages bool `group:"Run" help:"Publish a chart even when its mirrored render still pulls images from outside the target registry (a warning per image) instead of ending the addon INCOMPLETE, unpublished."`

	Referrers        string   `group:"Signatures" enum:"all,signatures,none" default:"all" help:"What crosses with each image: all its referrers (signatures, SBOMs, attestations: OCI referrers, the referrers tag schema and cosign tags), signatures only (cosign, sigstore bundles, notation), or none (default: ${default})."`
	ReferrersType    []string `group:"Signatures" name:"referrers-type" sep:"none" placeholder:"TYPE" help:"Copy only referrers of this artifactType, repeatable (e.g. application/spdx+json)."`
	VerifySignatures []string `group:"Signatures" name:"verify-signatures" sep:"none" placeholder:"KEY" help:"Cosign public key file, repeatable: an image whose signatures verify against none is not copied and its addon fails; a Kyverno ClusterPolicy checking the same keys is written beside the consumer overrides."`

	TargetRegistry string `group:"Destination" placeholder:"HOST" help:"Destination registry for images and charts (default: the AWS account's private ECR registry)."`
	TargetPrefix   string `group:"Destination" placeholder:"PATH" help:"Path under the registry for image repositories (charts go under their oci_namespace)."`
	ChartPrefix    string `group:"Destination" placeholder:"PATH" help:"Path under the registry for charts, before their oci_namespace (default: none): runs with different --target-prefix values then keep their charts apart instead of finding each other's chart under the same tag (drift)."`
	TargetKind     string `group:"Destination" enum:"auto,ecr,oci" default:"auto" help:"Destination kind: auto (ECR when the host is *.dkr.ecr.REGION.amazonaws.com[.cn]), ecr or oci."`

	SkipExisting         bool `group:"Existing images" default:"true" negatable:"" help:"Skip an image whose destination tag already exists (default: true)."`
	VerifyExistingDigest bool `group:"Existing images" help:"With --skip-existing, skip only when the destination digest matches the source's for the chosen platform (one HEAD per existing tag); a differing one is drift: a warning, counted in the summary and the report, and the chart needing it is not published (addon DRIFT) unless --overwrite-existing. Without it, a tag moved at the source is never noticed by sync (plan always compares digests)."`
	OverwriteExisting    bool `group:"Existing images" help:"When the destination digest differs (drift), replace the destination tag; a chart tag holding another chart is replaced too."`

	PublicECRPassword  string `group:"Credentials" name:"public-ecr-password" env:"AIRGAP_CHARTS_PUBLIC_ECR_PASSWORD,ECR_PUBLIC_PASSWORD" placeholder:"TOKEN" help:"Token for public.ecr.aws."`
	PrivateECRPassword string `group:"Credentials" name:"private-ecr-password" env:"AIRGAP_CHARTS_PRIVATE_ECR_PASSWORD,ECR_PRIVATE_PASSWORD" placeholder:"TOKEN" help:"Token for the private ECR registry (instead of the AWS SDK's)."`
	DockerhubUsername  string `group:"Credentials" name:"dockerhub-username" env:"AIRGAP_CHARTS_DOCKERHUB_USERNAME,DOCKERHUB_USERNAME" placeholder:"USER" help:"Docker Hub user for authenticated pulls."`
	DockerhubToken     string `group:"Credentials" name:"dockerhub-token" env:"AIRGAP_CHARTS_DOCKERHUB_TOKEN,DOCKERHUB_TOKEN" placeholder:"TOKEN" help:"Docker Hub access token."`

	Concurrency      int           `group:"Registries" default:"${concurrency}" placeholder:"N" help:"Image copy workers (default: ${default}); every other bound of the run follows it and --chart-concurrency (see the README's Concurrency table)."`
	ChartConcurrency int           `group:"Registries" default:"${cpus}" placeholder:"N" help:"Addons processed at once (default: the number of CPUs, ${default} here)."`
	RateLimit        []string      `group:"Registries" sep:"none" placeholder:"HOST=N/PERIOD" help:"Budget of manifest pulls for a registry host, repeatable (e.g. docker.io=100/6h; PERIOD a Go duration or 1d). Every manifest GET counts as a pull: an index and each platform manifest under it (a 2-platform image costs 3 with --platform auto). A budget smaller than the work completes whole images; see --on-budget."`
	MaxPerHost       []string      `group:"Registries" name:"max-per-host" sep:"none" placeholder:"[HOST=]N" help:"Cap on requests in flight to a registry host: N for every host, HOST=N for one (docker.io covers Docker Hub's aliases; a --registry-mirror takes its source's), repeatable (e.g. docker.io=4). A request counts until its response's headers arrive. Default: no cap; the other bounds follow --concurrency (see the README's Concurrency table)."`
	OnBudget         string        `group:"Registries" enum:"fail,wait" default:"fail" help:"When a pull budget is spent (--rate-limit, or the one a registry advertises): fail the remaining images, reporting how many more pulls were needed, or wait for the budget, logging until when (default: ${default})."`
	PushRateLimit    []string      `group:"Registries" sep:"none" placeholder:"HOST=N/PERIOD" help:"Quota of manifest PUTs for a destination host, repeatable (e.g. registry.example.com=10/1s). ECR hosts get ${ecr_put_image_rate}/1s without it (see --ecr-put-image-rate)."`
	UploadRateLimit  []string      `group:"Registries" sep:"none" placeholder:"HOST=N/PERIOD" help:"Quota of blob upload starts and of completions for a destination host, repeatable (e.g. registry.example.com=100/1s). ECR hosts get ${ecr_layer_upload_rate}/1s without it."`
	RegistryMirror   []string      `group:"Registries" sep:"none" placeholder:"HOST=MIRROR[/path]" help:"Pull images of HOST from MIRROR, path kept (e.g. docker.io=127.0.0.1:5001/docker.io); destinations follow the original reference. Repeatable."`
	RepoMirror       []string      `group:"Registries" sep:"none" placeholder:"URL=URL" help:"Fetch charts of a repository from a mirror (addons and dependencies). Repeatable."`
	InsecureRegistry []string      `group:"Registries" placeholder:"HOST[:PORT]" help:"Reach this host over TLS without certificate verification, or plain HTTP when it does not speak TLS (image registries, OCI and HTTP chart repositories). Any other host is reached over verified TLS only, whatever its name. Repeatable."`
	CertsDir         string        `group:"Registries" name:"certs-dir" placeholder:"DIR" help:"Per-host TLS material in docker's certs.d layout: DIR/HOST[:PORT]/ca.crt is trusted for that host, client.cert and client.key are presented to it (mutual TLS); for registries, OCI chart sources and HTTP chart repositories."`
	CAFile           string        `group:"Registries" name:"ca-file" placeholder:"FILE" help:"PEM bundle of certificate authorities trusted besides the system's, for registries, OCI chart sources and HTTP chart repositories."`
	RequestTimeout   time.Duration `group:"Registries" default:"60s" placeholder:"DURATION" help:"Longest wait for a response's headers once a request is sent; the attempt is then retried (default: ${default})."`
	StallTimeout     time.Duration `group:"Registries" default:"60s" placeholder:"DURATION" help:"Longest time a transfer may go without a byte moving; the transfer is then retried (default: ${default})."`
	Retries          int           `group:"Registries" default:"5" placeholder:"N" help:"Retries of a failed registry request (5xx, 429, resets, stalls), with backoff (default: ${default})."`

	ECRCreateRepositories bool    `group:"ECR repositories" name:"ecr-create-repositories" default:"true" negatable:"" help:"Create missing ECR repositories (default: true; --no-ecr-create-repositories where repository creation templates do it)."`
	ECRImmutableTags      bool    `group:"ECR repositories" name:"ecr-immutable-tags" help:"Create repositories with IMMUTABLE tags."`
	ECRScanOnPush         bool    `group:"ECR repositories" name:"ecr-scan-on-push" help:"Create repositories with scan on push."`
	ECRKMSKey             string  `group:"ECR repositories" name:"ecr-kms-key" placeholder:"ARN" help:"Encrypt created repositories with this KMS key (default: AES256)."`
	ECRLifecyclePolicy    string  `group:"ECR repositories" name:"ecr-lifecycle-policy" placeholder:"FILE" help:"JSON lifecycle policy applied to created repositories."`
	ECRPutImageRate       float64 `group:"ECR repositories" name:"ecr-put-image-rate" default:"${ecr_put_image_rate}" placeholder:"PER-SECOND" help:"PutImage calls per second (default: ${default}, ECR's default quota)."`
	ECRLayerUploadRate    float64 `group:"ECR repositories" name:"ecr-layer-upload-rate" default:"${ecr_layer_upload_rate}" placeholder:"PER-SECOND" help:"Layer upload initiations per second (default: ${default}, ECR's default quota)."`
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
	if mode == config.ModeValues {
		opts.Addons, err = config.LoadValues(c.Values)
	} else {
		opts.Addons, err = config.LoadCatalogs(splitList(c.Catalog))
	}
	if err != nil {
		return err
	}
	opts.InputAddons = make([]string, 0, len(opts.Addons))
	for _, ad := range opts.Addons {
		opts.InputAddons = append(opts.InputAddons, ad.Name()) // before the filters: --prune keeps what they leave out
	}
	kept, warnings := config.Filter(opts.Addons, mode, c.OnlyAddon, c.ExcludeAddons)
	for _, w := range warnings {
		log.Warn(w)
	}
	if len(kept) == 0 {
		return usagef("no addon left to process after --only-addon %q / --exclude-addons %q", c.OnlyAddon, c.ExcludeAddons)
	}
	if err := resolvePasswordEnv(kept, a.env); err != nil {
		return err
	}
	for _, ad := range kept {
		a.secrets.add(ad.Password)
	}
	for _, c := range opts.RepoMirrorCredentials {
		a.secrets.add(c.Password)
	}
	opts.Addons = kept
	co, err := loadOverrides(c.Overrides)
	if err != nil {
		return err
	}
	opts.Overrides, opts.PublicImages = co.Values, co.PublicImages

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
// filled by Run). It reads nothing but the lifecycle policy file.
func (c *syncCmd) options(env func(string) string) (engine.Options, config.Mode, error) {
	var o engine.Options
	mode := config.ModeValues
	catalogs := splitList(c.Catalog)
	switch {
	case c.Values != "" && len(catalogs) > 0:
		return o, "", usagef("--values and --catalog cannot be used together: choose one input mode")
	case c.Values == "" && len(catalogs) == 0:
		return o, "", usagef("one of --values or --catalog is required")
	case len(catalogs) > 0:
		mode = config.ModeCatalog
	}
	if c.ScanOnly && c.PushImages {
		return o, "", usagef("--scan-only and --push-images cannot be used together")
	}
	if c.IncludeDependencies && c.ExcludeDependencies {
		return o, "", usagef("--include-dependencies and --exclude-dependencies cannot be used together")
	}
	if c.Concurrency < 1 {
		return o, "", usagef("--concurrency must be at least 1, not %d", c.Concurrency)
	}
	if c.ChartConcurrency < 1 {
		return o, "", usagef("--chart-concurrency must be at least 1, not %d", c.ChartConcurrency)
	}
	if c.ECRPutImageRate <= 0 || c.ECRLayerUploadRate <= 0 {
		return o, "", usagef("--ecr-put-image-rate and --ecr-layer-upload-rate must be above 0")
	}
	if _, err := semver.NewVersion(c.KubeVersion); err != nil {
		return o, "", usagef("--kube-version %q is not a version (e.g. 1.33.0)", c.KubeVersion)
	}
	if strings.Contains(c.TargetRegistry, "://") {
		return o, "", usagef("--target-registry %q: give a registry host without a scheme", c.TargetRegistry)
	}
	if c.RequestTimeout <= 0 || c.StallTimeout <= 0 {
		return o, "", usagef("--request-timeout and --stall-timeout must be above 0")
	}
	if msg := config.CheckRepositoryPath("--target-prefix", strings.Trim(c.TargetPrefix, "/")); msg != "" {
		return o, "", usagef("%s", msg)
	}
	if msg := config.CheckRepositoryPath("--chart-prefix", strings.Trim(c.ChartPrefix, "/")); msg != "" {
		return o, "", usagef("%s", msg)
	}
	if c.Report != "" {
		if err := checkReportPath(c.Report); err != nil {
			return o, "", err
		}
	}
	if c.Retries < 0 {
		return o, "", usagef("--retries must be 0 or more, not %d", c.Retries)
	}
	if c.CAFile != "" {
		if _, err := config.ReadInput(c.CAFile, "CA"); err != nil {
			return o, "", err
		}
		if _, err := transport.LoadCAFile(c.CAFile); err != nil {
			return o, "", &config.InputError{Pos: config.Position{File: c.CAFile}, Msg: err.Error(), Err: err}
		}
	}
	if c.CertsDir != "" {
		if err := transport.CheckCertsDir(c.CertsDir); err != nil {
			return o, "", &config.InputError{Pos: config.Position{File: c.CertsDir}, Msg: err.Error(), Err: err}
		}
	}
	for _, h := range c.InsecureRegistry {
		if msg := checkHost(strings.TrimSpace(h)); msg != "" {
			return o, "", usagef("--insecure-registry: %s", msg)
		}
	}
	for _, s := range c.RateLimit {
		rl, err := parseRateLimit(s)
		if err != nil {
			return o, "", err
		}
		o.RateLimits = append(o.RateLimits, rl)
	}
	for _, s := range c.PushRateLimit {
		rl, err := parseHostRate("--push-rate-limit", "registry.example.com=10/1s", s)
		if err != nil {
			return o, "", err
		}
		o.PushLimits = append(o.PushLimits, rl)
	}
	for _, s := range c.UploadRateLimit {
		rl, err := parseHostRate("--upload-rate-limit", "registry.example.com=100/1s", s)
		if err != nil {
			return o, "", err
		}
		o.UploadLimits = append(o.UploadLimits, rl)
	}
	var err error
	if o.MaxPerHost, err = parseMaxPerHost(c.MaxPerHost); err != nil {
		return o, "", err
	}
	if o.RegistryMirrors, err = parseRegistryMirrors(c.RegistryMirror); err != nil {
		return o, "", err
	}
	if o.RepoMirrors, o.RepoMirrorCredentials, err = parseRepoMirrors(c.RepoMirror); err != nil {
		return o, "", err
	}
	for _, k := range c.VerifySignatures {
		if err := config.CheckFile(k, "--verify-signatures key"); err != nil {
			return o, "", err
		}
	}
	if c.Referrers == "none" && len(c.ReferrersType) > 0 {
		return o, "", usagef("--referrers-type needs --referrers all or signatures, not none")
	}
	if c.ECRLifecyclePolicy != "" {
		if err := checkJSONFile(c.ECRLifecyclePolicy); err != nil {
			return o, "", err
		}
	}

	o.Latest = c.Latest
	o.ScanOnly = c.ScanOnly // neither flag, or --push-images: push
	o.TargetRegistry = c.TargetRegistry
	o.TargetPrefix = strings.Trim(c.TargetPrefix, "/")
	o.ChartPrefix = strings.Trim(c.ChartPrefix, "/")
	o.TargetKind = c.TargetKind
	o.IncludeDeps = !c.ExcludeDependencies
	if o.Platform, err = c.platform(); err != nil {
		return o, "", err
	}
	o.SkipExisting = c.SkipExisting
	o.VerifyDigest = c.VerifyExistingDigest
	o.OverwriteDigest = c.OverwriteExisting
	o.PublicECRPassword = orEnv(c.PublicECRPassword, env, "ECR_PUBLIC_PASSWORD")
	o.PrivateECRPassword = orEnv(c.PrivateECRPassword, env, "ECR_PRIVATE_PASSWORD")
	o.DockerHubUsername = orEnv(c.DockerhubUsername, env, "DOCKERHUB_USERNAME")
	o.DockerHubToken = orEnv(c.DockerhubToken, env, "DOCKERHUB_TOKEN")
	o.Concurrency = c.Concurrency
	o.ChartConcurrency = c.ChartConcurrency
	o.InsecureRegistry = trimAll(c.InsecureRegistry)
	o.CAFile = c.CAFile
	o.CertsDir = c.CertsDir
	o.OnBudget = c.OnBudget
	o.RequestTimeout, o.StallTimeout = c.RequestTimeout, c.StallTimeout
	o.Retries = c.Retries
	if c.Retries == 0 {
		o.Retries = -1 // none
	}
	o.OutputDir = c.OutputDir
	o.ReportFile = c.Report
	o.AllowPublicImages = c.AllowPublicImages
	o.Prune = c.Prune
	o.Referrers = c.Referrers
	o.ReferrerTypes = trimAll(c.ReferrersType)
	o.VerifyKeys = trimAll(c.VerifySignatures)
	o.KubeVersion = c.KubeVersion
	if err := c.lockFlags.options(&o, c.Values, catalogs); err != nil {
		return o, "", err
	}
	o.ECR = engine.ECROptions{
		CreateRepositories:  c.ECRCreateRepositories,
		ImmutableTags:       c.ECRImmutableTags,
		ScanOnPush:          c.ECRScanOnPush,
		KMSKey:              c.ECRKMSKey,
		LifecyclePolicyFile: c.ECRLifecyclePolicy,
		PutImageRate:        c.ECRPutImageRate,
		LayerUploadRate:     c.ECRLayerUploadRate,
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

// splitList splits comma-separated entries of a repeatable flag, dropping empty ones.
func splitList(entries []string) []string {
	var out []string
	for _, e := range entries {
		for _, s := range strings.Split(e, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

func trimAll(in []string) []string {
	var out []string
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// wantProgress: bars only on a terminal, with console logs, and never in CI.
func (a *app) wantProgress() bool {
	return isTerminal(a.stderr) && a.cli.LogFormat != "json" && a.env("CI") == ""
}
