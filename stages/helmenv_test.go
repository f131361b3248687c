package stages

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
	"github.com/airgap-charts/airgap-charts/stages/chartrepotest"
)

// staticKeychain answers every registry with one username and password.
type staticKeychain struct{ user, pass string }

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return &authn.Basic{Username: k.user, Password: k.pass}, nil
}

// requireBasicAuth puts basic auth in front of a registrytest registry.
func requireBasicAuth(reg *registrytest.Registry, user, pass string) {
	reg.Intercept(func(w http.ResponseWriter, req *http.Request) bool {
		if u, p, ok := req.BasicAuth(); ok && u == user && p == pass {
			return false
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="registrytest"`)
		http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
		return true
	})
}

// fakeHome points every place Helm and Docker look for user state at an empty directory.
func fakeHome(t *testing.T) string {
	home := t.TempDir()
	for _, k := range []string{"HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME",
		"HELM_CONFIG_HOME", "HELM_CACHE_HOME", "HELM_DATA_HOME", "HELM_REGISTRY_CONFIG", "DOCKER_CONFIG"} {
		t.Setenv(k, home)
	}
	return home
}

func TestHelmSandboxRegistryClientUsesKeychainOnly(t *testing.T) {
	home := fakeHome(t)
	reg := registrytest.New(t)
	requireBasicAuth(reg, "robot", "pw-from-keychain")
	insecure := func(h string) bool { return h == reg.Host }

	sb, err := NewHelmSandbox(HelmSandboxOptions{Keychain: staticKeychain{"robot", "pw-from-keychain"}, Insecure: insecure, HTTPClient: loopbackClient()})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{sb.RegistryConfig, sb.RepositoryConfig, sb.RepositoryCache} {
		if _, err := os.Stat(p); err != nil || !strings.HasPrefix(p, sb.Dir) {
			t.Errorf("sandbox path %s: %v", p, err)
		}
	}
	client, err := sb.RegistryClient(reg.Host)
	if err != nil {
		t.Fatal(err)
	}
	archive, md := chartrepotest.Package(t, chartrepotest.Corpus(t, "metrics-server"))
	data, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	ref := reg.Host + "/charts/metrics-server:" + md.Version
	if _, err := client.Push(data, ref); err != nil {
		t.Fatalf("push with keychain credentials: %v", err)
	}
	tags, err := client.Tags(reg.Host + "/charts/metrics-server")
	if err != nil || !slices.Contains(tags, md.Version) {
		t.Fatalf("tags %v: %v", tags, err)
	}
	pulled, err := client.Pull(ref)
	if err != nil || pulled.Chart == nil || string(pulled.Chart.Data) != string(data) {
		t.Fatalf("pull: %v", err)
	}

	wrong, err := NewHelmSandbox(HelmSandboxOptions{Keychain: staticKeychain{"robot", "nope"}, Insecure: insecure})
	if err != nil {
		t.Fatal(err)
	}
	defer wrong.Close()
	wc, err := wrong.RegistryClient(reg.Host)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wc.Tags(reg.Host + "/charts/metrics-server"); err == nil {
		t.Error("wrong keychain credentials accepted")
	}

	dir := sb.Dir
	if err := sb.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("sandbox %s left behind: %v", dir, err)
	}
	var touched []string
	_ = filepath.WalkDir(home, func(p string, _ os.DirEntry, _ error) error {
		if p != home {
			touched = append(touched, p)
		}
		return nil
	})
	if len(touched) != 0 {
		t.Errorf("user Helm/Docker home touched: %v", touched)
	}
}

func TestHelmSandboxKeepsGivenDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run", "helm")
	sb, err := NewHelmSandbox(HelmSandboxOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if sb.RegistryConfig != filepath.Join(dir, "registry", "config.json") {
		t.Errorf("registry config %s", sb.RegistryConfig)
	}
	if err := sb.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sb.RepositoryConfig); err != nil {
		t.Errorf("a given sandbox dir was removed: %v", err)
	}
}
