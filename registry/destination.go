package registry

import (
	"context"
	"regexp"
	"strings"
)

// A destination registry is plain OCI at least; the abilities below are optional and the
// engine discovers them by type assertion (oras-go content/storage.go style): ECR adds
// batch tag listing, tag deletion, repository creation and a blob-mount policy.

// TagLister answers what a destination tag points to.
type TagLister interface {
	// TagDigest returns the digest ref's tag points to and whether it exists. A ref
	// without a tag asks whether its digest exists in the repository.
	TagDigest(ctx context.Context, ref ImageRef) (digest string, exists bool, err error)
}

// TagDeleter removes a destination tag (ECR: BatchDeleteImage), so a tag can be replaced.
type TagDeleter interface {
	DeleteTag(ctx context.Context, ref ImageRef) error
}

// RepositoryEnsurer makes sure a destination repository exists before the first push.
type RepositoryEnsurer interface {
	EnsureRepository(ctx context.Context, repository string) error
}

// MountPolicy tells whether cross-repository blob mounts are worth trying on the
// destination (ECR: only when the account enabled BLOB_MOUNTING).
type MountPolicy interface {
	MountsBlobs(ctx context.Context) bool
}

// TagRecorder keeps a TagLister's answers true while the run changes the destination:
// Record after a push of ref's tag, Forget after its deletion.
type TagRecorder interface {
	Record(ref ImageRef, digest string)
	Forget(ref ImageRef)
}

// ECRPublicHost is the host of Amazon ECR Public.
const ECRPublicHost = "public.ecr.aws"

var ecrHostPatterns = []*regexp.Regexp{
	// 111122223333.dkr.ecr.us-east-1.amazonaws.com, …dkr.ecr-fips…, cn regions under .com.cn
	regexp.MustCompile(`^([0-9]{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$`),
	// dual-stack endpoints: 111122223333.dkr-ecr.us-east-1.on.aws
	regexp.MustCompile(`^([0-9]{12})\.dkr-ecr(?:-fips)?\.([a-z0-9-]+)\.on\.aws$`),
}

// IsECRHost reports whether host (a port is ignored) is a private ECR registry and returns
// its account and region. public.ecr.aws is not: see IsECRPublicHost.
func IsECRHost(host string) (account, region string, ok bool) {
	h := strings.ToLower(strings.TrimSuffix(host, ":443"))
	for _, re := range ecrHostPatterns {
		if m := re.FindStringSubmatch(h); m != nil {
			return m[1], m[2], true
		}
	}
	return "", "", false
}

// IsECRPublicHost reports whether host is Amazon ECR Public.
func IsECRPublicHost(host string) bool {
	return strings.ToLower(strings.TrimSuffix(host, ":443")) == ECRPublicHost
}

// ECRHost is the private registry host of account in region.
func ECRHost(account, region string) string {
	h := account + ".dkr.ecr." + region + ".amazonaws.com"
	if strings.HasPrefix(region, "cn-") {
		h += ".cn"
	}
	return h
}
