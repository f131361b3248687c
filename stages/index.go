package stages

import (
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// chartIndex is what the resolver keeps of a repository's index.yaml: per chart, the
// versions with their archive URLs and digests, newest first. Nothing else of an entry's
// metadata is kept (the largest public indexes list tens of thousands of versions).
type chartIndex struct {
	APIVersion string                   `json:"apiVersion" yaml:"apiVersion"`
	Entries    map[string][]*indexEntry `json:"entries" yaml:"entries"`
}

// indexEntry is one chart version of an index.
type indexEntry struct {
	Version string   `json:"version" yaml:"version"`
	URLs    []string `json:"urls" yaml:"urls"`
	// Digest is the archive's sha256, as the index gives it (hex, may be empty).
	Digest string `json:"digest" yaml:"digest"`
}

// sortEntries orders each chart's versions newest first, as Helm does; versions that are
// not semver go last.
func (idx *chartIndex) sortEntries() {
	for _, vs := range idx.Entries {
		parsed := make(map[*indexEntry]*semver.Version, len(vs))
		for _, e := range vs {
			if v, err := semver.NewVersion(e.Version); err == nil {
				parsed[e] = v
			}
		}
		sort.SliceStable(vs, func(i, j int) bool {
			a, b := parsed[vs[i]], parsed[vs[j]]
			switch {
			case a == nil:
				return false
			case b == nil:
				return true
			}
			return b.LessThan(a)
		})
	}
}

// resolveReferenceURL makes an index's archive URL absolute against the repository URL,
// as Helm does: a relative URL is under the repository, keeping the repository's query.
func resolveReferenceURL(baseURL, refURL string) (string, error) {
	ref, err := url.Parse(refURL)
	if err != nil {
		return "", fmt.Errorf("parse %s as URL: %w", refURL, err)
	}
	if ref.IsAbs() {
		return refURL, nil
	}
	base, err := url.Parse(baseURL)
	if err != nil {
		return "", fmt.Errorf("parse %s as URL: %w", baseURL, err)
	}
	base.RawPath = strings.TrimSuffix(base.RawPath, "/") + "/"
	base.Path = strings.TrimSuffix(base.Path, "/") + "/"
	resolved := base.ResolveReference(ref)
	resolved.RawQuery = base.RawQuery
	return resolved.String(), nil
}
