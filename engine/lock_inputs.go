package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/airgap-charts/airgap-charts/config"
)

// lockInputs fingerprints, per addon, what decides its resolution and images: the addon
// (name, chart, repository, OCI namespace, version constraint, release, namespace,
// values), the overrides of its chart, and the destination and render settings. --latest
// is left out (a locked run does not resolve), and so are credentials. Keyed by addon name.
func lockInputs(opts Options, registry string) map[string]string {
	type addon struct {
		Name, Chart, Repository, OCINamespace, Version, Release, Namespace string
		Values                                                             map[string]any
		Overrides                                                          map[string]any
	}
	type inputs struct {
		Addon                            addon
		Registry, Prefix, Platform, Kube string
		IncludeDeps                      bool
	}
	out := make(map[string]string, len(opts.Addons))
	for _, a := range opts.Addons {
		in := inputs{Registry: registry, Prefix: opts.TargetPrefix, Platform: opts.Platform.String(), Kube: opts.KubeVersion, IncludeDeps: opts.IncludeDeps,
			Addon: addon{Name: a.Name(), Chart: a.Chart, Repository: config.RedactURLs(a.Repository), OCINamespace: a.OCINamespace,
				Version: a.Version, Release: a.Release, Namespace: a.Namespace, Values: a.Values, Overrides: opts.Overrides[a.Chart]}}
		// encoding/json writes map keys sorted: the same inputs give the same bytes.
		data, err := json.Marshal(in)
		if err != nil {
			// Values came from YAML: always marshalable. Should one not be, no entry matches it.
			out[a.Name()] = "unfingerprintable: " + err.Error()
			continue
		}
		sum := sha256.Sum256(data)
		out[a.Name()] = "sha256:" + hex.EncodeToString(sum[:])
	}
	return out
}
