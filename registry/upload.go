package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/airgap-charts/airgap-charts/registry/transport"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	ggcrtransport "github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func repoURL(repo name.Repository, path string) string {
	return repo.Scheme() + "://" + repo.RegistryStr() + "/v2/" + repo.RepositoryStr() + "/" + path
}

func do(ctx context.Context, hc *http.Client, method, u string, body io.Reader, hdr map[string]string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return hc.Do(req)
}

// headBlob reports whether repo holds the blob.
func headBlob(ctx context.Context, hc *http.Client, repo name.Repository, d v1.Hash) (bool, error) {
	resp, err := do(ctx, hc, http.MethodHead, repoURL(repo, "blobs/"+d.String()), nil, nil)
	if err != nil {
		return false, err
	}
	defer transport.Drain(resp)
	if resp.StatusCode == http.StatusNotFound {
		return false, nil
	}
	if err := ggcrtransport.CheckError(resp, http.StatusOK); err != nil {
		return false, err
	}
	return true, nil
}

// startUpload opens an upload session, or mounts d from the repository from when from is
// set. It returns mounted (201 naming the blob) or the location to upload to (202: a plain
// upload session, also what a registry that does not mount answers to a mount). A 201 to
// a mount that does not name the blob (an upload location, another digest, no location)
// is not a mount: mounted is false and loc empty.
func startUpload(ctx context.Context, hc *http.Client, repo name.Repository, d v1.Hash, from string) (loc string, mounted bool, err error) {
	u := repoURL(repo, "blobs/uploads/")
	if from != "" {
		u += "?" + url.Values{"mount": {d.String()}, "from": {from}}.Encode()
	}
	resp, err := do(ctx, hc, http.MethodPost, u, nil, map[string]string{"Content-Type": "application/json"})
	if err != nil {
		return "", false, err
	}
	defer transport.Drain(resp)
	if err := ggcrtransport.CheckError(resp, http.StatusCreated, http.StatusAccepted); err != nil {
		return "", false, err
	}
	if resp.StatusCode == http.StatusCreated {
		return "", from == "" || namesBlob(resp, d), nil
	}
	loc, err = nextLocation(resp)
	return loc, false, err
}

// namesBlob says whether a 201 answer to a mount is the mounted blob: its Location is the
// blob's (not an upload session) and its digest, when given, is d.
func namesBlob(resp *http.Response, d v1.Hash) bool {
	loc := resp.Header.Get("Location")
	if got := resp.Header.Get("Docker-Content-Digest"); got != "" && got != d.String() {
		return false
	}
	return loc != "" && !strings.Contains(loc, "/blobs/uploads/") && strings.Contains(loc, "/blobs/")
}

// refusedMount says whether a failed mount request is the registry refusing that mount (no
// access to the source repository, a blob it does not see there, mounts not understood):
// the blob is then uploaded instead, as go-containerregistry does. Throttling and server
// failures are not refusals: the transport has retried them already.
func refusedMount(err error) bool {
	var te *ggcrtransport.Error
	if !errors.As(err, &te) {
		return false
	}
	return te.StatusCode >= 400 && te.StatusCode < 500 && te.StatusCode != http.StatusTooManyRequests &&
		te.StatusCode != http.StatusRequestTimeout
}

func nextLocation(resp *http.Response) (string, error) {
	loc := resp.Header.Get("Location")
	if loc == "" {
		return "", errors.New("registry answered without a Location header")
	}
	u, err := url.Parse(loc)
	if err != nil {
		return "", err
	}
	return resp.Request.URL.ResolveReference(u).String(), nil
}

// uploadBlob streams body (size bytes, digest d) to an upload session with a PATCH and
// commits it with a PUT without body (the chunked upload, in one chunk).
func uploadBlob(ctx context.Context, hc *http.Client, loc string, body io.Reader, size int64, d v1.Hash) error {
	resp, err := sendStream(ctx, hc, http.MethodPatch, loc, body, size)
	if err != nil {
		return err
	}
	defer transport.Drain(resp)
	if err := ggcrtransport.CheckError(resp, http.StatusNoContent, http.StatusAccepted, http.StatusCreated); err != nil {
		return err
	}
	next, err := nextLocation(resp)
	if err != nil {
		return err
	}
	u, err := withDigest(next, d)
	if err != nil {
		return err
	}
	put, err := do(ctx, hc, http.MethodPut, u, nil, map[string]string{"Content-Type": "application/octet-stream"})
	if err != nil {
		return err
	}
	defer transport.Drain(put)
	return ggcrtransport.CheckError(put, http.StatusCreated)
}

// putBlob streams body (size bytes, digest d) with the PUT that completes the upload
// session: the monolithic upload, one round trip fewer than PATCH then PUT.
func putBlob(ctx context.Context, hc *http.Client, loc string, body io.Reader, size int64, d v1.Hash) error {
	u, err := withDigest(loc, d)
	if err != nil {
		return err
	}
	resp, err := sendStream(ctx, hc, http.MethodPut, u, body, size)
	if err != nil {
		return err
	}
	defer transport.Drain(resp)
	return ggcrtransport.CheckError(resp, http.StatusCreated)
}

// sendStream sends size bytes of body as a blob upload request. A stream cannot be
// replayed, so the transport does not retry it: the blob table retries the transfer.
func sendStream(ctx context.Context, hc *http.Client, method, u string, body io.Reader, size int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	req.ContentLength = size
	req.GetBody = nil
	req.Header.Set("Content-Type", "application/octet-stream")
	return hc.Do(req)
}

// withDigest adds ?digest=d to an upload location, keeping its own query.
func withDigest(loc string, d v1.Hash) (string, error) {
	u, err := url.Parse(loc)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("digest", d.String())
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// manifestAccept is what a manifest HEAD accepts: indexes and image manifests, OCI and
// Docker.
var manifestAccept = strings.Join([]string{string(types.OCIImageIndex), string(types.OCIManifestSchema1),
	string(types.DockerManifestList), string(types.DockerManifestSchema2)}, ",")

// headManifest is the descriptor ref (tag or digest) names in repo, from one HEAD; ok is
// false on 404. The one manifest HEAD of the client: preflight, source digests, chart
// checks, referrer tags, copies.
func headManifest(ctx context.Context, hc *http.Client, repo name.Repository, ref string) (v1.Descriptor, bool, error) {
	resp, err := do(ctx, hc, http.MethodHead, repoURL(repo, "manifests/"+ref), nil, map[string]string{"Accept": manifestAccept})
	if err != nil {
		return v1.Descriptor{}, false, err
	}
	defer transport.Drain(resp)
	if resp.StatusCode == http.StatusNotFound {
		return v1.Descriptor{}, false, nil
	}
	if err := ggcrtransport.CheckError(resp, http.StatusOK); err != nil {
		return v1.Descriptor{}, false, err
	}
	h, err := v1.NewHash(resp.Header.Get("Docker-Content-Digest"))
	if err != nil {
		return v1.Descriptor{}, false, fmt.Errorf("HEAD %s:%s: no digest in the answer: %w", repo, ref, err)
	}
	size, _ := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64)
	mt := types.MediaType(strings.TrimSpace(strings.Split(resp.Header.Get("Content-Type"), ";")[0]))
	return v1.Descriptor{Digest: h, Size: size, MediaType: mt}, true, nil
}

// putManifest uploads a manifest under ref (tag or digest) and returns its digest.
func putManifest(ctx context.Context, hc *http.Client, repo name.Repository, ref string, mt types.MediaType, raw []byte) (string, error) {
	resp, err := do(ctx, hc, http.MethodPut, repoURL(repo, "manifests/"+ref), bytes.NewReader(raw), map[string]string{"Content-Type": string(mt)})
	if err != nil {
		return "", err
	}
	defer transport.Drain(resp)
	if err := ggcrtransport.CheckError(resp, http.StatusOK, http.StatusCreated, http.StatusAccepted); err != nil {
		return "", err
	}
	h, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return "", err
	}
	if got := resp.Header.Get("Docker-Content-Digest"); got != "" && got != h.String() {
		return "", fmt.Errorf("registry stored manifest as %s, expected %s", got, h)
	}
	return h.String(), nil
}
