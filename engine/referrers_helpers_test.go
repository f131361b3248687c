package engine

import (
	"net/http"
	"strings"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// nonDiscovery drops referrer discovery from requests: HEADs of sha256-<hex>[.sig|.att|.sbom]
// tags and referrers API calls.
func nonDiscovery(rs []registrytest.Request) []registrytest.Request {
	var out []registrytest.Request
	for _, q := range rs {
		if isDiscovery(q) {
			continue
		}
		out = append(out, q)
	}
	return out
}

func isDiscovery(q registrytest.Request) bool {
	if q.Method == http.MethodGet && (strings.Contains(q.Path, "/referrers/") || strings.HasSuffix(q.Path, "/tags/list")) {
		return true
	}
	i := strings.LastIndex(q.Path, "/manifests/")
	return q.Method == http.MethodHead && i >= 0 && strings.HasPrefix(q.Path[i+len("/manifests/"):], "sha256-")
}
