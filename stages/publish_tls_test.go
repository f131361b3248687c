package stages

import (
	"context"
	"testing"

	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// An insecure destination that speaks TLS (self-signed) gets the chart over TLS, not plain
// HTTP (which it would refuse); a plain-HTTP insecure destination still gets it in plain
// HTTP: --insecure-registry means the same for charts as for images.
func TestPublishToInsecureHostUsesTLSWhenItSpeaksIt(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	path, _ := testPackShapes(t, t.TempDir(), nil)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		reg  *registrytest.Registry
	}{
		{"tls", registrytest.New(t, registrytest.WithTLS())},
		{"plain", registrytest.New(t)},
	} {
		c, err := registry.NewClient(registry.ClientOptions{Insecure: []string{tc.reg.Host}, SpoolDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		p := NewPublisher(PublishOptions{Insecure: true, Scheme: c.Scheme, Transport: c.Transport()})
		res, err := p.Publish(ctx, path, "oci://"+tc.reg.Host+"/charts", nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if res.Skipped || tc.reg.Count(registrytest.ManifestPut) == 0 {
			t.Errorf("%s: result %+v, %d manifest PUTs", tc.name, res, tc.reg.Count(registrytest.ManifestPut))
		}
	}
}
