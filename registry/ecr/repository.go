package ecr

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// ecrRepositoryName is ECR's documented rule for repository names.
var ecrRepositoryName = regexp.MustCompile(`^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$`)

// ValidateRepositoryName checks name against ECR's rules: 2 to 256 characters, lowercase
// letters and digits in path components separated by '/', each component's words joined by
// single '.', '_' or '-'.
func ValidateRepositoryName(name string) error {
	switch {
	case len(name) < 2 || len(name) > 256:
		return fmt.Errorf("ECR repository name %q is invalid: it must have 2 to 256 characters, it has %d", name, len(name))
	case !ecrRepositoryName.MatchString(name):
		return fmt.Errorf("ECR repository name %q is invalid: it must be lowercase letters and digits in '/'-separated components, words joined by one '.', '_' or '-' (%s)", name, ecrRepositoryName)
	}
	return nil
}

// EnsureRepository implements RepositoryEnsurer: the name is validated, then (with
// CreateRepositories) the repository is created once per run with the configured tag
// mutability, scan on push, KMS key and lifecycle policy. One that already exists is
// success and keeps its own settings. Concurrent callers for one repository share the
// call (once.Keyed); a failure fails its caller only: the others retry.
func (e *Registry) EnsureRepository(ctx context.Context, repository string) error {
	if err := ValidateRepositoryName(repository); err != nil {
		return err
	}
	if !e.opts.CreateRepositories {
		return nil // the account's repository creation templates create on push
	}
	_, err := e.repos.Do(ctx, repository, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, e.create(ctx, repository)
	})
	return err
}

func (e *Registry) create(ctx context.Context, repository string) error {
	in := &awsecr.CreateRepositoryInput{
		RepositoryName:     aws.String(repository),
		RegistryId:         e.registryID,
		ImageTagMutability: ecrtypes.ImageTagMutabilityMutable,
		ImageScanningConfiguration: &ecrtypes.ImageScanningConfiguration{
			ScanOnPush: e.opts.ScanOnPush,
		},
	}
	if e.opts.ImmutableTags {
		in.ImageTagMutability = ecrtypes.ImageTagMutabilityImmutable
	}
	if e.opts.KMSKey != "" {
		in.EncryptionConfiguration = &ecrtypes.EncryptionConfiguration{
			EncryptionType: ecrtypes.EncryptionTypeKms,
			KmsKey:         aws.String(e.opts.KMSKey),
		}
	}
	_, err := e.client.CreateRepository(ctx, in)
	var exists *ecrtypes.RepositoryAlreadyExistsException
	switch {
	case errors.As(err, &exists):
		e.mu.Lock()
		ours := e.policyPending[repository] // created by this run, policy not yet applied
		e.mu.Unlock()
		if !ours {
			return nil
		}
	case err != nil:
		return fmt.Errorf("ECR CreateRepository %s: %w", repository, err)
	default:
		// A repository created just now is empty: its preflight needs no listing.
		e.cache.Prime(e.registry, repository, nil)
	}
	if e.opts.LifecyclePolicy != "" {
		e.mu.Lock()
		e.policyPending[repository] = true
		e.mu.Unlock()
		_, err := e.client.PutLifecyclePolicy(ctx, &awsecr.PutLifecyclePolicyInput{
			RepositoryName:      aws.String(repository),
			RegistryId:          e.registryID,
			LifecyclePolicyText: aws.String(e.opts.LifecyclePolicy),
		})
		if err != nil {
			return fmt.Errorf("ECR PutLifecyclePolicy %s: %w", repository, err)
		}
		e.mu.Lock()
		delete(e.policyPending, repository)
		e.mu.Unlock()
	}
	return nil
}
