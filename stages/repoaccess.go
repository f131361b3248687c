package stages

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/airgap-charts/airgap-charts/registry"
)

// repoAccess is how the resolver and the fetcher reach chart repositories: repository
// mirrors, one HTTP client for verified hosts and one for insecure ones, per-repository
// basic auth for HTTP repositories, and the run's registry client for OCI ones.
type repoAccess struct {
	mirrors     map[string]string
	insecure    func(host string) bool
	oci         *registry.Client
	credentials func(repoURL string) (user, pass string, ok bool)
	secure      *http.Client
	unverified  *http.Client
}

func newRepoAccess(client *http.Client, mirrors map[string]string, insecure func(string) bool,
	oci *registry.Client, creds func(string) (string, string, bool)) (*repoAccess, error) {
	if client == nil {
		client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	if insecure == nil {
		insecure = func(string) bool { return false }
	}
	if creds == nil {
		creds = func(string) (string, string, bool) { return "", "", false }
	}
	// TLS verification can be switched off only on an *http.Transport; a custom
	// RoundTripper is used as it is for insecure hosts too.
	unverified := client
	if t, ok := transportOf(client).(*http.Transport); ok {
		t = t.Clone()
		if t.TLSClientConfig == nil {
			t.TLSClientConfig = &tls.Config{}
		}
		t.TLSClientConfig.InsecureSkipVerify = true //nolint:gosec // only for hosts the user marked insecure
		c := *client
		c.Transport = t
		unverified = &c
	}
	clean := map[string]string{}
	for from, to := range mirrors {
		if strings.TrimSpace(from) == "" || strings.TrimSpace(to) == "" {
			return nil, fmt.Errorf("repository mirror %q → %q: both sides must be URLs", from, to)
		}
		clean[strings.TrimRight(from, "/")] = strings.TrimRight(to, "/")
	}
	return &repoAccess{mirrors: clean, insecure: insecure, oci: oci, credentials: creds,
		secure: client, unverified: unverified}, nil
}

func transportOf(c *http.Client) http.RoundTripper {
	if c.Transport != nil {
		return c.Transport
	}
	return http.DefaultTransport
}

// mirror rewrites a repository or archive URL through the longest matching mirror prefix.
func (a *repoAccess) mirror(u string) string {
	best, bestTo := "", ""
	for from, to := range a.mirrors {
		if (u == from || strings.HasPrefix(u, from+"/")) && len(from) > len(best) {
			best, bestTo = from, to
		}
	}
	if best == "" {
		return u
	}
	return bestTo + strings.TrimPrefix(u, best)
}

// httpClient returns the client for a URL's host: TLS verification off only for hosts the
// user marked insecure.
func (a *repoAccess) httpClient(u *url.URL) *http.Client {
	if a.insecure(u.Host) {
		return a.unverified
	}
	return a.secure
}

// basicAuth finds credentials for the repository: first under the URL contacted (a mirror),
// then under the repository URL the chart names.
func (a *repoAccess) basicAuth(repoURLs ...string) (string, string, bool) {
	for _, u := range repoURLs {
		if u == "" {
			continue
		}
		if user, pass, ok := a.credentials(u); ok {
			return user, pass, true
		}
		if user, pass, ok := a.credentials(strings.TrimRight(u, "/")); ok {
			return user, pass, true
		}
	}
	return "", "", false
}

// get issues a GET and returns the body of a 200 answer, reading at most limit bytes
// (limit+1 read means too large). Credentials go only to the repository's own host.
func (a *repoAccess) get(ctx context.Context, rawURL, repoURL, origRepoURL string, limit int64) (io.ReadCloser, error) {
	resp, err := a.getConditional(ctx, rawURL, repoURL, origRepoURL, limit, nil)
	if err != nil {
		return nil, err
	}
	return resp.body, nil
}

// condResponse is the answer to a conditional GET: notModified (304, no body) or the
// body of a 200 answer with its headers.
type condResponse struct {
	notModified bool
	body        io.ReadCloser
	header      http.Header
}

// getConditional is get with extra request headers (If-None-Match, If-Modified-Since); a
// 304 answer is accepted only when cond is not empty.
func (a *repoAccess) getConditional(ctx context.Context, rawURL, repoURL, origRepoURL string, limit int64, cond http.Header) (condResponse, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return condResponse{}, fmt.Errorf("bad URL %q: %w", rawURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return condResponse{}, fmt.Errorf("URL %q: scheme %q is not http or https", redactURL(u), u.Scheme)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return condResponse{}, fmt.Errorf("GET %s: %w", redactURL(u), err)
	}
	for k, vs := range cond {
		req.Header[k] = vs
	}
	if ru, err := url.Parse(repoURL); err == nil && ru.Host == u.Host {
		if user, pass, ok := a.basicAuth(repoURL, origRepoURL); ok {
			req.SetBasicAuth(user, pass)
		}
	}
	resp, err := a.httpClient(u).Do(req)
	if err != nil {
		return condResponse{}, err // *url.Error names the URL (without a password)
	}
	switch {
	case resp.StatusCode == http.StatusNotModified && len(cond) > 0:
		resp.Body.Close()
		return condResponse{notModified: true, header: resp.Header}, nil
	case resp.StatusCode != http.StatusOK:
		resp.Body.Close()
		return condResponse{}, fmt.Errorf("GET %s: %s", redactURL(u), resp.Status)
	}
	return condResponse{body: &limitedBody{r: io.LimitReader(resp.Body, limit+1), c: resp.Body}, header: resp.Header}, nil
}

type limitedBody struct {
	r io.Reader
	c io.Closer
}

func (l *limitedBody) Read(p []byte) (int, error) { return l.r.Read(p) }
func (l *limitedBody) Close() error               { return l.c.Close() }

// redactURL drops any user info so that a password in a URL never reaches an error.
func redactURL(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}

// redact is redactURL for a string.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return redactURL(u)
}

// ociClient is the registry client for OCI chart repositories.
func (a *repoAccess) ociClient() (*registry.Client, error) {
	if a.oci == nil {
		return nil, fmt.Errorf("no registry client for OCI chart repositories")
	}
	return a.oci, nil
}

// splitOCI turns oci://host/path into host and path.
func splitOCI(repoURL string) (host, repoPath string, err error) {
	rest, ok := strings.CutPrefix(repoURL, "oci://")
	if !ok {
		return "", "", fmt.Errorf("repository %q is not oci://", repoURL)
	}
	rest = strings.Trim(rest, "/")
	host, repoPath, _ = strings.Cut(rest, "/")
	if host == "" {
		return "", "", fmt.Errorf("repository %q has no host", repoURL)
	}
	return host, repoPath, nil
}
