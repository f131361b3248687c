package registry

import (
	"context"
	"errors"
	"github.com/airgap-charts/airgap-charts/registry/transport"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// A registry that requires a client certificate (mutual TLS) from a private CA: with
// --certs-dir HOST/{ca.crt,client.cert,client.key} images are pushed to it and pulled from
// it; without the client certificate, or with one of another CA, the handshake fails with
// an error naming the host and saying what is missing.
func TestCertsDirMutualTLSRegistry(t *testing.T) {
	pki := registrytest.NewPKI(t)
	plain, back := registrytest.New(t), registrytest.New(t)
	secured := registrytest.New(t, registrytest.WithServerTLS(pki.ServerTLS()))
	img := platformImage(t, "linux", "amd64")
	pushImage(t, plain.Host+"/app:1", img)
	want := digestOf(t, img)
	insecure := []string{plain.Host, back.Host} // the mTLS host is verified
	ctx := context.Background()

	dir := pki.WriteCertsDir(t, t.TempDir(), secured.Host, true)
	c := newTestClient(t, ClientOptions{Insecure: insecure, CertsDir: dir})
	if _, err := c.Copy(ctx, MustParseImageRef(plain.Host+"/app:1"), MustParseImageRef(secured.Host+"/app:1"), PlatformAuto); err != nil {
		t.Fatalf("copy to the mTLS registry: %v", err)
	}
	if _, err := c.Copy(ctx, MustParseImageRef(secured.Host+"/app:1"), MustParseImageRef(back.Host+"/app:1"), PlatformAuto); err != nil {
		t.Fatalf("copy from the mTLS registry: %v", err)
	}
	if got := remoteDigest(t, back.Host+"/app:1"); got != want {
		t.Fatalf("round trip through the mTLS registry: %s, want %s", got, want)
	}
	if n := secured.Count(registrytest.ManifestPut); n != 1 {
		t.Fatalf("%d manifest PUTs reached the mTLS registry, want 1", n)
	}

	caOnly := pki.WriteCertsDir(t, t.TempDir(), secured.Host, false)
	stranger := pki.WriteCertsDir(t, t.TempDir(), secured.Host, false)
	for name, data := range map[string][]byte{"client.cert": pki.OtherClient, "client.key": pki.OtherKey} {
		if err := os.WriteFile(filepath.Join(stranger, secured.Host, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for label, d := range map[string]string{"no client certificate": caOnly, "a client certificate of another CA": stranger} {
		c := newTestClient(t, ClientOptions{Insecure: insecure, CertsDir: d, Retries: -1})
		before := secured.Count(registrytest.ManifestHead) + secured.Count(registrytest.ManifestGet)
		_, err := c.SourceDigest(ctx, MustParseImageRef(secured.Host+"/app:1"), PlatformAuto)
		var te *transport.TLSError
		if !errors.As(err, &te) || te.Host != secured.Host || !strings.Contains(err.Error(), "client certificate") {
			t.Fatalf("%s: %v; want a TLS error naming %s and the client certificate", label, err, secured.Host)
		}
		if n := secured.Count(registrytest.ManifestHead) + secured.Count(registrytest.ManifestGet) - before; n != 0 {
			t.Fatalf("%s: %d requests reached the registry", label, n)
		}
	}
}

// An HTTP server (a chart repository) that requires a client certificate is reached
// through the client's HTTP client with the host's certs directory, and refused without.
func TestCertsDirMutualTLSHTTPRepository(t *testing.T) {
	pki := registrytest.NewPKI(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "apiVersion: v1\nentries: {}\n")
	}))
	srv.TLS = pki.ServerTLS()
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "https://")

	c := newTestClient(t, ClientOptions{Insecure: []string{}, CertsDir: pki.WriteCertsDir(t, t.TempDir(), host, true)})
	resp, err := c.HTTPClient().Get(srv.URL + "/index.yaml")
	if err != nil {
		t.Fatalf("GET index.yaml over mTLS: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "entries") {
		t.Fatalf("GET index.yaml: %d %q", resp.StatusCode, body)
	}

	without := newTestClient(t, ClientOptions{Insecure: []string{}, CertsDir: pki.WriteCertsDir(t, t.TempDir(), host, false), Retries: -1})
	if _, err := without.HTTPClient().Get(srv.URL + "/index.yaml"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("GET without a client certificate: %v; want a TLS error", err)
	}
}

// A certs directory with a client certificate but no key is refused when the client is
// built, naming the file.
func TestCertsDirIncompletePairIsAnError(t *testing.T) {
	pki := registrytest.NewPKI(t)
	dir := pki.WriteCertsDir(t, t.TempDir(), "registry.example.com:5000", true)
	if err := os.Remove(filepath.Join(dir, "registry.example.com:5000", "client.key")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	_, err := NewClient(ClientOptions{CertsDir: dir, SpoolDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "client.cert") || !strings.Contains(err.Error(), "without its key") {
		t.Fatalf("NewClient: %v; want an error naming client.cert and its missing key", err)
	}
}
