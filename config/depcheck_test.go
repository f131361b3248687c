package config

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps config light: it must not import Helm, Kubernetes or the image and
// cloud libraries, so that the CLI reports input errors without loading them. Only the
// standard library and the YAML and semver modules are allowed.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/airgap-charts/airgap-charts/config").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	allowed := []string{"gopkg.in/yaml.v3", "github.com/goccy/go-yaml", "github.com/Masterminds/semver/v3", "github.com/airgap-charts/airgap-charts/config"}
	forbidden := []string{"helm.sh/", "k8s.io/", "sigs.k8s.io/", "github.com/google/go-containerregistry", "github.com/aws/"}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps listed only %d packages: %q", len(deps), out)
	}
	for _, dep := range deps {
		for _, f := range forbidden {
			if strings.HasPrefix(dep, f) {
				t.Errorf("config depends on %s", dep)
			}
		}
		first := strings.SplitN(dep, "/", 2)[0]
		if !strings.Contains(first, ".") { // standard library
			continue
		}
		ok := false
		for _, a := range allowed {
			if dep == a || strings.HasPrefix(dep, a+"/") {
				ok = true
			}
		}
		if !ok {
			t.Errorf("config depends on %s, which is not on its allowed list", dep)
		}
	}
}
