package auth

import (
	"github.com/airgap-charts/airgap-charts/config"

	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	dockerconfig "github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"
	"github.com/google/go-containerregistry/pkg/authn"
	ggcrtransport "github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// credentialLink is one source of credentials in the auth chain, with how to name where
// its credentials for a host came from (never the credentials themselves).
type credentialLink struct {
	keychain authn.Keychain
	origin   func(host string) string
}

// Chain asks its links in order; the first with credentials for a host wins
// (as authn.NewMultiKeychain does). It remembers, per host, where the credentials it gave
// came from, or that it found none, so that a refused request can say so.
type Chain struct {
	links []credentialLink

	mu    sync.Mutex
	tried map[string]string // host → origin; "" for none found
}

func (c *Chain) Resolve(res authn.Resource) (authn.Authenticator, error) {
	return c.ResolveContext(context.Background(), res)
}

// ResolveContext implements authn.ContextKeychain.
func (c *Chain) ResolveContext(ctx context.Context, res authn.Resource) (authn.Authenticator, error) {
	host := strings.ToLower(res.RegistryStr())
	for _, l := range c.links {
		a, err := authn.Resolve(ctx, l.keychain, res)
		if err != nil {
			return nil, err
		}
		if a != authn.Anonymous {
			c.record(host, l.origin(host))
			return a, nil
		}
	}
	c.record(host, "")
	return authn.Anonymous, nil
}

func (c *Chain) record(host, origin string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tried == nil {
		c.tried = map[string]string{}
	}
	c.tried[host] = origin
}

// origin is where the credentials used for host came from, "" when none were found; ok
// is false when host was never asked for.
func (c *Chain) origin(host string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o, ok := c.tried[strings.ToLower(host)]
	return o, ok
}

// Error is a registry's refusal (401, 403) of a request, saying which credentials
// were tried for its host and where they came from, or that none were found and how to
// give them. It never holds a secret.
type Error struct {
	Host   string
	Status int
	// Origin is where the credentials tried came from ("docker config /home/u/.docker/config.json");
	// empty when none were found.
	Origin string
	Err    error
}

func (e *Error) Error() string {
	refused := fmt.Sprintf("%s refused the request (%d %s)", e.Host, e.Status, http.StatusText(e.Status))
	var why string
	if e.Origin != "" {
		why = "credentials tried for " + e.Host + ": " + e.Origin + "; check that they are current and allowed this repository"
	} else {
		why = "no credentials were found for " + e.Host + ": give them with `docker login " + e.Host +
			"` (docker config.json or a credential helper), $REGISTRY_AUTH_FILE, `helm registry login " + e.Host +
			"`, or a credential flag (--dockerhub-username/--dockerhub-token, --public-ecr-password, --private-ecr-password)"
	}
	return e.Err.Error() + ": " + refused + "; " + why
}

func (e *Error) Unwrap() error { return e.Err }

// Explain turns a registry's 401 or 403 in err into an *Error naming the credentials the
// chain tried for that host; any other error is returned as it is.
func (c *Chain) Explain(err error) error {
	var te *ggcrtransport.Error
	var ae *Error
	if err == nil || errors.As(err, &ae) || !errors.As(err, &te) || te.Request == nil ||
		(te.StatusCode != http.StatusUnauthorized && te.StatusCode != http.StatusForbidden) {
		return err
	}
	host := te.Request.URL.Host
	origin, asked := "", false
	if c != nil {
		origin, asked = c.origin(host)
	}
	if !asked && te.StatusCode == http.StatusForbidden {
		return err // a host the chain never answered for (a blob store behind a redirect)
	}
	return &Error{Host: host, Status: te.StatusCode, Origin: origin, Err: err}
}

// dockerConfigOrigin names the file (and credential helper) go-containerregistry's
// default keychain reads host's credentials from: $DOCKER_CONFIG/config.json or
// ~/.docker/config.json, else $REGISTRY_AUTH_FILE, else podman's containers/auth.json.
func dockerConfigOrigin(host string) string {
	path, kind := dockerConfigPath()
	if path == "" {
		return kind
	}
	f, err := os.Open(path)
	if err != nil {
		return kind + " " + path
	}
	defer f.Close()
	cf, err := dockerconfig.LoadFromReader(f)
	if err != nil {
		return kind + " " + path
	}
	if h := helperFor(cf, host); h != "" {
		return "credential helper docker-credential-" + h + " (configured in " + kind + " " + path + ")"
	}
	return kind + " " + path
}

func helperFor(cf *configfile.ConfigFile, host string) string {
	if h := cf.CredentialHelpers[host]; h != "" {
		return h
	}
	if config.HostKey(host) == config.DockerHub {
		if h := cf.CredentialHelpers[authn.DefaultAuthKey]; h != "" {
			return h
		}
	}
	if _, inline := cf.AuthConfigs[host]; inline {
		return ""
	}
	return cf.CredentialsStore
}

// dockerConfigPath is the file the default keychain reads, in its order, and what kind of
// file it is; path "" when none.
func dockerConfigPath() (path, kind string) {
	const docker = "docker config"
	home, _ := os.UserHomeDir()
	if home != "" && fileExists(filepath.Join(home, ".docker", "config.json")) {
		if d := os.Getenv("DOCKER_CONFIG"); d != "" {
			return filepath.Join(d, "config.json"), docker
		}
		return filepath.Join(home, ".docker", "config.json"), docker
	}
	if d := os.Getenv("DOCKER_CONFIG"); d != "" && fileExists(filepath.Join(d, "config.json")) {
		return filepath.Join(d, "config.json"), docker
	}
	if p := os.Getenv("REGISTRY_AUTH_FILE"); p != "" && fileExists(filepath.Clean(p)) {
		return filepath.Clean(p), "$REGISTRY_AUTH_FILE"
	}
	configDir := os.Getenv("XDG_CONFIG_HOME")
	if configDir == "" && home != "" {
		configDir = filepath.Join(home, ".config")
	}
	podman := filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), "containers", "auth.json")
	if (os.Getenv("XDG_RUNTIME_DIR") == "" || !fileExists(podman)) && configDir != "" {
		podman = filepath.Join(configDir, "containers", "auth.json")
	}
	if fileExists(podman) {
		return podman, "containers auth file"
	}
	return "", docker
}

func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir()
}
