package auth

import (
	"testing"

	"github.com/airgap-charts/airgap-charts/registry/transport"
)

func TestParseChallenge(t *testing.T) {
	c, ok := parseChallenge(`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull,push", error=insufficient_scope`)
	if !ok || c.scheme != "bearer" || c.params["realm"] != "https://auth.docker.io/token" ||
		c.params["service"] != "registry.docker.io" || c.params["scope"] != "repository:library/nginx:pull,push" ||
		c.params["error"] != "insufficient_scope" {
		t.Fatalf("parsed %+v", c)
	}
	c, ok = parseChallenge(`Basic realm="a \"quoted\" realm"`)
	if !ok || c.scheme != "basic" || c.params["realm"] != `a "quoted" realm` {
		t.Fatalf("parsed %+v", c)
	}
	for path, want := range map[string]string{
		"/v2/":                                 "",
		"/v2/a/b/manifests/1":                  "a/b",
		"/v2/a/blobs/uploads/123":              "a",
		"/v2/x/manifests/y/blobs/sha256:ab":    "x/manifests/y",
		"/v2/lib/tags/list":                    "lib",
		"/token":                               "",
		"/v2/team/app/referrers/sha256:0a1b2c": "team/app",
	} {
		if got := transport.RequestRepository(path); got != want {
			t.Errorf("transport.RequestRepository(%q) = %q, want %q", path, got, want)
		}
	}
}
