package registry

import (
	"context"
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
