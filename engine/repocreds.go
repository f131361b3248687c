package engine

import (
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/airgap-charts/airgap-charts/config"
)

// addonPassword is the addon's chart repository password: its own, or its password_env's.
func addonPassword(a config.Addon) string {
	if a.Password == "" && a.PasswordEnv != "" {
		return os.Getenv(a.PasswordEnv)
	}
	return a.Password
}

// addonCredentials answers chart repository basic auth from the addons' own fields
// (username, password, password_env, or user:pass@ of the repository URL, which the
// config takes out of the URL) and from credentials of repository mirrors.
func addonCredentials(addons []config.Addon, mirrors map[string]Credential) func(string) (string, string, bool) {
	creds := map[string][2]string{}
	for u, c := range mirrors {
		creds[strings.TrimRight(u, "/")] = [2]string{c.Username, c.Password}
	}
	for _, a := range addons {
		pass := addonPassword(a)
		if a.Username != "" || pass != "" {
			creds[a.Repository] = [2]string{a.Username, pass}
		}
	}
	return func(repoURL string) (string, string, bool) {
		c, ok := creds[repoURL]
		return c[0], c[1], ok
	}
}

// repoKeychains are the credentials the addons give for their OCI chart repositories, per
// registry host: the registry client asks them before its own chain. A registry host has
// one set of credentials for the run, so they serve whatever else the run asks of that
// host too.
func repoKeychains(addons []config.Addon) []authn.Keychain {
	hosts := map[string]authn.AuthConfig{}
	for _, a := range addons {
		rest, ok := strings.CutPrefix(a.Repository, "oci://")
		pass := addonPassword(a)
		if !ok || (a.Username == "" && pass == "") {
			continue
		}
		host, _, _ := strings.Cut(rest, "/")
		hosts[strings.ToLower(host)] = authn.AuthConfig{Username: a.Username, Password: pass}
	}
	if len(hosts) == 0 {
		return nil
	}
	return []authn.Keychain{hostKeychain(hosts)}
}

// hostKeychain answers with fixed credentials per registry host.
type hostKeychain map[string]authn.AuthConfig

func (k hostKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if c, ok := k[strings.ToLower(r.RegistryStr())]; ok {
		return authn.FromConfig(c), nil
	}
	return authn.Anonymous, nil
}
