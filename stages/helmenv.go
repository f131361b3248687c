package stages

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"helm.sh/helm/v3/pkg/registry"
	"helm.sh/helm/v3/pkg/repo"
	"oras.land/oras-go/v2/registry/remote/auth"
)

// HelmSandboxOptions configures a HelmSandbox. Every field may be left zero.
type HelmSandboxOptions struct {
	// Dir is the sandbox directory, created if missing and left in place by Close; empty: a
	// new temporary directory that Close removes.
	Dir string
	// Keychain gives registry credentials to Helm's registry client; nil: anonymous.
	Keychain authn.Keychain
	// Insecure says which registry hosts are reached over plain HTTP; nil: none.
	Insecure func(host string) bool
	// HTTPClient carries the registry client's requests; nil: Helm's default transport.
	HTTPClient *http.Client
}

// HelmSandbox is a run's Helm state: registry configuration, repository configuration and
// caches in a directory of its own, so Helm never reads or writes the user's Helm home,
// Docker credential store or OS keyring. Registry credentials come from a
// go-containerregistry keychain instead.
type HelmSandbox struct {
	// Dir holds everything below.
	Dir string
	// RegistryConfig is an empty registry credentials file (Helm's registry/config.json).
	RegistryConfig string
	// RepositoryConfig is an empty repositories.yaml.
	RepositoryConfig string
	// RepositoryCache is where Helm-style caches (index files) go.
	RepositoryCache string

	opts   HelmSandboxOptions
	remove bool
}

// NewHelmSandbox creates the sandbox files.
func NewHelmSandbox(opts HelmSandboxOptions) (*HelmSandbox, error) {
	dir, remove := opts.Dir, false
	if dir == "" {
		d, err := os.MkdirTemp("", "airgap-charts-helm-*")
		if err != nil {
			return nil, fmt.Errorf("helm sandbox: %w", err)
		}
		dir, remove = d, true
	}
	if opts.Keychain == nil {
		opts.Keychain = authn.NewMultiKeychain()
	}
	if opts.Insecure == nil {
		opts.Insecure = func(string) bool { return false }
	}
	s := &HelmSandbox{
		Dir:              dir,
		RegistryConfig:   filepath.Join(dir, "registry", "config.json"),
		RepositoryConfig: filepath.Join(dir, "repositories.yaml"),
		RepositoryCache:  filepath.Join(dir, "repository"),
		opts:             opts,
		remove:           remove,
	}
	for _, d := range []string{filepath.Dir(s.RegistryConfig), s.RepositoryCache} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("helm sandbox: %w", err)
		}
	}
	if err := os.WriteFile(s.RegistryConfig, []byte(`{"auths":{}}`), 0o600); err != nil {
		return nil, fmt.Errorf("helm sandbox: %w", err)
	}
	if err := repo.NewFile().WriteFile(s.RepositoryConfig, 0o600); err != nil {
		return nil, fmt.Errorf("helm sandbox: %w", err)
	}
	return s, nil
}

// Close removes the sandbox directory when NewHelmSandbox created it.
func (s *HelmSandbox) Close() error {
	if !s.remove {
		return nil
	}
	return os.RemoveAll(s.Dir)
}

// RegistryClient is a Helm registry client for one registry host: credentials from the
// sandbox's keychain (never a credentials file or a native store), plain HTTP when the host
// is insecure. Helm's client takes no context; prefer go-containerregistry where one is
// needed.
func (s *HelmSandbox) RegistryClient(host string) (*registry.Client, error) {
	httpClient := s.opts.HTTPClient
	if httpClient == nil {
		httpClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	authorizer := auth.Client{
		Client:     httpClient,
		Cache:      auth.NewCache(),
		Credential: keychainCredential(s.opts.Keychain),
	}
	opts := []registry.ClientOption{
		registry.ClientOptCredentialsFile(s.RegistryConfig),
		registry.ClientOptHTTPClient(httpClient),
		registry.ClientOptAuthorizer(authorizer),
	}
	if s.opts.Insecure(host) {
		opts = append(opts, registry.ClientOptPlainHTTP())
	}
	c, err := registry.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("helm registry client for %s: %w", host, err)
	}
	return c, nil
}

// keychainCredential answers ORAS's credential requests from a go-containerregistry keychain.
func keychainCredential(kc authn.Keychain) auth.CredentialFunc {
	return func(ctx context.Context, hostport string) (auth.Credential, error) {
		if kc == nil {
			return auth.EmptyCredential, nil
		}
		reg, err := name.NewRegistry(hostport, name.WeakValidation)
		if err != nil {
			return auth.EmptyCredential, fmt.Errorf("registry %q: %w", hostport, err)
		}
		a, err := authn.Resolve(ctx, kc, reg)
		if err != nil {
			return auth.EmptyCredential, fmt.Errorf("credentials for %s: %w", hostport, err)
		}
		cfg, err := authn.Authorization(ctx, a)
		if err != nil {
			return auth.EmptyCredential, fmt.Errorf("credentials for %s: %w", hostport, err)
		}
		return auth.Credential{
			Username:     cfg.Username,
			Password:     cfg.Password,
			RefreshToken: cfg.IdentityToken,
			AccessToken:  cfg.RegistryToken,
		}, nil
	}
}
