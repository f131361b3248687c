package ecrsim

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
)

// ECR's OCI 1.1 referrers, as documented and as reported:
//   - GET /v2/<name>/referrers/<digest> lists the manifests pushed with that subject, with
//     the artifactType filter (OCI-Filters-Applied: artifactType).
//   - A manifest PUT carrying a subject is answered with OCI-Subject.
//   - A referrer whose subject is an image index is refused with 405 UNSUPPORTED when pushed
//     by digest, the way referrer-aware copies push it (aws/containers-roadmap#2783).
//
// Not verified against ECR itself: that the same manifest pushed under a tag is stored as an
// ordinary image (the simulator stores it, without the subject link), and ECR's paging of
// referrers listings (the simulator answers in one page).

// referrer is one manifest pushed with a subject, as the listing describes it.
type referrer struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

type pushedManifest struct {
	MediaType    string `json:"mediaType"`
	ArtifactType string `json:"artifactType"`
	Config       struct {
		MediaType string `json:"mediaType"`
	} `json:"config"`
	Annotations map[string]string `json:"annotations"`
	Subject     *struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
	} `json:"subject"`
}

func isIndexType(mt string) bool {
	return mt == "application/vnd.oci.image.index.v1+json" || mt == "application/vnd.docker.distribution.manifest.list.v2+json"
}

// referrersPath splits /v2/<name>/referrers/<digest>.
func referrersPath(p string) (repo, digest string, ok bool) {
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		return "", "", false
	}
	i := strings.LastIndex(rest, "/referrers/")
	if i <= 0 {
		return "", "", false
	}
	return rest[:i], rest[i+len("/referrers/"):], true
}

// serveReferrers answers the referrers API (after auth); false when r is another request.
func (s *Sim) serveReferrers(w http.ResponseWriter, r *http.Request) bool {
	repoName, digest, ok := referrersPath(r.URL.Path)
	if !ok {
		return false
	}
	if r.Method != http.MethodGet {
		registryError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "The referrers API answers GET only")
		return true
	}
	s.mu.Lock()
	repo := s.repos[repoName]
	var list []referrer
	if repo != nil {
		list = append(list, repo.referrers[digest]...)
	}
	s.mu.Unlock()
	if repo == nil {
		registryError(w, http.StatusNotFound, "NAME_UNKNOWN",
			fmt.Sprintf("The repository with name '%s' does not exist in the registry with id '%s'", repoName, s.Account))
		return true
	}
	if !digestPattern.MatchString(digest) {
		registryError(w, http.StatusBadRequest, "DIGEST_INVALID", "Invalid image digest")
		return true
	}
	if at := r.URL.Query().Get("artifactType"); at != "" {
		var kept []referrer
		for _, x := range list {
			if x.ArtifactType == at {
				kept = append(kept, x)
			}
		}
		list = kept
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Digest < list[j].Digest })
	if list == nil {
		list = []referrer{}
	}
	body, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": list})
	w.Header().Set("Content-Type", "application/vnd.oci.image.index.v1+json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	return true
}

// referrerPut reads a manifest PUT's body: a referrer of an index pushed by digest is
// refused (405); a referrer by digest is answered OCI-Subject. It returns the subject to
// record once the backend stored the manifest ("" for none) and whether to go on.
func (s *Sim) referrerPut(w http.ResponseWriter, r *http.Request) (subject string, rec referrer, ok bool) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		registryError(w, http.StatusBadRequest, "MANIFEST_INVALID", "reading manifest: "+err.Error())
		return "", referrer{}, false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	var m pushedManifest
	if json.Unmarshal(body, &m) != nil || m.Subject == nil {
		return "", referrer{}, true
	}
	ref := r.URL.Path[strings.LastIndex(r.URL.Path, "/manifests/")+len("/manifests/"):]
	if !digestPattern.MatchString(ref) {
		return "", referrer{}, true // under a tag: an ordinary image, no subject link
	}
	if isIndexType(m.Subject.MediaType) {
		registryError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "Invalid parameter at 'ImageManifest': a subject of media type "+m.Subject.MediaType+" is not supported")
		return "", referrer{}, false
	}
	sum := sha256.Sum256(body)
	at := m.ArtifactType
	if at == "" {
		at = m.Config.MediaType
	}
	mt := m.MediaType
	if mt == "" {
		mt = r.Header.Get("Content-Type")
	}
	w.Header().Set("OCI-Subject", m.Subject.Digest)
	return m.Subject.Digest, referrer{MediaType: mt, Digest: "sha256:" + hex.EncodeToString(sum[:]), Size: int64(len(body)),
		ArtifactType: at, Annotations: m.Annotations}, true
}

// recordReferrer lists a stored referrer under its subject.
func (s *Sim) recordReferrer(repo *Repository, subject string, rec referrer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if repo.referrers == nil {
		repo.referrers = map[string][]referrer{}
	}
	for _, x := range repo.referrers[subject] {
		if x.Digest == rec.Digest {
			return
		}
	}
	repo.referrers[subject] = append(repo.referrers[subject], rec)
}
