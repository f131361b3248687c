// Package engine runs a sync: one staged DAG per addon, all addons at once, image jobs
// deduplicated across addons into one bounded copy pool, charts rewritten and published
// once their own images are in place, and the run report.
package engine

import (
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/registry"
)

// RateLimit is a budget of manifest pulls for one registry host: N per Period.
type RateLimit struct {
	Host   string
	N      int
	Period time.Duration
}

// Options is everything a sync needs; the CLI fills it from flags. Zero values are
// documented per field.
type Options struct {
	Addons    []config.Addon
	Overrides config.Overrides // per chart values from chart-overrides.yaml; nil: none

	// AllowPublicImages lets every chart whose mirrored render still pulls public images
	// succeed and be published (a warning per image) instead of ending INCOMPLETE.
	AllowPublicImages bool
	// PublicImages are, per chart name, the images chart-overrides.yaml's public_images
	// lets stay public; nil: none.
	PublicImages config.PublicImages

	Latest         bool   // newest version even where the addon names one
	ScanOnly       bool   // everything except pushes
	TargetRegistry string // empty: ECR default registry of the AWS account
	TargetPrefix   string // path under the registry for images
	// ChartPrefix is a path under the registry for charts (before their oci_namespace);
	// empty: none, charts at oci://{registry}/{oci_namespace}/{chart}.
	ChartPrefix     string
	TargetKind      string // auto|ecr|oci; empty: auto
	IncludeDeps     bool
	Platform        registry.Platform // parsed once (registry.ParsePlatform); zero: auto
	SkipExisting    bool
	VerifyDigest    bool
	OverwriteDigest bool

	PublicECRPassword  string
	PrivateECRPassword string
	DockerHubUsername  string
	DockerHubToken     string

	// Concurrency is the image copy workers (0: registry.DefaultConcurrency) and
	// ChartConcurrency the addons in their chart stages at once (0: the CPUs); every other
	// bound derives from them in registry.NewBounds.
	Concurrency      int
	ChartConcurrency int
	// MaxPerHost caps the requests in flight per registry host (host → N, "" for every
	// host without its own; registry.ClientOptions.MaxPerHost); nil: no cap.
	MaxPerHost map[string]int

	RateLimits      []RateLimit       // manifest pulls per source host
	PushLimits      []RateLimit       // manifest PUTs per destination host
	UploadLimits    []RateLimit       // blob upload starts (and, separately, completions) per destination host
	RegistryMirrors map[string]string // source host → mirror host[/path]
	// CompleteMirrors are hosts of RegistryMirrors whose mirror holds every tag of its
	// source (a replica, not a pull-through cache): its tag listings are trusted.
	CompleteMirrors []string
	RepoMirrors     map[string]string // chart repository URL → mirror URL
	// RepoMirrorCredentials are basic-auth credentials by mirror URL (from user:pass@ of
	// a --repo-mirror URL); nil: none.
	RepoMirrorCredentials map[string]Credential
	InsecureRegistry      []string // host[:port] reached over unverified TLS, or plain HTTP when it speaks no TLS
	// CAFile is a PEM bundle trusted besides the system roots (registries, OCI and HTTP
	// chart repositories); empty: none.
	CAFile string
	// RequestTimeout bounds the wait for response headers, StallTimeout a body without a
	// byte; 0: 60s each. Retries: tries after the first of a failed request; 0: 5,
	// negative: none.
	RequestTimeout, StallTimeout time.Duration
	Retries                      int
	// RetryBackoff is the first wait before a retry (doubled each time); 0: 250ms.
	RetryBackoff time.Duration
	// OnBudget is what a spent pull budget (RateLimits, or one a registry advertises)
	// does: OnBudgetFail (empty too) refuses the pulls and reports how many were needed,
	// OnBudgetWait waits for the budget to allow them, logging until when.
	OnBudget string
	// CertsDir holds per-host TLS material, docker's certs.d layout: DIR/HOST[:PORT]/ca.crt
	// (trusted for that host), client.cert and client.key (presented to it); empty: none.
	CertsDir string

	OutputDir string // empty: ./helm-charts; one run at a time may use it
	// TempDir is where the run keeps its temporary files, in a directory of its own removed
	// at the end (and by the next run, if this one is killed); empty: os.TempDir().
	TempDir    string
	ReportFile string // empty: no JSON report
	// LockFile is the lock the run writes (and reads the last one from); empty: none.
	// Locked runs exactly the lock: locked chart versions, images pulled by their locked
	// digests, a source that moved an error; UpdateLock accepts what moved and rewrites it.
	LockFile           string
	Locked, UpdateLock bool
	// PinDigests makes rewritten charts and consumer overrides reference images as
	// repo:tag@sha256:… (the digest at the destination).
	PinDigests bool
	// Prune removes from OutputDir the files earlier runs wrote for addons no longer in
	// the inputs (outputs.go); InputAddons names every addon of the inputs, before
	// --only-addon / --exclude-addons (nil: Addons are the inputs).
	Prune       bool
	InputAddons []string
	// CommandLine is what the report records as the run's arguments: secrets already
	// replaced by the caller.
	CommandLine []string
	KubeVersion string // empty: a current Kubernetes minor

	// Referrers is all, signatures or none (--referrers; empty: all); ReferrerTypes keeps
	// only these artifact types (--referrers-type).
	Referrers     string
	ReferrerTypes []string
	// VerifyKeys are cosign public key files (--verify-signatures): an image whose
	// signatures verify against none of them is not copied.
	VerifyKeys []string

	// Progress receives progress events; nil: none.
	Progress Progress

	// ECR repository settings for repositories the run creates.
	ECR ECROptions

	// runCacheSeeds are run cache entries (JSON, by entry file) an import takes from its
	// bundle: an addon uses its seed when the output directory holds no entry for the same
	// key, and its save writes it there.
	runCacheSeeds map[string][]byte
	// localHosts are hosts the run's client reaches in process (an import's bundle server).
	localHosts map[string]http.Handler
}

// What a spent pull budget does (Options.OnBudget).
const (
	OnBudgetFail = "fail"
	OnBudgetWait = "wait"
)

// Credential is a user name and password for a chart repository.
type Credential struct{ Username, Password string }

// ECROptions configures repositories created on ECR targets.
type ECROptions struct {
	CreateRepositories  bool    // false when the account relies on creation templates
	ImmutableTags       bool    // IMMUTABLE tag mutability
	ScanOnPush          bool    // image scanning on push
	KMSKey              string  // KMS key ARN; empty: AES256
	LifecyclePolicyFile string  // JSON lifecycle policy applied to created repositories
	PutImageRate        float64 // PutImage calls per second; 0: transport.ECRPutImageQuota
	LayerUploadRate     float64 // upload initiate/complete per second; 0: transport.ECRLayerUploadQuota
	// Endpoint overrides the ECR API endpoint (tests, VPC endpoints); empty: the SDK's.
	Endpoint string
	// AWSConfig replaces the SDK's default configuration chain when set (tests).
	AWSConfig *aws.Config
}
