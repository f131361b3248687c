package registry

import (
	"github.com/airgap-charts/airgap-charts/registry/auth"

	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// authFile writes a docker-format config.json giving user:pass for host.
func authFile(t *testing.T, path, host, user, pass string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	if err := os.WriteFile(path, []byte(`{"auths":{"`+host+`":{"auth":"`+auth+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A registry that refuses the run: the error says which credentials were tried for the
// host and where they came from, or that there were none and how to give them; never the
// secret.
func TestRefusalNamesTheCredentialsTried(t *testing.T) {
	const secret = "wr0ng-S3CRET"
	cases := []struct {
		name   string
		setup  func(t *testing.T, host string)
		origin func(t *testing.T) string // "" : none found
	}{
		{"none", func(*testing.T, string) {}, nil},
		{"docker config", func(t *testing.T, host string) {
			dir := t.TempDir()
			authFile(t, filepath.Join(dir, "config.json"), host, "u", secret)
			t.Setenv("DOCKER_CONFIG", dir)
		}, func(t *testing.T) string {
			return "docker config " + filepath.Join(os.Getenv("DOCKER_CONFIG"), "config.json")
		}},
		{"REGISTRY_AUTH_FILE", func(t *testing.T, host string) {
			p := filepath.Join(t.TempDir(), "auth.json")
			authFile(t, p, host, "u", secret)
			t.Setenv("REGISTRY_AUTH_FILE", p)
		}, func(t *testing.T) string { return "$REGISTRY_AUTH_FILE " + os.Getenv("REGISTRY_AUTH_FILE") }},
		{"helm registry login", func(t *testing.T, host string) {
			p := filepath.Join(t.TempDir(), "helm", "registry", "config.json")
			authFile(t, p, host, "u", secret)
			t.Setenv("HELM_REGISTRY_CONFIG", p)
		}, func(t *testing.T) string { return "helm registry login (" + os.Getenv("HELM_REGISTRY_CONFIG") + ")" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := registrytest.New(t)
			pushImage(t, src.Host+"/team/app:1", platformImage(t, "linux", "amd64"))
			basicFront(src, "u", "right-pass")
			t.Setenv("HOME", t.TempDir())
			t.Setenv("DOCKER_CONFIG", t.TempDir())
			t.Setenv("REGISTRY_AUTH_FILE", "")
			t.Setenv("HELM_REGISTRY_CONFIG", filepath.Join(t.TempDir(), "none.json"))
			c := newTestClient(t, ClientOptions{})
			tc.setup(t, src.Host) // credentials are looked up when first needed
			_, err := c.GetManifest(context.Background(), MustParseImageRef(src.Host+"/team/app:1"))
			var ae *auth.Error
			if !errors.As(err, &ae) {
				t.Fatalf("refused request: %v, want an auth.Error", err)
			}
			msg := err.Error()
			if strings.Contains(msg, secret) || strings.Contains(msg, base64.StdEncoding.EncodeToString([]byte("u:"+secret))) {
				t.Errorf("the secret is in the message: %s", msg)
			}
			if tc.origin == nil {
				for _, want := range []string{"no credentials were found for " + src.Host, "docker login " + src.Host, "$REGISTRY_AUTH_FILE", "helm registry login " + src.Host} {
					if !strings.Contains(msg, want) {
						t.Errorf("message lacks %q: %s", want, msg)
					}
				}
				return
			}
			if want := "credentials tried for " + src.Host + ": " + tc.origin(t); !strings.Contains(msg, want) || ae.Origin != tc.origin(t) {
				t.Errorf("message:\n %s\nwant it to say\n %s", msg, want)
			}
		})
	}
}

// Credentials saved by helm registry login reach an OCI registry docker knows nothing of.
func TestHelmRegistryLoginCredentialsAreUsed(t *testing.T) {
	src := registrytest.New(t)
	pushImage(t, src.Host+"/charts/web:1.0.0", platformImage(t, "linux", "amd64"))
	log := basicFront(src, "robot", "helm-pass")
	t.Setenv("HOME", t.TempDir())
	p := filepath.Join(t.TempDir(), "registry", "config.json")
	authFile(t, p, src.Host, "robot", "helm-pass")
	t.Setenv("HELM_REGISTRY_CONFIG", p)
	c := newTestClient(t, ClientOptions{})
	if _, err := c.GetManifest(context.Background(), MustParseImageRef(src.Host+"/charts/web:1.0.0")); err != nil {
		t.Fatalf("with helm registry login's credentials: %v", err)
	}
	if log.authorized == 0 {
		t.Error("the registry saw no authorized request")
	}
	// Helm's default place, under HELM_CONFIG_HOME.
	t.Setenv("HELM_REGISTRY_CONFIG", "")
	home := t.TempDir()
	t.Setenv("HELM_CONFIG_HOME", home)
	if got, want := auth.HelmRegistryConfigPath(), filepath.Join(home, "registry", "config.json"); got != want {
		t.Errorf("helm registry config path %s, want %s", got, want)
	}
}
