// Package registry copies container images between registries: typed references and the
// mirror layout, the auth chain, a transport with retries and per-host limits, the copy
// itself with cross-repository blob deduplication, the preflight cache and ECR.
package registry

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/airgap-charts/airgap-charts/config"
)

// ImageRef is a normalized image reference: docker.io/library expansion done once, tag and
// digest both kept when both are given.
type ImageRef struct {
	// Registry is the host (and port) as written, with Docker Hub spelled "docker.io".
	Registry string
	// Repository is the path inside the registry ("library/traefik", "bitnami/nginx").
	Repository string
	// Tag is the tag, empty when the reference only pins a digest.
	Tag string
	// Digest is "sha256:…", empty when the reference is by tag only.
	Digest string
}

// ParseImageRef parses and normalizes a reference such as "traefik:v3",
// "registry.k8s.io/ingress-nginx/controller:v1.15.1@sha256:…" or "nginx" (tag latest).
func ParseImageRef(s string) (ImageRef, error) {
	raw := strings.TrimSpace(s)
	if raw == "" {
		return ImageRef{}, fmt.Errorf("empty image reference")
	}
	rest, digest, hasDigest := strings.Cut(raw, "@")
	if hasDigest {
		if _, err := name.NewDigest("example.com/x@" + digest); err != nil {
			return ImageRef{}, fmt.Errorf("image reference %q: bad digest: %w", raw, err)
		}
	}
	tag := ""
	// A tag is after the last ':' that follows the last '/'.
	if i := strings.LastIndex(rest, ":"); i > strings.LastIndex(rest, "/") {
		rest, tag = rest[:i], rest[i+1:]
		if _, err := name.NewTag("example.com/x:" + tag); err != nil {
			return ImageRef{}, fmt.Errorf("image reference %q: bad tag: %w", raw, err)
		}
	}
	repo, err := name.NewRepository(rest)
	if err != nil {
		return ImageRef{}, fmt.Errorf("image reference %q: %w", raw, err)
	}
	ref := ImageRef{
		Registry:   canonicalRegistry(repo.RegistryStr()),
		Repository: repo.RepositoryStr(),
		Tag:        tag,
		Digest:     digest,
	}
	if ref.Tag == "" && ref.Digest == "" {
		ref.Tag = "latest"
	}
	return ref, nil
}

// MustParseImageRef is ParseImageRef for literals in tests and tables; it panics on error.
func MustParseImageRef(s string) ImageRef {
	r, err := ParseImageRef(s)
	if err != nil {
		panic(err)
	}
	return r
}

func canonicalRegistry(host string) string { return config.CanonicalHost(host) }

// Name is registry/repository without tag or digest.
func (r ImageRef) Name() string { return r.Registry + "/" + r.Repository }

// String is the full normalized reference: name[:tag][@digest].
func (r ImageRef) String() string {
	// one concatenation each: a run asks for the strings of its references many times
	switch {
	case r.Tag != "" && r.Digest != "":
		return r.Registry + "/" + r.Repository + ":" + r.Tag + "@" + r.Digest
	case r.Tag != "":
		return r.Registry + "/" + r.Repository + ":" + r.Tag
	case r.Digest != "":
		return r.Registry + "/" + r.Repository + "@" + r.Digest
	}
	return r.Name()
}

// Identifier is what a registry resolves: the digest when pinned, else the tag.
func (r ImageRef) Identifier() string {
	if r.Digest != "" {
		return r.Digest
	}
	return r.Tag
}

// IsZero reports whether the reference is empty.
func (r ImageRef) IsZero() bool { return r.Registry == "" && r.Repository == "" }

// WithDigest returns the reference pinned to digest (tag kept).
func (r ImageRef) WithDigest(digest string) ImageRef { r.Digest = digest; return r }

// NameReference converts to go-containerregistry's reference (digest wins over tag),
// with opts such as name.Insecure.
func (r ImageRef) NameReference(opts ...name.Option) (name.Reference, error) {
	if r.Digest != "" {
		return name.NewDigest(r.Name()+"@"+r.Digest, opts...)
	}
	return name.NewTag(r.Name()+":"+r.Tag, opts...)
}

// TagReference is the tag as go-containerregistry's reference; it fails when r has no tag.
func (r ImageRef) TagReference(opts ...name.Option) (name.Tag, error) {
	if r.Tag == "" {
		return name.Tag{}, fmt.Errorf("image %s has no tag", r)
	}
	return name.NewTag(r.Name()+":"+r.Tag, opts...)
}
