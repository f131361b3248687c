package stages

import (
	"fmt"
	"github.com/airgap-charts/airgap-charts/config"

	sigsyaml "sigs.k8s.io/yaml"
)

// VerifyPolicy is a Kyverno ClusterPolicy that admits Pods using the mirrored images only
// when their cosign signatures verify against the keys the mirror verified them with.
type VerifyPolicy struct {
	Name string
	// Repositories are the private repositories (host/path) the images were mirrored to.
	Repositories []string
	// Keys are PEM public keys; a signature by any one of them is enough.
	Keys [][]byte
}

const verifyPolicyHeader = `# Kyverno ClusterPolicy written by airgap-charts: Pods may run the mirrored images only
# when their signatures (copied with them) verify against the key(s) the mirror checked.
# Air-gapped: no transparency log or certificate timestamps are consulted.
`

// verifyPolicyDoc is the policy as Kyverno's kyverno.io/v1 ClusterPolicy schema names it.
func verifyPolicyDoc(p VerifyPolicy) map[string]any {
	var refs []string
	for _, r := range p.Repositories {
		refs = append(refs, r+":*", r+"@*")
	}
	var entries []any
	for _, k := range p.Keys {
		entries = append(entries, map[string]any{"keys": map[string]any{
			"publicKeys": string(k),
			"rekor":      map[string]any{"ignoreTlog": true},
			"ctlog":      map[string]any{"ignoreSCT": true},
		}})
	}
	return map[string]any{
		"apiVersion": "kyverno.io/v1",
		"kind":       "ClusterPolicy",
		"metadata": map[string]any{
			"name":        p.Name,
			"annotations": map[string]any{"policies.kyverno.io/title": "Verify the signatures of mirrored images"},
		},
		"spec": map[string]any{
			"validationFailureAction": "Enforce",
			"background":              false,
			"webhookTimeoutSeconds":   30,
			"rules": []any{map[string]any{
				"name":  "verify-signatures",
				"match": map[string]any{"any": []any{map[string]any{"resources": map[string]any{"kinds": []string{"Pod"}}}}},
				"verifyImages": []any{map[string]any{
					"imageReferences": refs,
					"mutateDigest":    false,
					"verifyDigest":    false,
					"required":        true,
					"attestors":       []any{map[string]any{"count": 1, "entries": entries}},
				}},
			}},
		},
	}
}

// WriteVerifyPolicy writes the policy to path (atomically).
func WriteVerifyPolicy(path string, p VerifyPolicy) error {
	if len(p.Repositories) == 0 || len(p.Keys) == 0 {
		return fmt.Errorf("verification policy %s: no repository or no key", path)
	}
	b, err := sigsyaml.Marshal(verifyPolicyDoc(p))
	if err != nil {
		return fmt.Errorf("verification policy %s: %w", path, err)
	}
	return config.WriteFileAtomic(path, append([]byte(verifyPolicyHeader), b...), 0o644)
}
