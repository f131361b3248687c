package stages

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"
)

// clusterPolicy is the part of Kyverno's ClusterPolicy (kyverno.io/v1) the written policy
// must fill, defined here so that the test does not depend on Kyverno.
type clusterPolicy struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		ValidationFailureAction string `json:"validationFailureAction"`
		Rules                   []struct {
			Name  string `json:"name"`
			Match struct {
				Any []struct {
					Resources struct {
						Kinds []string `json:"kinds"`
					} `json:"resources"`
				} `json:"any"`
			} `json:"match"`
			VerifyImages []struct {
				ImageReferences []string `json:"imageReferences"`
				Attestors       []struct {
					Count   int `json:"count"`
					Entries []struct {
						Keys struct {
							PublicKeys string `json:"publicKeys"`
							Rekor      struct {
								IgnoreTlog bool `json:"ignoreTlog"`
							} `json:"rekor"`
						} `json:"keys"`
					} `json:"entries"`
				} `json:"attestors"`
			} `json:"verifyImages"`
		} `json:"rules"`
	} `json:"spec"`
}

// parseClusterPolicy reads a policy file into the struct above.
func parseClusterPolicy(t *testing.T, path string) clusterPolicy {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var p clusterPolicy
	if err := sigsyaml.Unmarshal(data, &p); err != nil {
		t.Fatalf("policy %s: %v", path, err)
	}
	return p
}

func TestWriteVerifyPolicy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	keys := [][]byte{[]byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), []byte("-----BEGIN PUBLIC KEY-----\nBBBB\n-----END PUBLIC KEY-----\n")}
	err := WriteVerifyPolicy(path, VerifyPolicy{Name: "airgap-verify-web", Repositories: []string{"reg.example/mirror/nginx", "reg.example/mirror/busybox"}, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	p := parseClusterPolicy(t, path)
	if p.APIVersion != "kyverno.io/v1" || p.Kind != "ClusterPolicy" || p.Metadata.Name != "airgap-verify-web" || p.Spec.ValidationFailureAction != "Enforce" {
		t.Fatalf("policy header: %+v", p)
	}
	if len(p.Spec.Rules) != 1 || len(p.Spec.Rules[0].VerifyImages) != 1 || p.Spec.Rules[0].Match.Any[0].Resources.Kinds[0] != "Pod" {
		t.Fatalf("rules: %+v", p.Spec.Rules)
	}
	vi := p.Spec.Rules[0].VerifyImages[0]
	refs := strings.Join(vi.ImageReferences, " ")
	for _, r := range []string{"reg.example/mirror/nginx:*", "reg.example/mirror/busybox@*"} {
		if !strings.Contains(refs, r) {
			t.Errorf("imageReferences %v lack %s", vi.ImageReferences, r)
		}
	}
	a := vi.Attestors[0]
	if a.Count != 1 || len(a.Entries) != 2 || a.Entries[1].Keys.PublicKeys != string(keys[1]) || !a.Entries[0].Keys.Rekor.IgnoreTlog {
		t.Errorf("attestors: %+v", a)
	}
	if err := WriteVerifyPolicy(path, VerifyPolicy{Name: "x"}); err == nil {
		t.Error("a policy without repositories or keys was written")
	}
}
