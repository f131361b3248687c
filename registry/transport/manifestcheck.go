package transport

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"

	"go.uber.org/zap"
)

// maxManifestBytes bounds a manifest read (registries refuse larger ones, usually 4 MiB).
const maxManifestBytes = 16 << 20

// manifestCheck reads every manifest GET's body whole before handing it on: a body cut by
// a reset or a stall is fetched again (a GET is safe to repeat), and a body that does not
// match the digest the registry names for it (Docker-Content-Digest, or the digest asked
// for) is refused. go-containerregistry checks only manifests fetched by digest.
type manifestCheck struct {
	inner    http.RoundTripper
	attempts int
	log      *zap.Logger
}

func (m *manifestCheck) RoundTrip(req *http.Request) (*http.Response, error) {
	ref, isManifest := manifestRef(req)
	if req.Method != http.MethodGet || !isManifest {
		return m.inner.RoundTrip(req)
	}
	for attempt := 1; ; attempt++ {
		resp, err := m.inner.RoundTrip(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			return resp, err
		}
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, maxManifestBytes+1))
		resp.Body.Close()
		if rerr != nil {
			if attempt < m.attempts && RetryableError(rerr) && req.Context().Err() == nil {
				m.log.Debug("manifest body cut; fetching it again", zap.String("image", ref), zap.Int("attempt", attempt), zap.Error(rerr))
				continue
			}
			return nil, fmt.Errorf("read manifest of %s: %w", ref, rerr)
		}
		if len(body) > maxManifestBytes {
			return nil, fmt.Errorf("manifest of %s is larger than %d bytes", ref, maxManifestBytes)
		}
		if err := checkManifestDigest(ref, req, resp, body); err != nil {
			return nil, err
		}
		if err := sizePulls(req, resp, body); err != nil {
			return nil, fmt.Errorf("image %s: %w", ref, err)
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		return resp, nil
	}
}

// manifestRef is host/repository:ref (or @digest) of a manifest request.
func manifestRef(req *http.Request) (string, bool) {
	repo := RequestRepository(req.URL.Path)
	i := strings.LastIndex(req.URL.Path, "/manifests/")
	if repo == "" || i < 0 {
		return "", false
	}
	ref := req.URL.Path[i+len("/manifests/"):]
	sep := ":"
	if strings.Contains(ref, ":") {
		sep = "@"
	}
	return req.URL.Host + "/" + repo + sep + ref, true
}

// ManifestDigestError is a manifest whose body is not the one its registry names.
type ManifestDigestError struct {
	Image      string
	Want, Got  string
	FromHeader bool // Want came from Docker-Content-Digest, not from the reference
}

func (e *ManifestDigestError) Error() string {
	src := "the reference asks for"
	if e.FromHeader {
		src = "the registry says (Docker-Content-Digest)"
	}
	return fmt.Sprintf("manifest of %s refused: %s %s, but the body received is %s (altered in transit?)", e.Image, src, e.Want, e.Got)
}

func checkManifestDigest(ref string, req *http.Request, resp *http.Response, body []byte) error {
	sum := sha256.Sum256(body)
	got := "sha256:" + hex.EncodeToString(sum[:])
	asked := req.URL.Path[strings.LastIndex(req.URL.Path, "/manifests/")+len("/manifests/"):]
	if strings.HasPrefix(asked, "sha256:") && !strings.EqualFold(asked, got) {
		return &ManifestDigestError{Image: ref, Want: asked, Got: got}
	}
	if h := strings.TrimSpace(resp.Header.Get("Docker-Content-Digest")); strings.HasPrefix(h, "sha256:") && !strings.EqualFold(h, got) {
		return &ManifestDigestError{Image: ref, Want: h, Got: got, FromHeader: true}
	}
	return nil
}
