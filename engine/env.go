package engine

import (
	"context"
	"fmt"
	"github.com/airgap-charts/airgap-charts/config"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-containerregistry/pkg/authn"
	"go.uber.org/zap"
	"golang.org/x/sync/semaphore"

	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/registry/ecr"
	"github.com/airgap-charts/airgap-charts/registry/transport"
	"github.com/airgap-charts/airgap-charts/stages"
)

// runEnv is what every addon of a run shares: one registry client (one transport, one
// auth chain, per-host limits), one destination, one resolver (each repository index
// fetched once) and one fetcher (one archive cache).
type runEnv struct {
	opts     Options
	log      *zap.Logger
	client   *registry.Client
	registry string // destination host
	// noDestination: a plan without a destination (no --target-registry, no AWS
	// configuration); registry is then a placeholder and nothing asks the destination.
	noDestination bool
	layout        registry.MirrorLayout
	preflight     Preflight
	ensurer       registry.RepositoryEnsurer // nil when the destination creates on push
	resolver      *stages.Resolver
	fetcher       *stages.Fetcher
	tmp           *runDir // this run's temporary files (blob spool), removed at close
	progress      *progressTracker
	// publishes bounds chart checks and pushes: network waits, so as many at once as image
	// copies (or chart stages, when more). It is not the chart-stage semaphore: a publish
	// queued behind every addon still waiting to render would wait for all of them, though
	// its own images are done.
	publishes *semaphore.Weighted
	publisher *stages.Publisher
	// chartHeads answers chart checks of archives pushed before (chartwarm.go); nil: none.
	chartHeads *chartHeads
	groups     map[string]*chartGroup // addons sharing a chart's artifacts
	cache      *runCache
	renders    atomic.Int64    // charts rendered to find images (the run cache spares reruns)
	referrers  *ReferrerPolicy // nil: images cross alone, unverified
	lock       *lockRun        // the last lock and this run's inputs (lock_run.go)
}

func newRunEnv(ctx context.Context, opts Options, log *zap.Logger) (*runEnv, error) {
	env := &runEnv{opts: opts, log: log, progress: newProgressTracker(opts.Progress),
		publishes: semaphore.NewWeighted(int64(registry.NewBounds(opts.Concurrency, opts.ChartConcurrency).Publishes)),
		groups:    newChartGroups(opts.Addons), cache: newRunCache(opts.OutputDir, log).seeded(opts.runCacheSeeds)}
	tmp, err := newRunDir(opts.TempDir, log)
	if err != nil {
		return nil, err
	}
	env.tmp = tmp
	if err := env.openDestination(ctx, log); err != nil {
		env.close()
		return nil, err
	}
	if err := env.openChartAccess(); err != nil {
		env.close()
		return nil, err
	}
	return env, nil
}

// runDestination is where a run mirrors to, as openDestination found it.
type runDestination struct {
	host      string
	ecr       *ecr.Registry // nil: an OCI registry (or none)
	keychains []authn.Keychain
	limits    []transport.HostRate // quotas of the destination's hosts
	ecrHosts  []string
	none      bool // a plan without a destination: not consulted
}

// findDestination decides the destination: an OCI registry, ECR (its AWS configuration
// loaded), or, for a plan without --target-registry or AWS configuration, none.
func findDestination(ctx context.Context, opts Options, log *zap.Logger) (runDestination, error) {
	useECR, err := wantsECR(opts)
	if err != nil {
		return runDestination{}, err
	}
	if !useECR {
		return runDestination{host: opts.TargetRegistry}, nil
	}
	reg, err := newECR(ctx, opts)
	if err != nil && opts.ScanOnly && opts.TargetRegistry == "" {
		// A plan needs no destination: without one, it says so and does the rest.
		log.Warn("no destination: the plan does not consult one (give --target-registry, or configure AWS for ECR)", zap.Error(err))
		return runDestination{host: PlaceholderRegistry, none: true}, nil
	}
	if err != nil {
		return runDestination{}, err
	}
	host := reg.Registry()
	return runDestination{host: host, ecr: reg, keychains: []authn.Keychain{reg.Keychain()},
		limits: ecrLimits(host, opts.ECR), ecrHosts: []string{host}}, nil
}

// openDestination opens the destination and the run's registry client (images and OCI
// charts alike), with every quota and budget of the run.
func (e *runEnv) openDestination(ctx context.Context, log *zap.Logger) error {
	opts := e.opts
	dest, err := findDestination(ctx, opts, log)
	if err != nil {
		return err
	}
	e.registry, e.noDestination = dest.host, dest.none
	e.layout = registry.MirrorLayout{Registry: e.registry, Prefix: opts.TargetPrefix}
	spool, err := e.tmp.sub("spool")
	if err != nil {
		return err
	}
	destLimits := dest.limits
	for _, r := range opts.PushLimits {
		destLimits = append(destLimits, transport.HostRate{Host: r.Host, Kind: transport.KindManifestPut, N: r.N, Period: r.Period})
	}
	for _, r := range opts.UploadLimits {
		destLimits = append(destLimits, transport.HostRate{Host: r.Host, Kind: transport.KindUpload, N: r.N, Period: r.Period})
	}
	var rates []transport.HostRate
	for _, r := range opts.RateLimits {
		rates = append(rates, transport.HostRate{Host: r.Host, Kind: transport.KindManifestGet, N: r.N, Period: r.Period})
	}
	e.client, err = registry.NewClient(registry.ClientOptions{
		Concurrency:        opts.Concurrency,
		MaxPerHost:         opts.MaxPerHost,
		Insecure:           opts.InsecureRegistry,
		CAFile:             opts.CAFile,
		RequestTimeout:     opts.RequestTimeout,
		StallTimeout:       opts.StallTimeout,
		Retries:            opts.Retries,
		RetryBackoff:       opts.RetryBackoff,
		WaitForBudget:      opts.OnBudget == OnBudgetWait,
		CertsDir:           opts.CertsDir,
		Destination:        e.registry,
		Mirrors:            opts.RegistryMirrors,
		CompleteMirrors:    opts.CompleteMirrors,
		RateLimits:         rates,
		DestLimits:         destLimits,
		ECRHosts:           dest.ecrHosts,
		Keychains:          dest.keychains,
		HostKeychains:      repoKeychains(opts.Addons),
		DockerHubUser:      opts.DockerHubUsername,
		DockerHubToken:     opts.DockerHubToken,
		PublicECRPassword:  opts.PublicECRPassword,
		PrivateECRPassword: opts.PrivateECRPassword,
		Logger:             log,
		SpoolDir:           spool,
		Local:              opts.localHosts,
	})
	if err != nil {
		return err
	}
	if dest.ecr != nil {
		e.preflight = dest.ecr
		if opts.ECR.CreateRepositories {
			e.ensurer = dest.ecr
		}
	} else {
		e.preflight = e.client.OCIPreflight()
	}
	var ensure func(context.Context, string) error
	if e.ensurer != nil {
		ensure = e.ensurer.EnsureRepository
	}
	e.publisher = stages.NewPublisher(stages.PublishOptions{Registry: e.client, EnsureRepository: ensure})
	return nil
}

// openChartAccess sets up resolving and fetching charts (HTTP repositories through the
// client's transport, OCI ones through the client itself).
func (e *runEnv) openChartAccess() error {
	opts := e.opts
	httpClient := e.client.HTTPClient()
	creds := addonCredentials(opts.Addons, opts.RepoMirrorCredentials)
	var err error
	e.resolver, err = stages.NewResolver(stages.ResolverOptions{
		HTTPClient:    httpClient,
		RepoMirrors:   opts.RepoMirrors,
		Insecure:      e.client.Insecure,
		Registry:      e.client,
		Credentials:   creds,
		IndexCacheDir: filepath.Join(opts.OutputDir, ".cache", "indexes"),
		Logger:        e.log,
	})
	if err != nil {
		return err
	}
	e.fetcher, err = stages.NewFetcher(stages.FetcherOptions{
		CacheDir:    filepath.Join(opts.OutputDir, ".cache"),
		HTTPClient:  httpClient,
		Insecure:    e.client.Insecure,
		Registry:    e.client,
		Credentials: creds,
	})
	return err
}

func (e *runEnv) close() {
	if e.resolver != nil {
		e.resolver.Close() // no index cache write outlives the run
	}
	if e.client != nil {
		_ = e.client.Close()
	}
	e.tmp.close()
}

// wantsECR decides the destination kind: ECR for --target-kind ecr, for an ECR host, or
// when no --target-registry is given (the account's default registry).
func wantsECR(opts Options) (bool, error) {
	switch opts.TargetKind {
	case "ecr":
		return true, nil
	case "oci":
		if opts.TargetRegistry == "" {
			return false, fmt.Errorf("--target-kind oci needs --target-registry")
		}
		return false, nil
	case "auto", "":
		if opts.TargetRegistry == "" {
			return true, nil
		}
		_, _, ok := config.IsECRHost(opts.TargetRegistry)
		return ok, nil
	}
	return false, fmt.Errorf("--target-kind %q: want auto, ecr or oci", opts.TargetKind)
}

func newECR(ctx context.Context, opts Options) (*ecr.Registry, error) {
	var cfg aws.Config
	if opts.ECR.AWSConfig != nil {
		cfg = *opts.ECR.AWSConfig
	} else {
		var err error
		if cfg, err = ecr.LoadAWSConfig(ctx, opts.TargetRegistry); err != nil {
			return nil, err
		}
	}
	var policy string
	if opts.ECR.LifecyclePolicyFile != "" {
		b, err := os.ReadFile(opts.ECR.LifecyclePolicyFile)
		if err != nil {
			return nil, fmt.Errorf("--ecr-lifecycle-policy: %w", err)
		}
		policy = string(b)
	}
	reg, err := ecr.New(ctx, ecr.Options{
		AWSConfig:          cfg,
		Endpoint:           opts.ECR.Endpoint,
		Registry:           opts.TargetRegistry,
		CreateRepositories: opts.ECR.CreateRepositories,
		ImmutableTags:      opts.ECR.ImmutableTags,
		ScanOnPush:         opts.ECR.ScanOnPush,
		KMSKey:             opts.ECR.KMSKey,
		LifecyclePolicy:    policy,
	})
	if err != nil {
		return nil, fmt.Errorf("ECR destination: %w", err)
	}
	return reg, nil
}

// ecrLimits are token buckets for ECR's default API quotas, so a large run never draws a
// throttling error it could have avoided.
func ecrLimits(host string, o ECROptions) []transport.HostRate {
	put, up := o.PutImageRate, o.LayerUploadRate
	if put <= 0 {
		put = transport.ECRPutImageQuota
	}
	if up <= 0 {
		up = transport.ECRLayerUploadQuota
	}
	return []transport.HostRate{
		{Host: host, Kind: transport.KindManifestPut, N: int(put), Period: time.Second},
		{Host: host, Kind: transport.KindUpload, N: int(up), Period: time.Second},
	}
}
