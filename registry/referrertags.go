package registry

import (
	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/registry/transport"

	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/name"
)

// A source repository's tags are listed once per run (GET /v2/<name>/tags/list) so that
// referrer discovery sends a HEAD only for the referrers tag schema's and cosign's tags
// (sha256-<hex>, sha256-<hex>.sig, .att, .sbom) that exist: a repository without
// signatures costs one listing instead of four HEADs per manifest. The listing is taken
// afresh every run, so a signature added to an unchanged digest since the last run is
// listed, and found. A listing that fails or is too long is not used: those tags are then
// asked one HEAD each, as without it.

// maxTagListPages bounds the pages of one listing; a repository with more tags is asked
// with HEADs.
const maxTagListPages = 4

// tagListPageSize is the page size asked for (?n=); a registry may answer fewer.
const tagListPageSize = 1000

// maxTagListBytes bounds one page's body.
const maxTagListBytes = 8 << 20

// tagListing is a repository's tags as listed; nil tags: not listed (ask with HEADs).
type tagListing struct{ tags map[string]bool }

// listedTag says whether repo holds tag according to this run's listing of it; known is
// false when the repository could not be listed, and the caller must ask the tag itself.
// The listing is asked once per repository per run; its requests count as discovery
// requests (of cost, for the image whose discovery asked it first).
func (c *Client) listedTag(ctx context.Context, repo name.Repository, tag string, cost *atomic.Int64) (has, known bool) {
	if c.isPullThroughHost(repo.RegistryStr()) {
		// A pull-through mirror may list only the tags it has cached, not a signature
		// pushed upstream since: its tags are asked one by one, which it fetches upstream.
		return false, false
	}
	l, err := c.referrers.listings.Do(ctx, repo.String(), func(ctx context.Context) (*tagListing, error) {
		return &tagListing{tags: c.listTags(ctx, repo, cost)}, nil
	})
	if err != nil || l.tags == nil {
		return false, false
	}
	return l.tags[tag], true
}

// listTags lists repo's tags, nil when it cannot (an error, an answer that is not a tag
// list, more than maxTagListPages pages).
func (c *Client) listTags(ctx context.Context, repo name.Repository, cost *atomic.Int64) map[string]bool {
	tags := map[string]bool{}
	u := repoURL(repo, "tags/list?n="+strconv.Itoa(tagListPageSize))
	for page := 0; u != ""; page++ {
		if page == maxTagListPages {
			return nil
		}
		c.referrers.count(cost)
		resp, err := do(ctx, c.hc, http.MethodGet, u, nil, map[string]string{"Accept": "application/json"})
		if err != nil {
			return nil
		}
		var body struct {
			Name string   `json:"name"`
			Tags []string `json:"tags"`
		}
		ok := resp.StatusCode == http.StatusOK && json.NewDecoder(io.LimitReader(resp.Body, maxTagListBytes)).Decode(&body) == nil
		next := nextLink(resp)
		transport.Drain(resp)
		if !ok {
			return nil
		}
		for _, t := range body.Tags {
			tags[t] = true
		}
		if next != "" {
			if nu, err := url.Parse(next); err != nil || nu.Host != resp.Request.URL.Host {
				return nil // a next page elsewhere: not followed
			}
		}
		u = next
	}
	return tags
}

// WarmReferrerTags lists the tags of src's repository now, once per run, so that the
// discovery of its referrers finds the listing made (the run counts its requests; no
// image's cost does).
func (c *Client) WarmReferrerTags(ctx context.Context, src ImageRef) {
	ref, err := c.pullRef(src)
	if err != nil {
		return // the job meets the error again, and reports it
	}
	c.listedTag(ctx, ref.Context(), "", nil)
}

// isPullThroughHost says whether host is a --registry-mirror some source is pulled
// through without being declared complete (CompleteMirrors).
func (c *Client) isPullThroughHost(host string) bool {
	k := config.HostKey(host)
	for _, m := range c.mirrors {
		if !m.complete && config.HostKey(m.host) == k {
			return true
		}
	}
	return false
}
