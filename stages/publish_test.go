package stages

import (
	"context"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// testPackShapes packages the shapes chart (values edited by edit when given).
func testPackShapes(t *testing.T, dir string, edit func(map[string]string)) (string, string) {
	t.Helper()
	files := map[string]string{}
	for k, v := range shapesChartFiles {
		files[k] = v
	}
	if edit != nil {
		edit(files)
	}
	path, digest, err := PackageChart(loadTestChart(t, files), dir)
	if err != nil {
		t.Fatal(err)
	}
	return path, digest
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

// TestPublishChart pushes to a real registry, skips an identical second push without
// writing anything, pushes again when the content changes, and never touches the user's
// Helm or Docker configuration.
func TestPublishChart(t *testing.T) {
	home := t.TempDir()
	for _, v := range []string{"HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "DOCKER_CONFIG"} {
		t.Setenv(v, home)
	}
	reg := registrytest.New(t)
	ctx := context.Background()
	var ensured []string
	opts := PublishOptions{Insecure: true, EnsureRepository: func(_ context.Context, repo string) error {
		ensured = append(ensured, repo)
		return nil
	}}
	path, digest := testPackShapes(t, t.TempDir(), nil)

	res, err := PublishChart(ctx, path, "oci://"+reg.Host+"/charts/", opts)
	if err != nil {
		t.Fatal(err)
	}
	wantRef := reg.Host + "/charts/shapes:0.1.0"
	if res.Ref != wantRef || res.Skipped || !strings.HasPrefix(res.Digest, "sha256:") {
		t.Errorf("first publish = %+v, want %s pushed", res, wantRef)
	}
	if got := remoteChartLayer(t, wantRef); got != digest {
		t.Errorf("chart layer %s, archive %s", got, digest)
	}
	if len(ensured) != 1 || ensured[0] != "charts/shapes" {
		t.Errorf("EnsureRepository calls %v, want [charts/shapes]", ensured)
	}
	puts, uploads := reg.Count(registrytest.ManifestPut), reg.Count(registrytest.UploadStart)

	again, err := PublishChart(ctx, path, "oci://"+reg.Host+"/charts", opts)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Skipped || again.Digest != res.Digest {
		t.Errorf("second publish = %+v, want skipped with digest %s", again, res.Digest)
	}
	if reg.Count(registrytest.ManifestPut) != puts || reg.Count(registrytest.UploadStart) != uploads || len(ensured) != 1 {
		t.Error("the skipped publish wrote to the registry")
	}

	changed, changedDigest := testPackShapes(t, t.TempDir(), func(f map[string]string) {
		f["values.yaml"] += "extra: true\n"
	})
	third, err := PublishChart(ctx, changed, "oci://"+reg.Host+"/charts", opts)
	if err != nil {
		t.Fatal(err)
	}
	if third.Skipped || remoteChartLayer(t, wantRef) != changedDigest {
		t.Errorf("changed chart: %+v, layer not replaced", third)
	}

	if entries, _ := os.ReadDir(home); len(entries) != 0 {
		t.Errorf("publishing wrote into the user's home: %v", entries)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := PublishChart(cancelled, changed, "oci://"+reg.Host+"/other", opts); err == nil {
		t.Error("publish with a cancelled context succeeded")
	}
	if _, err := PublishChart(ctx, path, "https://"+reg.Host, opts); err == nil {
		t.Error("a destination without oci:// was accepted")
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

// TestPublishChartCredentials: credentials come from the keychain; without them a registry
// that demands them refuses the push and the error says so without the secret.
func TestPublishChartCredentials(t *testing.T) {
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
	path, _ := testPackShapes(t, t.TempDir(), nil)
	ctx := context.Background()
	sandboxes, _ := filepath.Glob(filepath.Join(os.TempDir(), "airgap-charts-helm-*"))

	_, err := PublishChart(ctx, path, "oci://"+reg.Host+"/charts", PublishOptions{Insecure: true})
	if err == nil {
		t.Fatal("anonymous publish to a registry demanding credentials succeeded")
	}
	if msg := strings.ToLower(err.Error()); !strings.Contains(msg, "credential") && !strings.Contains(msg, "unauthorized") {
		t.Errorf("error does not say the registry refused: %v", err)
	}
	kc := hostKeychain{host: reg.Host, auth: &authn.Basic{Username: user, Password: secret}}
	res, err := PublishChart(ctx, path, "oci://"+reg.Host+"/charts", PublishOptions{Insecure: true, Keychain: kc})
	if err != nil {
		t.Fatalf("publish with credentials: %v", err)
	}
	if res.Skipped || res.Ref != reg.Host+"/charts/shapes:0.1.0" {
		t.Errorf("result %+v", res)
	}
	if after, _ := filepath.Glob(filepath.Join(os.TempDir(), "airgap-charts-helm-*")); len(after) != len(sandboxes) {
		t.Errorf("Helm sandboxes left behind: %v", after)
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

// TestPublisherCheck: a check costs one request: a manifest GET when the pushed manifest is
// unknown, a HEAD when it is known (and matches); a tag holding another archive is not the
// same, and Publish with that check pushes without asking again; an absent tag is absent.
func TestPublisherCheck(t *testing.T) {
	reg := registrytest.New(t)
	ctx := context.Background()
	p := NewPublisher(PublishOptions{Insecure: true})
	base := "oci://" + reg.Host + "/charts"
	path, digest := testPackShapes(t, t.TempDir(), nil)

	reg.Reset()
	absent, err := p.Check(ctx, path, base, "")
	if err != nil {
		t.Fatal(err)
	}
	if absent.Exists || absent.Same || absent.ArchiveDigest != digest || absent.Ref != reg.Host+"/charts/shapes:0.1.0" {
		t.Errorf("check of an absent chart = %+v", absent)
	}
	if n := total(reg); n != 1 {
		t.Errorf("check of an absent chart sent %d requests: %v", n, reg.Counts())
	}
	pushed, err := p.Publish(ctx, path, base, &absent)
	if err != nil {
		t.Fatal(err)
	}
	if pushed.Skipped || remoteChartLayer(t, pushed.Ref) != digest {
		t.Fatalf("publish after an absent check = %+v", pushed)
	}

	for _, tc := range []struct {
		name  string
		known string
		kind  registrytest.Kind
	}{{"unknown manifest", "", registrytest.ManifestGet}, {"known manifest", pushed.Digest, registrytest.ManifestHead}} {
		reg.Reset()
		c, err := p.Check(ctx, path, base, tc.known)
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

	changed, changedDigest := testPackShapes(t, t.TempDir(), func(f map[string]string) { f["values.yaml"] += "extra: true\n" })
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
	// Helm's push reads back the manifest it put by digest; the tag is never read again.
	for _, q := range reg.Requests() {
		if q.Kind == registrytest.ManifestGet && strings.HasSuffix(q.Path, "/manifests/0.1.0") {
			t.Errorf("publish with a check read the tag again: %+v", q)
		}
	}
	if res.Skipped || remoteChartLayer(t, res.Ref) != changedDigest {
		t.Errorf("publish of the changed archive = %+v", res)
	}
	if _, err := p.Check(ctx, filepath.Join(t.TempDir(), "missing.tgz"), base, ""); err == nil {
		t.Error("check of a missing archive succeeded")
	}
}
