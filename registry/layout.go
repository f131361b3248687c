package registry

import "strings"

// MirrorLayout maps a source reference to its place in the private registry:
// {Registry}/{Prefix?}/{source repository path}:{tag}[@digest].
type MirrorLayout struct {
	// Registry is the destination host, e.g. 111122223333.dkr.ecr.us-east-1.amazonaws.com.
	Registry string
	// Prefix is an optional path under the registry ("team/x"), for images only.
	Prefix string
}

// Destination is where src lands. The source host is dropped, its repository path kept
// (docker.io/library/traefik stays library/traefik); tag and digest are kept as they are.
func (l MirrorLayout) Destination(src ImageRef) ImageRef {
	repo := src.Repository
	if p := strings.Trim(l.Prefix, "/"); p != "" {
		repo = p + "/" + repo
	}
	return ImageRef{Registry: l.Registry, Repository: repo, Tag: src.Tag, Digest: src.Digest}
}
