package registry

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// BenchmarkSourceDigest: one source-digest HEAD per op through the client's whole stack
// (auth router, user agent, manifest check, retries with their limits and watchdog, the
// connection pool) against an in-process registry, beside the same HEAD sent by a plain
// net/http client in the same process: the difference is what the stack adds to each
// request of a no-op rerun (the registry's own cost is in both). Run with -benchmem.
func BenchmarkSourceDigest(b *testing.B) {
	reg := registrytest.New(b)
	pushImage(b, reg.Host+"/app:1", platformImage(b, "linux", "amd64"))
	ctx := context.Background()
	b.Run("client", func(b *testing.B) {
		c := newTestClient(b, ClientOptions{})
		ref := MustParseImageRef(reg.Host + "/app:1")
		for b.Loop() {
			if _, err := c.SourceDigest(ctx, ref, PlatformAuto); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("plain", func(b *testing.B) {
		hc := &http.Client{Transport: &http.Transport{}}
		u := "http://" + reg.Host + "/v2/app/manifests/1"
		for b.Loop() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodHead, u, nil)
			req.Header.Set("Accept", manifestAccept)
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
}
