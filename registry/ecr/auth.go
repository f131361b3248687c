package ecr

import (
	"context"
	"encoding/base64"
	"fmt"
	"github.com/airgap-charts/airgap-charts/config"
	"strings"
	"sync"
	"time"

	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecrpublic"
	"github.com/google/go-containerregistry/pkg/authn"
)

// refreshBefore is how long before its expiry an ECR token (12 h) is replaced.
const refreshBefore = time.Hour

// ecrToken is a decoded authorization token; it never reaches a log, an error or a file.
type ecrToken struct {
	username, password string
	issued, expires    time.Time
}

// tokenSource caches one token and refreshes it before it expires; concurrent callers
// share one refresh.
type tokenSource struct {
	fetch func(ctx context.Context) (ecrToken, error)
	now   func() time.Time

	mu      sync.Mutex
	cur     *ecrToken
	refresh sync.Mutex // held by the one caller fetching
}

// fresh: more than an hour left, or for a token issued for less than two hours (never the
// case on ECR), more than half its life.
func (s *tokenSource) fresh(t *ecrToken) bool {
	if t == nil {
		return false
	}
	margin := min(refreshBefore, t.expires.Sub(t.issued)/2)
	return t.expires.Sub(s.now()) > margin
}

func (s *tokenSource) get(ctx context.Context) (ecrToken, error) {
	s.mu.Lock()
	if t := s.cur; s.fresh(t) {
		s.mu.Unlock()
		return *t, nil
	}
	s.mu.Unlock()
	s.refresh.Lock()
	defer s.refresh.Unlock()
	s.mu.Lock()
	if t := s.cur; s.fresh(t) { // another caller refreshed it while we waited
		s.mu.Unlock()
		return *t, nil
	}
	s.mu.Unlock()
	t, err := s.fetch(ctx)
	if err != nil {
		return ecrToken{}, err
	}
	s.mu.Lock()
	s.cur = &t
	s.mu.Unlock()
	return t, nil
}

func decodeToken(encoded string, issued time.Time, expires *time.Time) (ecrToken, error) {
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return ecrToken{}, fmt.Errorf("authorization token is not base64")
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok || user == "" || pass == "" {
		return ecrToken{}, fmt.Errorf("authorization token is not user:password")
	}
	t := ecrToken{username: user, password: pass, issued: issued, expires: issued.Add(12 * time.Hour)}
	if expires != nil {
		t.expires = *expires
	}
	return t, nil
}

func (e *Registry) fetchPrivateToken(ctx context.Context) (ecrToken, error) {
	issued := e.now()
	out, err := e.client.GetAuthorizationToken(ctx, &awsecr.GetAuthorizationTokenInput{})
	if err != nil {
		return ecrToken{}, fmt.Errorf("ECR GetAuthorizationToken: %w", err)
	}
	if len(out.AuthorizationData) == 0 || out.AuthorizationData[0].AuthorizationToken == nil {
		return ecrToken{}, fmt.Errorf("ECR GetAuthorizationToken: no authorization data")
	}
	d := out.AuthorizationData[0]
	t, err := decodeToken(*d.AuthorizationToken, issued, d.ExpiresAt)
	if err != nil {
		return ecrToken{}, fmt.Errorf("ECR GetAuthorizationToken: %w", err)
	}
	return t, nil
}

func (e *Registry) fetchPublicToken(ctx context.Context) (ecrToken, error) {
	issued := e.now()
	out, err := e.public.GetAuthorizationToken(ctx, &ecrpublic.GetAuthorizationTokenInput{})
	if err != nil {
		return ecrToken{}, fmt.Errorf("ECR Public GetAuthorizationToken: %w", err)
	}
	if out.AuthorizationData == nil || out.AuthorizationData.AuthorizationToken == nil {
		return ecrToken{}, fmt.Errorf("ECR Public GetAuthorizationToken: no authorization data")
	}
	t, err := decodeToken(*out.AuthorizationData.AuthorizationToken, issued, out.AuthorizationData.ExpiresAt)
	if err != nil {
		return ecrToken{}, fmt.Errorf("ECR Public GetAuthorizationToken: %w", err)
	}
	return t, nil
}

// Keychain answers the ECR registry (and any private ECR registry of the same region) with
// GetAuthorizationToken credentials, cached and refreshed when less than an hour is left;
// public.ecr.aws with an ECR Public token when AWS credentials exist, anonymous otherwise
// (or when ECR Public refuses them); every other host anonymous, so a keychain after it in
// a chain is asked.
func (e *Registry) Keychain() authn.Keychain { return ecrKeychain{e} }

type ecrKeychain struct{ e *Registry }

func (k ecrKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	return k.ResolveContext(context.Background(), r)
}

func (k ecrKeychain) ResolveContext(ctx context.Context, r authn.Resource) (authn.Authenticator, error) {
	e, host := k.e, r.RegistryStr()
	_, region, isECR := config.IsECRHost(host)
	switch {
	case host == e.registry || (isECR && region == e.region):
		if _, err := e.privateToken.get(ctx); err != nil {
			return nil, fmt.Errorf("credentials for %s: %w", host, err)
		}
		return &tokenAuthenticator{src: e.privateToken, host: host}, nil
	case config.IsECRPublicHost(host):
		if e.publicAnonymous(ctx) {
			return authn.Anonymous, nil
		}
		return &tokenAuthenticator{src: e.publicToken, host: host}, nil
	}
	return authn.Anonymous, nil
}

// publicAnonymous decides once per run whether public.ecr.aws is reached anonymously: no
// AWS credentials, or ECR Public refused the ones there are.
func (e *Registry) publicAnonymous(ctx context.Context) bool {
	e.mu.Lock()
	decided := e.publicAnon
	e.mu.Unlock()
	if decided != nil {
		return *decided
	}
	anon := !e.hasCredentials(ctx)
	if !anon {
		_, err := e.publicToken.get(ctx)
		anon = err != nil
	}
	e.mu.Lock()
	e.publicAnon = &anon
	e.mu.Unlock()
	return anon
}

func (e *Registry) hasCredentials(ctx context.Context) bool {
	if e.opts.AWSConfig.Credentials == nil {
		return false
	}
	c, err := e.opts.AWSConfig.Credentials.Retrieve(ctx)
	return err == nil && c.HasKeys()
}

// tokenAuthenticator hands out the current token, refreshing it as needed, on every
// request, so a long run never presents an expired one.
type tokenAuthenticator struct {
	src  *tokenSource
	host string
}

func (a *tokenAuthenticator) Authorization() (*authn.AuthConfig, error) {
	return a.AuthorizationContext(context.Background())
}

func (a *tokenAuthenticator) AuthorizationContext(ctx context.Context) (*authn.AuthConfig, error) {
	t, err := a.src.get(ctx)
	if err != nil {
		return nil, fmt.Errorf("credentials for %s: %w", a.host, err)
	}
	return &authn.AuthConfig{Username: t.username, Password: t.password}, nil
}
