package auth

import (
	"github.com/airgap-charts/airgap-charts/registry/once"
	"github.com/airgap-charts/airgap-charts/registry/transport"

	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrtransport "github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// scopedTransports are the authenticated transports of a host, each built once per scope
// key and kept; a failed build goes to the requests that waited for it, and is forgotten.
type scopedTransports = once.Keyed[string, http.RoundTripper]

// transportFor returns the transport for req: the inner one when the host asks for no
// credentials, one per host for Basic, one per repository scope and action for Bearer
// (a pull reuses the push token of its repository when there is one).
func (r *Router) transportFor(ctx context.Context, h *authHost, req *http.Request) (http.RoundTripper, error) {
	h.mu.Lock()
	c := h.challenge
	scoped := h.scoped
	h.mu.Unlock()
	if c == nil {
		return r.inner, nil
	}
	var key string
	var scopes []string
	if c.scheme == "bearer" {
		key, scopes = requestScope(req)
	}
	if rt, ok := scoped.Peek(key); ok {
		return rt, nil
	}
	if pull, ok := strings.CutSuffix(key, ":"+ggcrtransport.PullScope); ok {
		if rt, ok := scoped.Peek(pull + ":" + ggcrtransport.PushScope); ok {
			return rt, nil
		}
	}
	return scoped.Do(ctx, key, func(ctx context.Context) (http.RoundTripper, error) {
		return r.build(ctx, h, *c, scopes)
	})
}

// build authenticates to h for scopes: Basic credentials on every request, or a Bearer
// token exchanged once (go-containerregistry refreshes it on a later 401).
func (r *Router) build(ctx context.Context, h *authHost, c authChallenge, scopes []string) (http.RoundTripper, error) {
	h.mu.Lock()
	insecure := h.scheme == "http"
	h.mu.Unlock()
	var opts []name.Option
	if insecure {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(h.host, opts...)
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", h.host, err)
	}
	auth, err := r.authenticator(ctx, h, reg)
	if err != nil {
		return nil, err
	}
	pr := &ggcrtransport.Challenge{Scheme: c.scheme, Parameters: c.params, Insecure: insecure}
	if c.scheme != "bearer" {
		return ggcrtransport.FromToken(reg, auth, r.inner, pr, &ggcrtransport.Token{})
	}
	cfg, err := authn.Authorization(ctx, auth)
	if err != nil {
		return nil, fmt.Errorf("credentials for %s: %w", h.host, err)
	}
	tok := &ggcrtransport.Token{Token: cfg.RegistryToken}
	if tok.Token == "" {
		if tok, err = ggcrtransport.Exchange(ctx, reg, auth, r.inner, scopes, pr); err != nil {
			return nil, fmt.Errorf("token for %s (%s): %w", h.host, strings.Join(scopes, " "), err)
		}
		if tok.Token == "" {
			tok.Token = tok.AccessToken
		}
	}
	return ggcrtransport.FromToken(reg, auth, r.inner, pr, tok)
}

// authenticator resolves the host's credentials from the keychain once per run; a failure
// is not kept.
func (r *Router) authenticator(ctx context.Context, h *authHost, reg name.Registry) (authn.Authenticator, error) {
	h.mu.Lock()
	a := h.auth
	h.mu.Unlock()
	if a != nil {
		return a, nil
	}
	if r.keychain == nil {
		return authn.Anonymous, nil
	}
	a, err := authn.Resolve(ctx, r.keychain, reg)
	if err != nil {
		return nil, fmt.Errorf("credentials for %s: %w", h.host, err)
	}
	h.mu.Lock()
	h.auth = a
	h.mu.Unlock()
	return a, nil
}

// requestScope is the token scope a registry API request needs: pull for reads, push
// and pull for writes, plus pull on the source repository of a mount.
func requestScope(req *http.Request) (key string, scopes []string) {
	repo := transport.RequestRepository(req.URL.Path)
	if repo == "" {
		return "", nil
	}
	action := ggcrtransport.PullScope
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		action = ggcrtransport.PushScope
	}
	scopes = []string{"repository:" + repo + ":" + action}
	if from := req.URL.Query().Get("from"); from != "" && from != repo {
		scopes = append(scopes, "repository:"+from+":"+ggcrtransport.PullScope)
	}
	return strings.Join(scopes, " "), scopes
}
