package registry

import (
	"context"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// A host given in ClientOptions.Local is answered by its handler in process: a name that
// resolves nowhere serves as the source of a copy (every manifest and blob read through
// the handler), and nothing reaches the network for it.
func TestLocalHostIsAnsweredInProcess(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	pushImage(t, src.Host+"/a:1", platformImage(t, "linux", "amd64"))
	const local = "bundle.invalid:5000"
	up, err := url.Parse("http://" + src.Host)
	if err != nil {
		t.Fatal(err)
	}
	var served atomic.Int32
	proxy := httputil.NewSingleHostReverseProxy(up)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		proxy.ServeHTTP(w, r)
	})
	c := newTestClient(t, ClientOptions{Insecure: []string{"127.0.0.1", local}, Local: map[string]http.Handler{local: handler}})
	ctx := context.Background()
	d, ok, err := c.HeadManifest(ctx, MustParseImageRef(local+"/a:1"))
	if err != nil || !ok || d != remoteDigest(t, src.Host+"/a:1") {
		t.Fatalf("HEAD through the local host: %s, %t, %v", d, ok, err)
	}
	if _, err := c.Copy(ctx, MustParseImageRef(local+"/a:1"), MustParseImageRef(dst.Host+"/a:1"), PlatformAuto); err != nil {
		t.Fatal(err)
	}
	if got, want := remoteDigest(t, dst.Host+"/a:1"), remoteDigest(t, src.Host+"/a:1"); got != want {
		t.Fatalf("copied %s, the source holds %s", got, want)
	}
	if n := served.Load(); n < 3 {
		t.Fatalf("the handler answered %d requests, want the HEAD, the manifest and the blobs", n)
	}
}
