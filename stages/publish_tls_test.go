package stages

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// An insecure destination that speaks TLS (self-signed) gets the chart over TLS, not plain
// HTTP (which it would refuse); a plain-HTTP insecure destination still gets it in plain
// HTTP: --insecure-registry means the same for charts as for images.
func TestPublishToInsecureHostUsesTLSWhenItSpeaksIt(t *testing.T) {
	a := testPackShapes(t, t.TempDir(), nil)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		reg  *registrytest.Registry
	}{
		{"tls", registrytest.New(t, registrytest.WithTLS())},
		{"plain", registrytest.New(t)},
	} {
		p := NewPublisher(PublishOptions{Registry: testRegistryClient(t, registry.ClientOptions{}, tc.reg.Host)})
		res, err := p.Publish(ctx, a, "oci://"+tc.reg.Host+"/charts", nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if res.Skipped || tc.reg.Count(registrytest.ManifestPut) == 0 {
			t.Errorf("%s: result %+v, %d manifest PUTs", tc.name, res, tc.reg.Count(registrytest.ManifestPut))
		}
	}
}

// A chart upload that draws a 503 (on the blob upload and on the manifest PUT) is sent
// again by the shared transport, as image uploads are.
func TestPublishRetries5xxOnUploads(t *testing.T) {
	reg := registrytest.New(t)
	var failed = map[registrytest.Kind]bool{}
	var mu sync.Mutex
	reg.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		k, _ := registrytest.Classify(r)
		if k != registrytest.UploadEnd && k != registrytest.ManifestPut && k != registrytest.UploadStart {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		if failed[k] {
			return false
		}
		failed[k] = true
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	})
	p := NewPublisher(PublishOptions{Registry: testRegistryClient(t, registry.ClientOptions{}, reg.Host)})
	a := testPackShapes(t, t.TempDir(), nil)
	if _, err := p.Publish(context.Background(), a, "oci://"+reg.Host+"/charts", nil); err != nil {
		t.Fatalf("publish through 503s: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !failed[registrytest.ManifestPut] || !failed[registrytest.UploadStart] {
		t.Fatalf("the 503s were not drawn: %v", failed)
	}
}
