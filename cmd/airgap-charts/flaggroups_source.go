package main

import (
	"strings"

	"github.com/Masterminds/semver/v3"
	"go.uber.org/zap"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/engine"
)

// Flag groups of the source side: what is read and how it is rendered and pulled. Each
// command embeds the groups that apply to it (sync and plan every one, export most);
// wording.go holds a command's own wording of a shared flag.

// inputFlags name the addons: the input files, the filters and the overrides.
type inputFlags struct {
	Values        string   `group:"Input" placeholder:"FILE" help:"Values file listing addons (values mode; filters match chart names)."`
	Catalog       []string `group:"Input" placeholder:"FILE" help:"Catalog file(s), repeatable or comma-separated (catalog mode; filters match release names). Alternative to --values."`
	OnlyAddon     string   `group:"Input" placeholder:"NAMES" help:"Process only these addons: comma-separated, case-insensitive, exact (chart names in values mode, release names in catalog mode)."`
	ExcludeAddons string   `group:"Input" placeholder:"NAMES" help:"Skip these addons (same matching as --only-addon)."`
	Overrides     string   `group:"Input" placeholder:"FILE" help:"Per-chart render values (overrides: {CHART: {...}}) and images allowed to stay public (public_images: {CHART: [REF, ...]}). Default: ./chart-overrides.yaml when present."`
	Latest        bool     `group:"Input" help:"Use the newest chart version even where an addon names one."`
}

// options checks the input mode and fills o.Latest; it reads no file.
func (f inputFlags) options(o *engine.Options) (config.Mode, error) {
	catalogs := splitList(f.Catalog)
	mode := config.ModeValues
	switch {
	case f.Values != "" && len(catalogs) > 0:
		return "", usagef("--values and --catalog cannot be used together: choose one input mode")
	case f.Values == "" && len(catalogs) == 0:
		return "", usagef("one of --values or --catalog is required")
	case len(catalogs) > 0:
		mode = config.ModeCatalog
	}
	o.Latest = f.Latest
	return mode, nil
}

// load reads the addons and the overrides into o: every addon's name into InputAddons,
// the ones the filters keep into Addons, their chart repository passwords resolved (and
// redacted from then on).
func (f inputFlags) load(a *app, o *engine.Options, mode config.Mode, log *zap.Logger) error {
	var err error
	if mode == config.ModeValues {
		o.Addons, err = config.LoadValues(f.Values)
	} else {
		o.Addons, err = config.LoadCatalogs(splitList(f.Catalog))
	}
	if err != nil {
		return err
	}
	o.InputAddons = make([]string, 0, len(o.Addons))
	for _, ad := range o.Addons {
		o.InputAddons = append(o.InputAddons, ad.Name()) // before the filters: --prune and the lock keep what they leave out
	}
	kept, warnings := config.Filter(o.Addons, mode, f.OnlyAddon, f.ExcludeAddons)
	for _, w := range warnings {
		log.Warn(w)
	}
	if len(kept) == 0 {
		return usagef("no addon left to process after --only-addon %q / --exclude-addons %q", f.OnlyAddon, f.ExcludeAddons)
	}
	if err := resolvePasswordEnv(kept, a.env); err != nil {
		return err
	}
	for _, ad := range kept {
		a.secrets.add(ad.Password)
	}
	for _, c := range o.RepoMirrorCredentials {
		a.secrets.add(c.Password)
	}
	o.Addons = kept
	co, err := loadOverrides(f.Overrides)
	if err != nil {
		return err
	}
	o.Overrides, o.PublicImages = co.Values, co.PublicImages
	return nil
}

// firstInput is the first input file: the default lock sits beside it.
func (f inputFlags) firstInput() string {
	if f.Values != "" {
		return f.Values
	}
	if c := splitList(f.Catalog); len(c) > 0 {
		return c[0]
	}
	return ""
}

// renderFlags choose how charts are rendered for their images.
type renderFlags struct {
	IncludeDependencies bool   `group:"Run" help:"Render subcharts when extracting images (default)."`
	ExcludeDependencies bool   `group:"Run" help:"Render without subcharts."`
	KubeVersion         string `group:"Run" default:"${kube_version}" placeholder:"VERSION" help:"Kubernetes version charts are rendered for, so that kubeVersion constraints pass (default: ${default})."`
}

func (f renderFlags) options(o *engine.Options) error {
	if f.IncludeDependencies && f.ExcludeDependencies {
		return usagef("--include-dependencies and --exclude-dependencies cannot be used together")
	}
	if _, err := semver.NewVersion(f.KubeVersion); err != nil {
		return usagef("--kube-version %q is not a version (e.g. 1.33.0)", f.KubeVersion)
	}
	o.IncludeDeps = !f.ExcludeDependencies
	o.KubeVersion = f.KubeVersion
	return nil
}

// publicFlags: may a chart be published while it still pulls public images.
type publicFlags struct {
	AllowPublicImages bool `group:"Run" help:"Publish a chart even when its mirrored render still pulls images from outside the target registry (a warning per image) instead of ending the addon INCOMPLETE, unpublished."`
}

func (f publicFlags) options(o *engine.Options) { o.AllowPublicImages = f.AllowPublicImages }

// sourceCredFlags are the credentials of public source registries.
type sourceCredFlags struct {
	PublicECRPassword string `group:"Credentials" name:"public-ecr-password" env:"AIRGAP_CHARTS_PUBLIC_ECR_PASSWORD,ECR_PUBLIC_PASSWORD" placeholder:"TOKEN" help:"Token for public.ecr.aws."`
	DockerhubUsername string `group:"Credentials" name:"dockerhub-username" env:"AIRGAP_CHARTS_DOCKERHUB_USERNAME,DOCKERHUB_USERNAME" placeholder:"USER" help:"Docker Hub user for authenticated pulls."`
	DockerhubToken    string `group:"Credentials" name:"dockerhub-token" env:"AIRGAP_CHARTS_DOCKERHUB_TOKEN,DOCKERHUB_TOKEN" placeholder:"TOKEN" help:"Docker Hub access token."`
}

func (f sourceCredFlags) options(o *engine.Options, env func(string) string) {
	o.PublicECRPassword = orEnv(f.PublicECRPassword, env, "ECR_PUBLIC_PASSWORD")
	o.DockerHubUsername = orEnv(f.DockerhubUsername, env, "DOCKERHUB_USERNAME")
	o.DockerHubToken = orEnv(f.DockerhubToken, env, "DOCKERHUB_TOKEN")
}

// pullFlags bound and redirect what is pulled from the sources.
type pullFlags struct {
	RateLimit      []string `group:"Registries" sep:"none" placeholder:"HOST=N/PERIOD" help:"Budget of manifest pulls for a registry host, repeatable (e.g. docker.io=100/6h; PERIOD a Go duration or 1d). Every manifest GET counts as a pull: an index and each platform manifest under it (a 2-platform image costs 3 with --platform auto). A budget smaller than the work completes whole images; see --on-budget."`
	OnBudget       string   `group:"Registries" enum:"fail,wait" default:"fail" help:"When a pull budget is spent (--rate-limit, or the one a registry advertises): fail the remaining images, reporting how many more pulls were needed, or wait for the budget, logging until when (default: ${default})."`
	RegistryMirror []string `group:"Registries" sep:"none" placeholder:"HOST=MIRROR[/path]" help:"Pull images of HOST from MIRROR, path kept (e.g. docker.io=127.0.0.1:5001/docker.io); destinations follow the original reference. Repeatable."`
	MirrorComplete []string `group:"Registries" sep:"none" placeholder:"HOST" help:"The --registry-mirror of HOST holds every tag of HOST (a replica kept in sync, not a pull-through cache): referrer discovery lists its tags as it lists a source's, instead of asking each referrer tag. Repeatable."`
	RepoMirror     []string `group:"Registries" sep:"none" placeholder:"URL=URL" help:"Fetch charts of a repository from a mirror (addons and dependencies). Repeatable."`
}

func (f pullFlags) options(o *engine.Options) error {
	for _, s := range f.RateLimit {
		rl, err := parseRateLimit(s)
		if err != nil {
			return err
		}
		o.RateLimits = append(o.RateLimits, rl)
	}
	o.OnBudget = f.OnBudget
	var err error
	if o.RegistryMirrors, err = parseRegistryMirrors(f.RegistryMirror); err != nil {
		return err
	}
	for _, h := range splitList(f.MirrorComplete) {
		if _, ok := o.RegistryMirrors[h]; !ok {
			return usagef("--mirror-complete %q: no --registry-mirror %s=MIRROR is given", h, h)
		}
		o.CompleteMirrors = append(o.CompleteMirrors, h)
	}
	o.RepoMirrors, o.RepoMirrorCredentials, err = parseRepoMirrors(f.RepoMirror)
	return err
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
