package ecrsim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"
)

// The simulator's reads of the real registry behind it: what ECR's image APIs answer.

var manifestTypes = []string{
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
	"application/vnd.docker.distribution.manifest.v2+json",
}

type manifestInfo struct {
	digest, mediaType string
	size              int64
}

func (s *Sim) backendDo(ctx context.Context, method, path string, accept []string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.Backend.Server.URL+path, nil)
	if err != nil {
		return nil, err
	}
	if len(accept) == 0 {
		accept = manifestTypes
	}
	req.Header.Set("Accept", strings.Join(accept, ", "))
	return s.backend.Do(req)
}

// manifest reads a manifest by tag or digest; found is false on 404.
func (s *Sim) manifest(ctx context.Context, repo, ref string, accept []string, withBody bool) (body []byte, info manifestInfo, found bool, err error) {
	method := http.MethodHead
	if withBody {
		method = http.MethodGet
	}
	resp, err := s.backendDo(ctx, method, "/v2/"+repo+"/manifests/"+ref, accept)
	if err != nil {
		return nil, info, false, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, info, false, nil
	default:
		return nil, info, false, fmt.Errorf("registry %s %s/manifests/%s: %s", method, repo, ref, resp.Status)
	}
	info = manifestInfo{digest: resp.Header.Get("Docker-Content-Digest"), mediaType: resp.Header.Get("Content-Type"), size: resp.ContentLength}
	if withBody {
		if body, err = io.ReadAll(resp.Body); err != nil {
			return nil, info, false, err
		}
	}
	return body, info, true, nil
}

// tags lists a repository's tags in the registry (none when it holds nothing yet).
func (s *Sim) tags(ctx context.Context, repo string) ([]string, error) {
	resp, err := s.backendDo(ctx, http.MethodGet, "/v2/"+repo+"/tags/list", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("registry tags list %s: %s", repo, resp.Status)
	}
	var list struct {
		Tags []string `json:"tags"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return nil, fmt.Errorf("registry tags list %s: %w", repo, err)
	}
	sort.Strings(list.Tags)
	return list.Tags, nil
}

// tagged resolves tags to their manifests.
func (s *Sim) tagged(ctx context.Context, repo string, tags []string) (map[string]manifestInfo, error) {
	m := make(map[string]manifestInfo, len(tags))
	for _, t := range tags {
		_, info, ok, err := s.manifest(ctx, repo, t, nil, false)
		if err != nil {
			return nil, err
		}
		if ok {
			m[t] = info
		}
	}
	return m, nil
}

func (s *Sim) deleteManifest(ctx context.Context, repo, ref string) error {
	resp, err := s.backendDo(ctx, http.MethodDelete, "/v2/"+repo+"/manifests/"+ref, nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusNotFound {
		return fmt.Errorf("registry DELETE %s/manifests/%s: %s", repo, ref, resp.Status)
	}
	return nil
}

// image is one ECR image: a manifest digest with its tags.
type image struct {
	digest    string
	tags      []string
	mediaType string
	pushedAt  time.Time
}

// images lists a repository's images as ECR does, filtered by tagStatus (TAGGED, UNTAGGED,
// ANY): tagged ones from the registry's tags, untagged ones from the manifests pushed
// through the simulator that no tag points at and that still exist.
func (s *Sim) images(ctx context.Context, r *Repository, status string) ([]image, error) {
	tags, err := s.tags(ctx, r.Name)
	if err != nil {
		return nil, err
	}
	tagMap, err := s.tagged(ctx, r.Name, tags)
	if err != nil {
		return nil, err
	}
	byDigest := map[string]*image{}
	var out []*image
	for _, t := range tags {
		info, ok := tagMap[t]
		if !ok {
			continue
		}
		im := byDigest[info.digest]
		if im == nil {
			im = &image{digest: info.digest, mediaType: info.mediaType, pushedAt: s.pushedAt(r, info.digest)}
			byDigest[info.digest] = im
			out = append(out, im)
		}
		im.tags = append(im.tags, t)
	}
	var untagged []*image
	s.mu.Lock()
	for d := range r.pushed {
		if byDigest[d] == nil {
			untagged = append(untagged, &image{digest: d, pushedAt: r.pushed[d]})
		}
	}
	s.mu.Unlock()
	sort.Slice(untagged, func(i, j int) bool { return untagged[i].digest < untagged[j].digest })
	var res []image
	if status != "UNTAGGED" {
		for _, im := range out {
			res = append(res, *im)
		}
	}
	if status != "TAGGED" {
		for _, im := range untagged {
			_, info, ok, err := s.manifest(ctx, r.Name, im.digest, nil, false)
			if err != nil {
				return nil, err
			}
			if ok {
				im.mediaType = info.mediaType
				res = append(res, *im)
			}
		}
	}
	return res, nil
}

func (s *Sim) pushedAt(r *Repository, digest string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := r.pushed[digest]; ok {
		return t
	}
	return r.CreatedAt
}

// imageSize is what ECR reports as imageSizeInBytes: the sum of an image manifest's layers.
func (s *Sim) imageSize(ctx context.Context, repo, digest string) (int64, error) {
	body, _, ok, err := s.manifest(ctx, repo, digest, nil, true)
	if err != nil || !ok {
		return 0, err
	}
	var m struct {
		Layers []struct {
			Size int64 `json:"size"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return 0, err
	}
	var n int64
	for _, l := range m.Layers {
		n += l.Size
	}
	return n, nil
}
