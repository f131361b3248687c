package config

import (
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// PublicImages are, per chart name, the images chart-overrides.yaml lets stay public
// (`public_images: {CHART: [REF, …]}`): images the cluster pulls from a registry it can
// reach, which a chart still references after the rewrite.
type PublicImages map[string][]PublicImage

// PublicImage is one entry of public_images. Name is the normalized registry/repository
// (Docker Hub spelled docker.io, its official images under library/). An entry with a tag
// or digest matches that exact reference; one with neither matches every tag and digest of
// the repository.
type PublicImage struct {
	Ref    string   // as written
	Name   string   // registry/repository, normalized
	Tag    string   // empty: any
	Digest string   // empty: any (when Tag is empty too)
	Pos    Position // where the entry is written
}

// Matches reports whether the entry covers the normalized reference name[:tag][@digest]
// (as registry.ImageRef spells it: Name(), Tag, Digest).
func (p PublicImage) Matches(name, tag, digest string) bool {
	if name != p.Name {
		return false
	}
	if p.Tag == "" && p.Digest == "" {
		return true
	}
	return tag == p.Tag && digest == p.Digest
}

// Allows reports whether chart's list covers the reference.
func (ps PublicImages) Allows(chart, name, tag, digest string) bool {
	for _, p := range ps[chart] {
		if p.Matches(name, tag, digest) {
			return true
		}
	}
	return false
}

// The reference grammar of the distribution project, enough to reject what no registry
// accepts (the engine parses references fully; config stays free of image libraries).
var (
	refComponentRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$`)
	refHostRE      = regexp.MustCompile(`^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$`)
	refTagRE       = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)
	refDigestRE    = regexp.MustCompile(`^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{32,}$`)
)

// parsePublicImage reads one public_images entry: [host/]path[:tag][@digest].
func parsePublicImage(raw string) (PublicImage, error) {
	p := PublicImage{Ref: raw}
	s := strings.TrimSpace(raw)
	if s == "" {
		return p, fmt.Errorf("empty image reference")
	}
	if strings.Contains(s, "://") {
		return p, fmt.Errorf("image reference %q: give host/repository[:tag], without a scheme", raw)
	}
	rest, digest, hasDigest := strings.Cut(s, "@")
	if hasDigest {
		if !refDigestRE.MatchString(digest) {
			return p, fmt.Errorf("image reference %q: bad digest %q (want sha256:<hex>)", raw, digest)
		}
		p.Digest = digest
	}
	if i := strings.LastIndex(rest, ":"); i > strings.LastIndex(rest, "/") {
		tag := rest[i+1:]
		if !refTagRE.MatchString(tag) {
			return p, fmt.Errorf("image reference %q: bad tag %q", raw, tag)
		}
		rest, p.Tag = rest[:i], tag
	}
	parts := strings.Split(rest, "/")
	host := DockerHub
	if len(parts) > 1 && (strings.ContainsAny(parts[0], ".:") || parts[0] == "localhost" || strings.HasPrefix(parts[0], "[")) {
		host, parts = parts[0], parts[1:]
		if !refHostRE.MatchString(host) {
			return p, fmt.Errorf("image reference %q: bad registry host %q", raw, host)
		}
	}
	host = CanonicalHost(host)
	for _, c := range parts {
		if !refComponentRE.MatchString(c) {
			return p, fmt.Errorf("image reference %q: bad repository path component %q (lowercase letters, digits and . _ - separators)", raw, c)
		}
	}
	if host == DockerHub && len(parts) == 1 {
		parts = []string{"library", parts[0]}
	}
	p.Name = host + "/" + strings.Join(parts, "/")
	return p, nil
}

// loadPublicImages reads the value of `public_images:` into out.
func loadPublicImages(path string, n *yaml.Node, out PublicImages) error {
	if scalarNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return inputErrorf(nodePos(path, n), "public_images must map chart names to lists of image references")
	}
	for _, c := range pairs(n) {
		chart := c.key.Value
		if scalarNull(c.val) {
			continue
		}
		if c.val.Kind != yaml.SequenceNode {
			return inputErrorf(nodePos(path, c.val), "public_images for chart %q must be a list of image references", chart)
		}
		for _, item := range c.val.Content {
			item = content(item)
			if item == nil || item.Kind != yaml.ScalarNode || scalarNull(item) {
				return inputErrorf(nodePos(path, item), "public_images for chart %q: each entry is an image reference string (e.g. quay.io/org/img:1.0)", chart)
			}
			p, err := parsePublicImage(item.Value)
			if err != nil {
				return inputErrorf(nodePos(path, item), "public_images for chart %q: %v", chart, err)
			}
			p.Pos = nodePos(path, item)
			out[chart] = append(out[chart], p)
		}
	}
	return nil
}
