package auth

import (
	"github.com/airgap-charts/airgap-charts/config"
	"os"
	"path/filepath"
	"sync"

	dockerconfig "github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
)

// HelmRegistryConfigPath is the file `helm registry login` saves credentials in:
// $HELM_REGISTRY_CONFIG, else registry/config.json under Helm's configuration home
// ($HELM_CONFIG_HOME, else $XDG_CONFIG_HOME/helm, else ~/.config/helm).
func HelmRegistryConfigPath() string {
	if p := os.Getenv("HELM_REGISTRY_CONFIG"); p != "" {
		return p
	}
	if h := os.Getenv("HELM_CONFIG_HOME"); h != "" {
		return filepath.Join(h, "registry", "config.json")
	}
	if x := os.Getenv("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "helm", "registry", "config.json")
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return ""
	}
	return filepath.Join(home, ".config", "helm", "registry", "config.json")
}

// helmKeychain answers with the credentials `helm registry login` saved (the file is in
// docker's config.json format; a credsStore or credHelpers entry in it is used as docker
// would). The file is found and read once, on first use; a missing file means no
// credentials.
type helmKeychain struct {
	path string
	once sync.Once
	cf   interface {
		GetAuthConfig(string) (types.AuthConfig, error)
	}
}

func (k *helmKeychain) Resolve(res authn.Resource) (authn.Authenticator, error) {
	k.once.Do(func() {
		k.path = HelmRegistryConfigPath()
		if k.path == "" || !fileExists(k.path) {
			return
		}
		f, err := os.Open(k.path)
		if err != nil {
			return
		}
		defer f.Close()
		if cf, err := dockerconfig.LoadFromReader(f); err == nil {
			cf.Filename = k.path
			k.cf = cf
		}
	})
	if k.cf == nil {
		return authn.Anonymous, nil
	}
	host := res.RegistryStr()
	for _, key := range []string{host, "https://" + host, "http://" + host} {
		ac, err := k.cf.GetAuthConfig(key)
		if err != nil {
			return nil, err
		}
		if ac.Username != "" || ac.Password != "" || ac.IdentityToken != "" || ac.RegistryToken != "" || ac.Auth != "" {
			return authn.FromConfig(authn.AuthConfig{Username: ac.Username, Password: ac.Password, Auth: ac.Auth,
				IdentityToken: ac.IdentityToken, RegistryToken: ac.RegistryToken}), nil
		}
	}
	return authn.Anonymous, nil
}

// flagOrigin names the flag whose credentials flagKeychain gives host.
func flagOrigin(host string) string {
	switch {
	case config.HostKey(host) == config.DockerHub:
		return "--dockerhub-username/--dockerhub-token (or $DOCKERHUB_USERNAME/$DOCKERHUB_TOKEN)"
	case host == "public.ecr.aws":
		return "--public-ecr-password (or $ECR_PUBLIC_PASSWORD)"
	default:
		return "--private-ecr-password (or $ECR_PRIVATE_PASSWORD)"
	}
}

// origin names the file the credentials came from.
func (k *helmKeychain) origin(string) string { return "helm registry login (" + k.path + ")" }
