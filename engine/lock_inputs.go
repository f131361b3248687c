package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"

	"github.com/airgap-charts/airgap-charts/config"
)

// lockInputs fingerprints what decides a run's resolution and images: each addon (name,
// chart, repository, OCI namespace, version constraint, release, namespace, values), the
// overrides of their charts, and the destination and render settings. --latest is left
// out (a locked run does not resolve), and so are credentials.
func lockInputs(opts Options, registry string) string {
	type addon struct {
		Name, Chart, Repository, OCINamespace, Version, Release, Namespace string
		Values                                                             map[string]any
		Overrides                                                          map[string]any
	}
	in := struct {
		Addons                           []addon
		Registry, Prefix, Platform, Kube string
		IncludeDeps                      bool
	}{Registry: registry, Prefix: opts.TargetPrefix, Platform: opts.Platform.String(), Kube: opts.KubeVersion,
		IncludeDeps: opts.IncludeDeps}
	for _, a := range opts.Addons {
		in.Addons = append(in.Addons, addon{Name: a.Name(), Chart: a.Chart, Repository: config.RedactURLs(a.Repository), OCINamespace: a.OCINamespace,
			Version: a.Version, Release: a.Release, Namespace: a.Namespace, Values: a.Values, Overrides: opts.Overrides[a.Chart]})
	}
	sort.Slice(in.Addons, func(i, j int) bool { return in.Addons[i].Name < in.Addons[j].Name })
	// encoding/json writes map keys sorted: the same inputs give the same bytes.
	data, err := json.Marshal(in)
	if err != nil {
		// Values came from YAML: always marshalable. Should one not be, no lock matches it.
		return "unfingerprintable: " + err.Error()
	}
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}
