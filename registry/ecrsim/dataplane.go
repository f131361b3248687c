package ecrsim

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// serveRegistry is the data plane: ECR's rules in front of the real registry.
func (s *Sim) serveRegistry(w http.ResponseWriter, r *http.Request) {
	rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	kind, repoName := registrytest.Classify(r)
	// Recorded as it arrives, its status filled in once answered: the client may have read
	// the whole answer before this handler returns, and a count never lags behind it.
	s.mu.Lock()
	intercept, gen, i := s.intercept, s.generation, len(s.requests)
	s.requests = append(s.requests, registrytest.Request{Kind: kind, Method: r.Method, Path: r.URL.Path, Repository: repoName})
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if gen == s.generation {
			s.requests[i].Status = rec.status
		}
		s.mu.Unlock()
	}()
	if intercept != nil && intercept(rec, r) {
		return
	}
	if !s.authorize(rec, r) {
		return
	}
	if s.serveReferrers(rec, r) {
		return
	}
	var repo *Repository
	if repoName != "" {
		s.mu.Lock()
		repo = s.repos[repoName]
		s.mu.Unlock()
		if repo == nil && isPush(kind) && s.createOnPush(repoName) {
			s.mu.Lock()
			repo = s.repos[repoName]
			s.mu.Unlock()
		}
		if repo == nil {
			registryError(rec, http.StatusNotFound, "NAME_UNKNOWN",
				fmt.Sprintf("The repository with name '%s' does not exist in the registry with id '%s'", repoName, s.Account))
			return
		}
	}
	var subject string
	var refRec referrer
	switch kind {
	case registrytest.Mount:
		if !s.BlobMounting() {
			// ECR ignores mount requests unless BLOB_MOUNTING is ENABLED: an upload session.
			q := r.URL.Query()
			q.Del("mount")
			q.Del("from")
			r.URL.RawQuery = q.Encode()
		}
	case registrytest.ManifestPut:
		if !s.manifestPutAllowed(rec, r, repo) {
			return
		}
		var ok bool
		if subject, refRec, ok = s.referrerPut(rec, r); !ok {
			return
		}
	}
	s.proxy.ServeHTTP(rec, r)
	if subject != "" && rec.status == http.StatusCreated {
		s.recordReferrer(repo, subject, refRec)
	}
	if kind == registrytest.ManifestPut && rec.status == http.StatusCreated {
		if d := rec.Header().Get("Docker-Content-Digest"); d != "" {
			s.mu.Lock()
			repo.pushed[d] = time.Now()
			s.mu.Unlock()
		}
	}
}

func isPush(k registrytest.Kind) bool {
	switch k {
	case registrytest.ManifestPut, registrytest.UploadStart, registrytest.UploadChunk, registrytest.UploadEnd, registrytest.Mount:
		return true
	}
	return false
}

// authorize checks Basic AWS:<token> from GetAuthorizationToken, answering as ECR does:
// 401 with a Basic challenge without valid credentials, 403 DENIED for an expired token.
func (s *Sim) authorize(w http.ResponseWriter, r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if ok && user == "AWS" {
		s.mu.Lock()
		exp, known := s.tokens[pass]
		s.mu.Unlock()
		switch {
		case known && time.Now().Before(exp):
			return true
		case known:
			registryError(w, http.StatusForbidden, "DENIED", "Your authorization token has expired. Reauthenticate and try again.")
			return false
		}
	}
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Basic realm="https://%s/",service="ecr.amazonaws.com"`, s.Host))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = io.WriteString(w, "Not Authorized\n")
	return false
}

// manifestPutAllowed refuses to move a tag of an IMMUTABLE repository to another digest
// (a re-push of the same manifest passes).
func (s *Sim) manifestPutAllowed(w http.ResponseWriter, r *http.Request, repo *Repository) bool {
	s.mu.Lock()
	immutable := repo.ImageTagMutability == "IMMUTABLE"
	s.mu.Unlock()
	ref := r.URL.Path[strings.LastIndex(r.URL.Path, "/manifests/")+len("/manifests/"):]
	if !immutable || digestPattern.MatchString(ref) {
		return true
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		registryError(w, http.StatusBadRequest, "MANIFEST_INVALID", "reading manifest: "+err.Error())
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	sum := sha256.Sum256(body)
	_, info, exists, err := s.manifest(r.Context(), repo.Name, ref, nil, false)
	if err != nil {
		registryError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
		return false
	}
	if exists && info.digest != "sha256:"+hex.EncodeToString(sum[:]) {
		registryError(w, http.StatusBadRequest, "TAG_INVALID",
			fmt.Sprintf("The image tag '%s' already exists in the '%s' repository and cannot be overwritten because the repository is immutable.", ref, repo.Name))
		return false
	}
	return true
}

func registryError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": code, "message": message}}})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
