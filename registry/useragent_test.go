package registry

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// seenRequest is a request as a registry saw it, with its User-Agent.
type seenRequest struct{ method, path, userAgent string }

// userAgents records the User-Agent of every request reg answers.
func userAgents(reg *registrytest.Registry) func() []seenRequest {
	var mu sync.Mutex
	var seen []seenRequest
	reg.Intercept(func(_ http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		seen = append(seen, seenRequest{r.Method, r.URL.Path, r.Header.Get("User-Agent")})
		mu.Unlock()
		return false
	})
	return func() []seenRequest {
		mu.Lock()
		defer mu.Unlock()
		return append([]seenRequest(nil), seen...)
	}
}

// Every request a client sends, go-containerregistry's copy and the plain HTTP client
// alike, carries User-Agent airgap-charts/VERSION (or the one the options name).
func TestRequestsCarryTheUserAgent(t *testing.T) {
	for _, c := range []struct{ name, opt, want string }{
		{"default", "", "airgap-charts/" + Build().Version},
		{"from the options", "airgap-charts/v9.9.9-test", "airgap-charts/v9.9.9-test"},
	} {
		t.Run(c.name, func(t *testing.T) {
			src, dst := registrytest.New(t), registrytest.New(t)
			idx, _, _ := multiArch(t)
			pushIndex(t, src.Host+"/team/app:1", idx)
			srcUA, dstUA := userAgents(src), userAgents(dst)
			cl := newTestClient(t, ClientOptions{UserAgent: c.opt})

			if _, err := cl.Copy(context.Background(), MustParseImageRef(src.Host+"/team/app:1"), MustParseImageRef(dst.Host+"/mirror/team/app:1"), PlatformAuto); err != nil {
				t.Fatal(err)
			}
			resp, err := cl.HTTPClient().Get(src.Server.URL + "/v2/")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()

			for side, seen := range map[string][]seenRequest{"source": srcUA(), "destination": dstUA()} {
				if len(seen) < 3 {
					t.Fatalf("%s saw only %v", side, seen)
				}
				for _, r := range seen {
					if r.userAgent != c.want {
						t.Errorf("%s: %s %s carries User-Agent %q, want %q", side, r.method, r.path, r.userAgent, c.want)
					}
				}
			}
		})
	}
}
