package stages

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	helmregistry "helm.sh/helm/v3/pkg/registry"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/registry/ecr"
	"github.com/airgap-charts/airgap-charts/registry/ecrsim"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// A tag listing or a manifest read against a registry that answers 503 reaches it at most
// as many times as the client's retry policy tries: the requests take the registry
// client's one retry layer, not a second one stacked on it (it was 6 × 3 = 18, all of
// them pings).
func TestOCIChartRequestsTakeOneRetryLayer(t *testing.T) {
	reg := registrytest.New(t)
	reg.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	})
	const retries = 3
	c := testRegistryClient(t, registry.ClientOptions{Retries: retries}, reg.Host)
	ctx := context.Background()
	r := newTestResolver(t, ResolverOptions{Registry: c})
	_, err := r.Resolve(ctx, ChartRef{Repository: "oci://" + reg.Host + "/charts", Name: "shapes"}, ResolveOptions{})
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("resolve against a 503 registry: %v", err)
	}
	if n := total(reg); n > retries+1 || reg.Count(registrytest.TagsList) != n {
		t.Errorf("tag listing sent %d requests (%v), want at most %d tag listings", n, reg.Counts(), retries+1)
	}

	reg.Reset()
	f, err := NewFetcher(FetcherOptions{CacheDir: t.TempDir(), HTTPClient: loopbackClient(), Registry: c})
	if err != nil {
		t.Fatal(err)
	}
	rc := ResolvedChart{Ref: ChartRef{Name: "shapes"}, Version: "0.1.0", Repository: "oci://" + reg.Host + "/charts",
		OCIRef: reg.Host + "/charts/shapes:0.1.0"}
	if _, err := f.Fetch(ctx, rc); err == nil {
		t.Fatal("fetch against a 503 registry succeeded")
	}
	// The manifest GET, and the pull-budget HEAD the client sends before a host's first
	// one: each tried at most as often as the policy says.
	counts := reg.Counts()
	if n := total(reg); counts[registrytest.ManifestGet] == 0 || counts[registrytest.ManifestGet] > retries+1 ||
		counts[registrytest.ManifestHead] > retries+1 || n != counts[registrytest.ManifestGet]+counts[registrytest.ManifestHead] {
		t.Errorf("manifest read sent %v, want at most %d manifest GETs and %d HEADs", counts, retries+1, retries+1)
	}
}

// ociDestination is a registry charts are pushed to and pulled from.
type ociDestination struct {
	host   string
	client *registry.Client
	ensure func(context.Context, string) error
	counts func() map[registrytest.Kind]int
}

func distributionDestination(t *testing.T) ociDestination {
	reg := registrytest.New(t)
	return ociDestination{host: reg.Host, client: testRegistryClient(t, registry.ClientOptions{}, reg.Host), counts: reg.Counts}
}

func ecrDestination(t *testing.T) ociDestination {
	sim := ecrsim.New(t)
	e, err := ecr.New(context.Background(), ecr.Options{AWSConfig: sim.AWSConfig(), Endpoint: sim.URL,
		Registry: sim.Host, CreateRepositories: true})
	if err != nil {
		t.Fatal(err)
	}
	c := testRegistryClient(t, registry.ClientOptions{Keychains: []authn.Keychain{e.Keychain()}, ECRHosts: []string{sim.Host}}, "127.0.0.1")
	counts := func() map[registrytest.Kind]int {
		m := map[registrytest.Kind]int{}
		for _, q := range sim.Requests() {
			m[q.Kind]++
		}
		return m
	}
	return ociDestination{host: sim.Host, client: c, ensure: e.EnsureRepository, counts: counts}
}

// A chart pushed by the publisher is resolved and fetched back, byte for byte, by the
// resolver and fetcher, all through one registry client: against the distribution
// registry and the ECR simulator (which creates the repository first). The same archive
// gives the same manifest in both.
func TestOCIChartPushPullRoundTrip(t *testing.T) {
	a := testPackShapes(t, t.TempDir(), nil)
	ctx := context.Background()
	digests := map[string]string{}
	for name, newDest := range map[string]func(*testing.T) ociDestination{"distribution": distributionDestination, "ecr": ecrDestination} {
		t.Run(name, func(t *testing.T) {
			d := newDest(t)
			pub, err := NewPublisher(PublishOptions{Registry: d.client, EnsureRepository: d.ensure}).Publish(ctx, a, "oci://"+d.host+"/charts", nil)
			if err != nil {
				t.Fatal(err)
			}
			digests[name] = pub.Digest
			before := d.counts()
			rc, err := newTestResolver(t, ResolverOptions{Registry: d.client}).Resolve(ctx,
				ChartRef{Repository: "oci://" + d.host + "/charts", Name: "shapes", Constraint: "0.1.x"}, ResolveOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if rc.Version != "0.1.0" || rc.OCIRef != d.host+"/charts/shapes:0.1.0" {
				t.Fatalf("resolved %+v", rc)
			}
			f, err := NewFetcher(FetcherOptions{CacheDir: t.TempDir(), HTTPClient: loopbackClient(), Registry: d.client})
			if err != nil {
				t.Fatal(err)
			}
			fc, err := f.Fetch(ctx, rc)
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(fc.ArchivePath)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(data, a.Data) || fc.Digest != a.Digest || fc.Chart.Name() != "shapes" {
				t.Errorf("fetched %d bytes %s, pushed %d bytes %s", len(data), fc.Digest, len(a.Data), a.Digest)
			}
			after := d.counts()
			for kind, want := range map[registrytest.Kind]int{registrytest.TagsList: 1, registrytest.ManifestGet: 1, registrytest.BlobGet: 1} {
				if n := after[kind] - before[kind]; n != want {
					t.Errorf("resolve and fetch sent %d %s, want %d (%v)", n, kind, want, after)
				}
			}
			if n := after[registrytest.Other] - before[registrytest.Other]; n != 0 {
				t.Errorf("resolve and fetch sent %d other requests (pings): %v", n, after)
			}
		})
	}
	if digests["distribution"] == "" || digests["distribution"] != digests["ecr"] {
		t.Errorf("one archive, two manifests: %v", digests)
	}
}

// The manifest and config a chart is pushed with are those Helm's own client writes for
// the same archive (same creation time): a chart pushed by this tool and one pushed by
// `helm push` have the same manifest digest.
func TestPublishWritesHelmsManifest(t *testing.T) {
	reg := registrytest.New(t)
	a := testPackShapes(t, t.TempDir(), func(f map[string]string) {
		f["Chart.yaml"] += `description: Shapes of image references
home: https://example.com/shapes
sources:
  - https://example.com/src
  - https://example.com/other
maintainers:
  - name: Ada
    email: ada@example.com
  - name: Bob
annotations:
  example.com/team: charts
  org.opencontainers.image.title: not the name
`
	})
	ours, err := NewPublisher(PublishOptions{Registry: testRegistryClient(t, registry.ClientOptions{}, reg.Host)}).
		Publish(context.Background(), a, "oci://"+reg.Host+"/ours", nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{}
	helm, err := helmregistry.NewClient(helmregistry.ClientOptPlainHTTP(), helmregistry.ClientOptHTTPClient(hc),
		helmregistry.ClientOptCredentialsFile(filepath.Join(t.TempDir(), "config.json")),
		helmregistry.ClientOptAuthorizer(auth.Client{Client: hc, Credential: func(context.Context, string) (auth.Credential, error) {
			return auth.EmptyCredential, nil
		}}))
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := helm.Push(a.Data, reg.Host+"/helm/shapes:0.1.0", helmregistry.PushOptCreationTime(pushCreationTime))
	if err != nil {
		t.Fatal(err)
	}
	if ours.Digest != theirs.Manifest.Digest {
		t.Errorf("manifest %s, Helm pushes %s", ours.Digest, theirs.Manifest.Digest)
	}
}

// An OCI chart repository's own credentials (the addon's username and password, as a host
// keychain of the registry client) serve its resolve and fetch; without them the
// repository refuses both.
func TestOCIChartRepositoryCredentials(t *testing.T) {
	reg := registrytest.New(t)
	a := testPackShapes(t, t.TempDir(), nil)
	ctx := context.Background()
	if _, err := NewPublisher(PublishOptions{Registry: testRegistryClient(t, registry.ClientOptions{}, reg.Host)}).
		Publish(ctx, a, "oci://"+reg.Host+"/charts", nil); err != nil {
		t.Fatal(err)
	}
	requireBasicAuth(reg, "robot", "pw-from-keychain")
	ref := ChartRef{Repository: "oci://" + reg.Host + "/charts", Name: "shapes"}

	kc := hostKeychain{host: reg.Host, auth: &authn.Basic{Username: "robot", Password: "pw-from-keychain"}}
	c := testRegistryClient(t, registry.ClientOptions{HostKeychains: []authn.Keychain{kc}}, reg.Host)
	rc, err := newTestResolver(t, ResolverOptions{Registry: c}).Resolve(ctx, ref, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := NewFetcher(FetcherOptions{CacheDir: t.TempDir(), HTTPClient: loopbackClient(), Registry: c})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Fetch(ctx, rc); err != nil {
		t.Fatalf("fetch with the repository's credentials: %v", err)
	}

	anon := testRegistryClient(t, registry.ClientOptions{}, reg.Host)
	if _, err := newTestResolver(t, ResolverOptions{Registry: anon}).Resolve(ctx, ref, ResolveOptions{}); err == nil {
		t.Error("anonymous resolve passed basic auth")
	}
	bare, err := NewResolver(ResolverOptions{HTTPClient: loopbackClient()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bare.Resolve(ctx, ref, ResolveOptions{}); err == nil {
		t.Error("a resolver without a registry client resolved an OCI chart")
	}
}

// requireBasicAuth puts basic auth in front of a registrytest registry.
func requireBasicAuth(reg *registrytest.Registry, user, pass string) {
	reg.Intercept(func(w http.ResponseWriter, req *http.Request) bool {
		if u, p, ok := req.BasicAuth(); ok && u == user && p == pass {
			return false
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="registrytest"`)
		http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
		return true
	})
}
