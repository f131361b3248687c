package ecrsim

import (
	"encoding/json"
	"net/http"
	"regexp"
)

type imageID struct {
	ImageDigest string `json:"imageDigest,omitempty"`
	ImageTag    string `json:"imageTag,omitempty"`
}

type imageFilter struct {
	TagStatus string `json:"tagStatus"`
}

type repoRequest struct {
	RegistryID     string `json:"registryId"`
	RepositoryName string `json:"repositoryName"`
}

var digestPattern = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)

func tagStatus(f *imageFilter) (string, error) {
	if f == nil || f.TagStatus == "" {
		return "ANY", nil
	}
	switch f.TagStatus {
	case "TAGGED", "UNTAGGED", "ANY":
		return f.TagStatus, nil
	}
	return "", errorf("InvalidParameterException", "Invalid parameter at 'filter.tagStatus': %q", f.TagStatus)
}

func (s *Sim) listImages(r *http.Request, body []byte) (any, error) {
	var in struct {
		repoRequest
		pageRequest
		Filter *imageFilter `json:"filter"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, errorf("SerializationException", "%v", err)
	}
	repo, err := s.repository(in.RegistryID, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	status, err := tagStatus(in.Filter)
	if err != nil {
		return nil, err
	}
	if status == "TAGGED" {
		return s.listTagged(r, repo, in.pageRequest)
	}
	images, err := s.images(r.Context(), repo, status)
	if err != nil {
		return nil, err
	}
	// one id per tag, one per untagged image
	ids := []imageID{}
	for _, im := range images {
		if len(im.tags) == 0 {
			ids = append(ids, imageID{ImageDigest: im.digest})
		}
		for _, t := range im.tags {
			ids = append(ids, imageID{ImageDigest: im.digest, ImageTag: t})
		}
	}
	from, to, next, err := page(in.pageRequest, "ListImages", repo.Name+"\x00"+status, len(ids), 100, 1000)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"imageIds": ids[from:to]}
	if next != "" {
		out["nextToken"] = next
	}
	return out, nil
}

// resolve finds the image an id names, with the failure code ECR gives when it cannot.
func (s *Sim) resolve(r *http.Request, repo string, id imageID) (manifestInfo, string, string, error) {
	switch {
	case id.ImageDigest == "" && id.ImageTag == "":
		return manifestInfo{}, "MissingDigestAndTag", "Invalid request: no imageDigest or imageTag given", nil
	case id.ImageDigest != "" && !digestPattern.MatchString(id.ImageDigest):
		return manifestInfo{}, "InvalidImageDigest", "Invalid image digest", nil
	}
	ref := id.ImageDigest
	if id.ImageTag != "" {
		ref = id.ImageTag
	}
	_, info, ok, err := s.manifest(r.Context(), repo, ref, nil, false)
	switch {
	case err != nil:
		return manifestInfo{}, "", "", err
	case !ok:
		return manifestInfo{}, "ImageNotFound", "Requested image not found", nil
	case id.ImageDigest != "" && id.ImageTag != "" && info.digest != id.ImageDigest:
		return manifestInfo{}, "ImageTagDoesNotMatchDigest", "Invalid request: image tag does not match digest", nil
	}
	return info, "", "", nil
}

func (s *Sim) describeImages(r *http.Request, body []byte) (any, error) {
	var in struct {
		repoRequest
		pageRequest
		ImageIDs []imageID    `json:"imageIds"`
		Filter   *imageFilter `json:"filter"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, errorf("SerializationException", "%v", err)
	}
	repo, err := s.repository(in.RegistryID, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	status, err := tagStatus(in.Filter)
	if err != nil {
		return nil, err
	}
	if len(in.ImageIDs) > 0 && (in.MaxResults != nil || in.NextToken != "") {
		return nil, errorf("InvalidParameterException", "maxResults and nextToken cannot be used with imageIds")
	}
	if len(in.ImageIDs) > 100 {
		return nil, errorf("InvalidParameterException", "Invalid parameter at 'imageIds': at most 100 image ids")
	}
	images, err := s.images(r.Context(), repo, status)
	if err != nil {
		return nil, err
	}
	if len(in.ImageIDs) > 0 {
		byDigest := map[string]image{}
		for _, im := range images {
			byDigest[im.digest] = im
		}
		var picked []image
		for _, id := range in.ImageIDs {
			info, code, _, err := s.resolve(r, repo.Name, id)
			if err != nil {
				return nil, err
			}
			im, ok := byDigest[info.digest]
			if code != "" || !ok {
				return nil, errorf("ImageNotFoundException",
					"The image with imageId {imageDigest:'%s', imageTag:'%s'} does not exist within the repository with name '%s' in the registry with id '%s'",
					id.ImageDigest, id.ImageTag, repo.Name, s.Account)
			}
			picked = append(picked, im)
		}
		images = picked
	}
	from, to, next, err := page(in.pageRequest, "DescribeImages", repo.Name+"\x00"+status, len(images), 100, 1000)
	if err != nil {
		return nil, err
	}
	details := []map[string]any{}
	for _, im := range images[from:to] {
		size, err := s.imageSize(r.Context(), repo.Name, im.digest)
		if err != nil {
			return nil, err
		}
		d := map[string]any{
			"registryId": s.Account, "repositoryName": repo.Name, "imageDigest": im.digest,
			"imageSizeInBytes": size, "imagePushedAt": epoch(im.pushedAt),
			"imageManifestMediaType": im.mediaType,
		}
		if len(im.tags) > 0 {
			d["imageTags"] = im.tags
		}
		details = append(details, d)
	}
	out := map[string]any{"imageDetails": details}
	if next != "" {
		out["nextToken"] = next
	}
	return out, nil
}

type batchRequest struct {
	repoRequest
	ImageIDs           []imageID `json:"imageIds"`
	AcceptedMediaTypes []string  `json:"acceptedMediaTypes"`
}

func (s *Sim) batch(body []byte) (*batchRequest, *Repository, error) {
	var in batchRequest
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, nil, errorf("SerializationException", "%v", err)
	}
	repo, err := s.repository(in.RegistryID, in.RepositoryName)
	if err != nil {
		return nil, nil, err
	}
	if len(in.ImageIDs) < 1 || len(in.ImageIDs) > 100 {
		return nil, nil, errorf("InvalidParameterException",
			"Invalid parameter at 'imageIds' failed to satisfy constraint: 'Member must have length between 1 and 100'")
	}
	return &in, repo, nil
}

func failure(id imageID, code, reason string) map[string]any {
	return map[string]any{"imageId": id, "failureCode": code, "failureReason": reason}
}

func (s *Sim) batchGetImage(r *http.Request, body []byte) (any, error) {
	in, repo, err := s.batch(body)
	if err != nil {
		return nil, err
	}
	images, failures := []map[string]any{}, []map[string]any{}
	for _, id := range in.ImageIDs {
		info, code, reason, err := s.resolve(r, repo.Name, id)
		if err != nil {
			return nil, err
		}
		if code != "" {
			failures = append(failures, failure(id, code, reason))
			continue
		}
		manifest, got, ok, err := s.manifest(r.Context(), repo.Name, info.digest, in.AcceptedMediaTypes, true)
		if err != nil {
			return nil, err
		}
		if !ok {
			failures = append(failures, failure(id, "ImageNotFound", "Requested image not found"))
			continue
		}
		images = append(images, map[string]any{
			"registryId": s.Account, "repositoryName": repo.Name,
			"imageId":                imageID{ImageDigest: got.digest, ImageTag: id.ImageTag},
			"imageManifest":          string(manifest),
			"imageManifestMediaType": got.mediaType,
		})
	}
	return map[string]any{"images": images, "failures": failures}, nil
}

// batchDeleteImage removes tags (an image goes with its last tag) or whole images by digest.
func (s *Sim) batchDeleteImage(r *http.Request, body []byte) (any, error) {
	in, repo, err := s.batch(body)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	deleted, failures := []imageID{}, []map[string]any{}
	for _, id := range in.ImageIDs {
		info, code, reason, err := s.resolve(r, repo.Name, id)
		if err != nil {
			return nil, err
		}
		if code != "" {
			failures = append(failures, failure(id, code, reason))
			continue
		}
		gone := true
		if id.ImageTag != "" {
			if err := s.deleteManifest(ctx, repo.Name, id.ImageTag); err != nil {
				return nil, err
			}
			tags, err := s.tags(ctx, repo.Name)
			if err != nil {
				return nil, err
			}
			left, err := s.tagged(ctx, repo.Name, tags)
			if err != nil {
				return nil, err
			}
			for _, m := range left {
				if m.digest == info.digest {
					gone = false // still tagged: only the tag went
				}
			}
		}
		if gone {
			if err := s.deleteManifest(ctx, repo.Name, info.digest); err != nil {
				return nil, err
			}
			s.mu.Lock()
			delete(repo.pushed, info.digest)
			s.mu.Unlock()
		}
		deleted = append(deleted, imageID{ImageDigest: info.digest, ImageTag: id.ImageTag})
	}
	return map[string]any{"imageIds": deleted, "failures": failures}, nil
}

// listTagged pages over the tags and reads only the page's manifests.
func (s *Sim) listTagged(r *http.Request, repo *Repository, p pageRequest) (any, error) {
	tags, err := s.tags(r.Context(), repo.Name)
	if err != nil {
		return nil, err
	}
	from, to, next, err := page(p, "ListImages", repo.Name+"\x00TAGGED", len(tags), 100, 1000)
	if err != nil {
		return nil, err
	}
	infos, err := s.tagged(r.Context(), repo.Name, tags[from:to])
	if err != nil {
		return nil, err
	}
	ids := []imageID{}
	for _, t := range tags[from:to] {
		if info, ok := infos[t]; ok {
			ids = append(ids, imageID{ImageDigest: info.digest, ImageTag: t})
		}
	}
	out := map[string]any{"imageIds": ids}
	if next != "" {
		out["nextToken"] = next
	}
	return out, nil
}
