// Package ecr is Amazon ECR as a destination: the repository control plane (batch tag
// listing, repository creation, tag deletion, the account's blob-mount setting) through
// aws-sdk-go-v2, and the data plane's credentials (GetAuthorizationToken) as a keychain.
// Images themselves go through the registry client like any OCI registry's.
package ecr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/registry/once"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/ecrpublic"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Options configures an ECR destination.
type Options struct {
	// AWSConfig is the SDK configuration, normally from config.LoadDefaultConfig (the
	// default credential chain and region).
	AWSConfig aws.Config
	// Endpoint overrides the ECR, ECR Public and STS endpoints (tests: the simulator URL);
	// empty: the SDK's endpoints.
	Endpoint string
	// Registry is the registry host; empty: the account's default registry, from STS
	// GetCallerIdentity and the SDK region. A *.dkr.ecr.REGION.amazonaws.com host also sets
	// the region and registry id the API calls use.
	Registry string
	// CreateRepositories creates missing repositories before the first push; false leaves
	// creation to the account's repository creation templates (create on push).
	CreateRepositories bool
	// ImmutableTags, ScanOnPush, KMSKey (ARN; empty: AES256) and LifecyclePolicy (JSON
	// text; empty: none) apply to the repositories the run creates, never to existing ones.
	ImmutableTags   bool
	ScanOnPush      bool
	KMSKey          string
	LifecyclePolicy string
}

// ECR is an Amazon ECR destination: a plain OCI registry plus batch tag listing
// (TagLister, TagRecorder), tag deletion (TagDeleter), repository creation
// (RepositoryEnsurer), the account's blob-mount setting (MountPolicy) and a Keychain.
type Registry struct {
	opts       Options
	client     *awsecr.Client
	public     *ecrpublic.Client
	registry   string
	registryID *string // account id when known; nil: the caller's default registry
	region     string
	mounts     *bool // BLOB_MOUNTING, read at the first MountsBlobs; nil until then
	mountsMu   sync.Mutex
	cache      *registry.PreflightCache
	now        func() time.Time

	privateToken *tokenSource
	publicToken  *tokenSource

	repos once.Keyed[string, struct{}] // EnsureRepository, once per repository

	mu            sync.Mutex
	policyPending map[string]bool // created by this run, lifecycle policy not yet applied
	publicAnon    *bool           // decided once: ECR Public answered anonymously
}

// New connects to ECR: it resolves the registry (STS GetCallerIdentity when none is
// named). It calls nothing else: a run with nothing to push costs ListImages pages only.
func New(ctx context.Context, o Options) (*Registry, error) {
	if o.LifecyclePolicy != "" && !json.Valid([]byte(o.LifecyclePolicy)) {
		return nil, fmt.Errorf("ECR lifecycle policy is not valid JSON")
	}
	e := &Registry{opts: o, now: time.Now, policyPending: map[string]bool{}}
	e.repos.RetryWaiters = true
	region := o.AWSConfig.Region
	if o.Registry != "" {
		e.registry = o.Registry
		if account, r, ok := config.IsECRHost(o.Registry); ok {
			e.registryID, region = aws.String(account), r
		}
	}
	if region == "" {
		return nil, fmt.Errorf("ECR: no AWS region: set AWS_REGION or a profile region, or name the registry host")
	}
	e.region = region
	e.client = awsecr.NewFromConfig(o.AWSConfig, func(c *awsecr.Options) {
		c.Region = region
		if o.Endpoint != "" {
			c.BaseEndpoint = aws.String(o.Endpoint)
		}
	})
	// ECR Public's API lives in us-east-1 only.
	e.public = ecrpublic.NewFromConfig(o.AWSConfig, func(c *ecrpublic.Options) {
		c.Region = "us-east-1"
		if o.Endpoint != "" {
			c.BaseEndpoint = aws.String(o.Endpoint)
		}
	})
	if e.registry == "" {
		st := sts.NewFromConfig(o.AWSConfig, func(c *sts.Options) {
			c.Region = region
			if o.Endpoint != "" {
				c.BaseEndpoint = aws.String(o.Endpoint)
			}
		})
		out, err := st.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			return nil, fmt.Errorf("ECR default registry: STS GetCallerIdentity: %w", err)
		}
		account := aws.ToString(out.Account)
		if account == "" {
			return nil, fmt.Errorf("ECR default registry: STS GetCallerIdentity returned no account")
		}
		e.registry, e.registryID = config.ECRHost(account, region), aws.String(account)
	}
	e.cache = registry.NewPreflightCache(e.listTags, e.digestExists)
	e.privateToken = &tokenSource{fetch: e.fetchPrivateToken, now: e.clock}
	e.publicToken = &tokenSource{fetch: e.fetchPublicToken, now: e.clock}
	return e, nil
}

func (e *Registry) clock() time.Time { return e.now() }

// Registry is the registry host images are pushed to.
func (e *Registry) Registry() string { return e.registry }

// MountsBlobs implements MountPolicy: true only when the account's BLOB_MOUNTING setting
// is ENABLED. It is read once per run, at the first call (the first push); an error
// reading it counts as disabled, except a cancelled ctx, which is not kept.
func (e *Registry) MountsBlobs(ctx context.Context) bool {
	e.mountsMu.Lock()
	defer e.mountsMu.Unlock()
	if e.mounts != nil {
		return *e.mounts
	}
	out, err := e.client.GetAccountSetting(ctx, &awsecr.GetAccountSettingInput{Name: aws.String("BLOB_MOUNTING")})
	on := err == nil && strings.EqualFold(aws.ToString(out.Value), "ENABLED")
	if ctx.Err() == nil {
		e.mounts = &on
	}
	return on
}

func (e *Registry) own(ref registry.ImageRef) error {
	if ref.Registry != e.registry {
		return fmt.Errorf("image %s is not in ECR registry %s", ref, e.registry)
	}
	return nil
}

// TagDigest implements TagLister from ListImages pages read once per repository per run.
func (e *Registry) TagDigest(ctx context.Context, ref registry.ImageRef) (string, bool, error) {
	if err := e.own(ref); err != nil {
		return "", false, err
	}
	return e.cache.TagDigest(ctx, ref)
}

// Record implements TagRecorder.
func (e *Registry) Record(ref registry.ImageRef, digest string) { e.cache.Record(ref, digest) }

// Forget implements TagRecorder.
func (e *Registry) Forget(ref registry.ImageRef) { e.cache.Forget(ref) }

// listTags reads every tagged image of a repository, 1000 ids a page.
func (e *Registry) listTags(ctx context.Context, _, repository string) (map[string]string, error) {
	tags := map[string]string{}
	p := awsecr.NewListImagesPaginator(e.client, &awsecr.ListImagesInput{
		RepositoryName: aws.String(repository),
		RegistryId:     e.registryID,
		MaxResults:     aws.Int32(1000),
		Filter:         &ecrtypes.ListImagesFilter{TagStatus: ecrtypes.TagStatusTagged},
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		var notFound *ecrtypes.RepositoryNotFoundException
		if errors.As(err, &notFound) {
			return tags, nil
		}
		if err != nil {
			return nil, fmt.Errorf("ECR ListImages %s: %w", repository, err)
		}
		for _, id := range out.ImageIds {
			if id.ImageTag != nil {
				tags[*id.ImageTag] = aws.ToString(id.ImageDigest)
			}
		}
	}
	return tags, nil
}

func (e *Registry) digestExists(ctx context.Context, _, repository, digest string) (bool, error) {
	_, err := e.client.DescribeImages(ctx, &awsecr.DescribeImagesInput{
		RepositoryName: aws.String(repository),
		RegistryId:     e.registryID,
		ImageIds:       []ecrtypes.ImageIdentifier{{ImageDigest: aws.String(digest)}},
	})
	var repoNotFound *ecrtypes.RepositoryNotFoundException
	var imageNotFound *ecrtypes.ImageNotFoundException
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &repoNotFound), errors.As(err, &imageNotFound):
		return false, nil
	}
	return false, fmt.Errorf("ECR DescribeImages %s@%s: %w", repository, digest, err)
}

// DeleteTag implements TagDeleter with BatchDeleteImage: the tag is removed (ECR deletes
// the image with its last tag). A tag or repository that does not exist is no error.
func (e *Registry) DeleteTag(ctx context.Context, ref registry.ImageRef) error {
	if err := e.own(ref); err != nil {
		return err
	}
	id := ecrtypes.ImageIdentifier{}
	if ref.Tag != "" {
		id.ImageTag = aws.String(ref.Tag)
	} else {
		id.ImageDigest = aws.String(ref.Digest)
	}
	out, err := e.client.BatchDeleteImage(ctx, &awsecr.BatchDeleteImageInput{
		RepositoryName: aws.String(ref.Repository),
		RegistryId:     e.registryID,
		ImageIds:       []ecrtypes.ImageIdentifier{id},
	})
	var notFound *ecrtypes.RepositoryNotFoundException
	if errors.As(err, &notFound) {
		e.cache.Forget(ref)
		return nil
	}
	if err != nil {
		return fmt.Errorf("ECR BatchDeleteImage %s: %w", ref, err)
	}
	for _, f := range out.Failures {
		if f.FailureCode != ecrtypes.ImageFailureCodeImageNotFound {
			return fmt.Errorf("ECR BatchDeleteImage %s: %s: %s", ref, f.FailureCode, aws.ToString(f.FailureReason))
		}
	}
	e.cache.Forget(ref)
	return nil
}
