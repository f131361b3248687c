package stages

import (
	"context"
	"encoding/base64"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// testPackShapes packages the shapes chart (files edited by edit when given).
func testPackShapes(t *testing.T, dir string, edit func(map[string]string)) ChartArchive {
	t.Helper()
	files := map[string]string{}
	for k, v := range shapesChartFiles {
		files[k] = v
	}
	if edit != nil {
		edit(files)
	}
	a, err := PackageChart(loadTestChart(t, files), dir)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// testRegistryClient is a registry client for test registries on the loopback (hosts
// marked insecure: plain HTTP), with no credentials but those of opts and fast retries.
func testRegistryClient(t *testing.T, opts registry.ClientOptions, hosts ...string) *registry.Client {
	t.Helper()
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	opts.Insecure = append(opts.Insecure, hosts...)
	opts.SpoolDir = t.TempDir()
	if opts.RetryBackoff == 0 {
		opts.RetryBackoff = time.Millisecond
	}
	c, err := registry.NewClient(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// remoteChartLayer reads the pushed manifest with go-containerregistry (not Helm) and
// returns its chart layer digest.
func remoteChartLayer(t *testing.T, ref string) string {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r)
	if err != nil {
		t.Fatalf("read %s: %v", ref, err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range m.Layers {
		if string(l.MediaType) == "application/vnd.cncf.helm.chart.content.v1.tar+gzip" {
			return l.Digest.String()
		}
	}
	t.Fatalf("%s has no chart layer: %+v", ref, m.Layers)
	return ""
}

// TestPublish pushes to a real registry, skips an identical second push without writing
// anything, pushes again when the content changes, and never touches the user's Helm or
// Docker configuration.
func TestPublish(t *testing.T) {
	home := t.TempDir()
	for _, v := range []string{"HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"} {
		t.Setenv(v, home)
	}
	reg := registrytest.New(t)
	ctx := context.Background()
	var ensured []string
	p := NewPublisher(PublishOptions{Registry: testRegistryClient(t, registry.ClientOptions{}, reg.Host),
		EnsureRepository: func(_ context.Context, repo string) error {
			ensured = append(ensured, repo)
			return nil
		}})
	a := testPackShapes(t, t.TempDir(), nil)

	res, err := p.Publish(ctx, a, "oci://"+reg.Host+"/charts/", nil)
	if err != nil {
		t.Fatal(err)
	}
	wantRef := reg.Host + "/charts/shapes:0.1.0"
	if res.Ref != wantRef || res.Skipped || !strings.HasPrefix(res.Digest, "sha256:") {
		t.Errorf("first publish = %+v, want %s pushed", res, wantRef)
	}
	if got := remoteChartLayer(t, wantRef); got != a.Digest {
		t.Errorf("chart layer %s, archive %s", got, a.Digest)
	}
	if len(ensured) != 1 || ensured[0] != "charts/shapes" {
		t.Errorf("EnsureRepository calls %v, want [charts/shapes]", ensured)
	}
	puts, uploads := reg.Count(registrytest.ManifestPut), reg.Count(registrytest.UploadStart)

	again, err := p.Publish(ctx, a, "oci://"+reg.Host+"/charts", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Skipped || again.Digest != res.Digest {
		t.Errorf("second publish = %+v, want skipped with digest %s", again, res.Digest)
	}
	if reg.Count(registrytest.ManifestPut) != puts || reg.Count(registrytest.UploadStart) != uploads || len(ensured) != 1 {
		t.Error("the skipped publish wrote to the registry")
	}

	changed := testPackShapes(t, t.TempDir(), func(f map[string]string) {
		f["values.yaml"] += "extra: true\n"
	})
	third, err := p.Publish(ctx, changed, "oci://"+reg.Host+"/charts", nil)
	if err != nil {
		t.Fatal(err)
	}
	if third.Skipped || remoteChartLayer(t, wantRef) != changed.Digest {
		t.Errorf("changed chart: %+v, layer not replaced", third)
	}

	if entries, _ := os.ReadDir(home); len(entries) != 0 {
		t.Errorf("publishing wrote into the user's home: %v", entries)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := p.Publish(cancelled, changed, "oci://"+reg.Host+"/other", nil); err == nil {
		t.Error("publish with a cancelled context succeeded")
	}
	if _, err := p.Publish(ctx, a, "https://"+reg.Host, nil); err == nil {
		t.Error("a destination without oci:// was accepted")
	}
	if _, err := p.Publish(ctx, ChartArchive{}, "oci://"+reg.Host+"/charts", nil); err == nil {
		t.Error("publish of no archive succeeded")
	}
}

type hostKeychain struct {
	host string
	auth authn.Authenticator
}

func (k hostKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if r.RegistryStr() == k.host {
		return k.auth, nil
	}
	return authn.Anonymous, nil
}

// TestPublishCredentials: credentials come from the registry client's keychain; without
// them a registry that demands them refuses the push and the error says so without the
// secret.
func TestPublishCredentials(t *testing.T) {
	reg := registrytest.New(t)
	const user, secret = "robot", "s3cret-password"
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+secret))
	reg.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Header.Get("Authorization") == want {
			return false
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		w.WriteHeader(http.StatusUnauthorized)
		return true
	})
	a := testPackShapes(t, t.TempDir(), nil)
	ctx := context.Background()

	anon := NewPublisher(PublishOptions{Registry: testRegistryClient(t, registry.ClientOptions{}, reg.Host)})
	_, anonErr := anon.Publish(ctx, a, "oci://"+reg.Host+"/charts", nil)
	if anonErr == nil {
		t.Fatal("anonymous publish to a registry demanding credentials succeeded")
	}
	if msg := strings.ToLower(anonErr.Error()); !strings.Contains(msg, "credential") && !strings.Contains(msg, "unauthorized") {
		t.Errorf("error does not say the registry refused: %v", anonErr)
	}
	kc := hostKeychain{host: reg.Host, auth: &authn.Basic{Username: user, Password: secret}}
	p := NewPublisher(PublishOptions{Registry: testRegistryClient(t, registry.ClientOptions{Keychains: []authn.Keychain{kc}}, reg.Host)})
	res, err := p.Publish(ctx, a, "oci://"+reg.Host+"/charts", nil)
	if err != nil {
		t.Fatalf("publish with credentials: %v", err)
	}
	if res.Skipped || res.Ref != reg.Host+"/charts/shapes:0.1.0" {
		t.Errorf("result %+v", res)
	}
	if strings.Contains(anonErr.Error(), secret) {
		t.Errorf("error holds the secret: %v", anonErr)
	}
}

// total is every request a registry received.
func total(reg *registrytest.Registry) int {
	n := 0
	for _, c := range reg.Counts() {
		n += c
	}
	return n
}

// TestPublisherCheck: a check costs one request (besides the client's one pull-budget HEAD
// of a host, before its first manifest GET): a manifest GET when the pushed manifest is
// unknown, a HEAD when it is known (and matches); a tag holding another archive is not the
// same, and Publish with that check pushes without asking again: two blob uploads and one
// manifest PUT; an absent tag is absent.
func TestPublisherCheck(t *testing.T) {
	reg := registrytest.New(t)
	ctx := context.Background()
	p := NewPublisher(PublishOptions{Registry: testRegistryClient(t, registry.ClientOptions{}, reg.Host)})
	base := "oci://" + reg.Host + "/charts"
	a := testPackShapes(t, t.TempDir(), nil)

	reg.Reset()
	absent, err := p.Check(ctx, a, base, "")
	if err != nil {
		t.Fatal(err)
	}
	if absent.Exists || absent.Same || absent.ArchiveDigest != a.Digest || absent.Ref != reg.Host+"/charts/shapes:0.1.0" {
		t.Errorf("check of an absent chart = %+v", absent)
	}
	// The host's first manifest GET is preceded by the client's one pull-budget HEAD.
	if n := total(reg); reg.Count(registrytest.ManifestGet) != 1 || n-reg.Count(registrytest.ManifestHead) != 1 || n > 2 {
		t.Errorf("check of an absent chart sent %d requests: %v", n, reg.Counts())
	}
	reg.Reset()
	pushed, err := p.Publish(ctx, a, base, &absent)
	if err != nil {
		t.Fatal(err)
	}
	// Per blob: an existence HEAD beside the upload start, then the upload; then the
	// manifest. Nothing is read back.
	want := map[registrytest.Kind]int{registrytest.BlobHead: 2, registrytest.UploadStart: 2, registrytest.UploadEnd: 2, registrytest.ManifestPut: 1}
	if got := reg.Counts(); !sameCounts(got, want) {
		t.Errorf("push sent %v, want %v", got, want)
	}
	if pushed.Skipped || remoteChartLayer(t, pushed.Ref) != a.Digest {
		t.Fatalf("publish after an absent check = %+v", pushed)
	}

	for _, tc := range []struct {
		name  string
		known string
		kind  registrytest.Kind
	}{{"unknown manifest", "", registrytest.ManifestGet}, {"known manifest", pushed.Digest, registrytest.ManifestHead}} {
		reg.Reset()
		c, err := p.Check(ctx, a, base, tc.known)
		if err != nil {
			t.Fatal(err)
		}
		if !c.Exists || !c.Same || c.Manifest != pushed.Digest {
			t.Errorf("%s: check = %+v, want the same chart at %s", tc.name, c, pushed.Digest)
		}
		if n := total(reg); n != 1 || reg.Count(tc.kind) != 1 {
			t.Errorf("%s: check sent %v, want one %s", tc.name, reg.Counts(), tc.kind)
		}
	}

	changed := testPackShapes(t, t.TempDir(), func(f map[string]string) { f["values.yaml"] += "extra: true\n" })
	reg.Reset()
	// A known manifest that the tag no longer holds: the HEAD differs, one GET compares.
	c, err := p.Check(ctx, changed, base, "sha256:"+strings.Repeat("0", 64))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Exists || c.Same || c.Manifest != pushed.Digest {
		t.Errorf("check of a changed archive = %+v", c)
	}
	if reg.Count(registrytest.ManifestHead) != 1 || reg.Count(registrytest.ManifestGet) != 1 {
		t.Errorf("a stale known manifest should cost one HEAD then one GET: %v", reg.Counts())
	}
	reg.Reset()
	res, err := p.Publish(ctx, changed, base, &c)
	if err != nil {
		t.Fatal(err)
	}
	if n := reg.Count(registrytest.ManifestGet) + reg.Count(registrytest.ManifestHead); n != 0 {
		t.Errorf("publish with a check read the tag again: %v", reg.Counts())
	}
	if res.Skipped || remoteChartLayer(t, res.Ref) != changed.Digest {
		t.Errorf("publish of the changed archive = %+v", res)
	}
	if _, err := p.Check(ctx, ChartArchive{Path: "missing.tgz"}, base, ""); err == nil {
		t.Error("check of no archive succeeded")
	}
}

// sameCounts compares request counts by kind, absent kinds being zero.
func sameCounts(got, want map[registrytest.Kind]int) bool {
	for k, n := range got {
		if want[k] != n {
			return false
		}
	}
	for k, n := range want {
		if got[k] != n {
			return false
		}
	}
	return true
}
