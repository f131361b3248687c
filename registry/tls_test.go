package registry

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"github.com/airgap-charts/airgap-charts/registry/transport"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// sniffListener counts the connections whose first byte is not a TLS handshake record:
// plain HTTP reaching a TLS port. The first bytes of each are kept.
type sniffListener struct {
	net.Listener
	plain atomic.Int32
	mu    sync.Mutex
	seen  bytes.Buffer
}

func (l *sniffListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &sniffConn{Conn: c, l: l}, nil
}

type sniffConn struct {
	net.Conn
	l    *sniffListener
	once sync.Once
}

func (c *sniffConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.once.Do(func() {
			if p[0] != 0x16 {
				c.l.plain.Add(1)
				c.l.mu.Lock()
				c.l.seen.Write(p[:n])
				c.l.mu.Unlock()
			}
		})
	}
	return n, err
}

// tlsRegistry is an in-memory registry over TLS with httptest's self-signed certificate
// (valid for 127.0.0.1), asking for Basic credentials, its listener sniffed.
func tlsRegistry(t *testing.T) (*httptest.Server, *sniffListener) {
	t.Helper()
	reg := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "robot" || p != "tls-S3CRET" {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	})
	srv := httptest.NewUnstartedServer(h)
	sl := &sniffListener{Listener: srv.Listener}
	srv.Listener = sl
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, sl
}

func writeCA(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// A TLS registry whose certificate is not trusted is never spoken to in plain HTTP, though
// it is on 127.0.0.1 (a name go-containerregistry reaches in plain HTTP): the copy fails
// with the certificate error naming the host, and no byte of plain HTTP (no Basic
// credentials) reaches its port. With --ca-file the same registry works.
func TestUntrustedTLSRegistryIsNeverDowngraded(t *testing.T) {
	srv, sniff := tlsRegistry(t)
	host := strings.TrimPrefix(srv.URL, "https://")
	kc := []authn.Keychain{staticKeychain{host, "robot", "tls-S3CRET"}}
	dst := registrytest.New(t)
	img := platformImage(t, "linux", "amd64")
	pushImage(t, dst.Host+"/seed:1", img)

	strict := newStrictClient(t, ClientOptions{Keychains: kc, Insecure: []string{dst.Host}, DownAfter: -1})
	ctx := context.Background()
	_, err := strict.Copy(ctx, MustParseImageRef(dst.Host+"/seed:1"), MustParseImageRef(host+"/app:1"), PlatformAuto)
	var te *transport.TLSError
	if !errors.As(err, &te) || te.Host != host || !strings.Contains(err.Error(), "x509") || strings.Contains(err.Error(), "Bad Request") || strings.Contains(err.Error(), "HTTPS server") {
		t.Fatalf("push to an untrusted registry: %v; want a TLS error naming %s", err, host)
	}
	if _, err := strict.SourceDigest(ctx, MustParseImageRef(host+"/app:1"), PlatformAuto); !errors.As(err, &te) {
		t.Fatalf("pull from an untrusted registry: %v", err)
	}
	// go-containerregistry's own ping (a library that pings) falls back to http for such
	// names: the shared transport refuses it.
	if _, err := remote.Head(mustRef(t, host+"/app:1"), remote.WithTransport(strict.rt)); err == nil || !strings.Contains(err.Error(), "x509") {
		t.Fatalf("remote.Head over the shared transport: %v", err)
	}
	if n := sniff.plain.Load(); n != 0 {
		t.Fatalf("%d plain-HTTP connections reached the TLS registry; first bytes:\n%s", n, sniff.seen.String())
	}

	trusting := newStrictClient(t, ClientOptions{Keychains: kc, Insecure: []string{dst.Host}, CAFile: writeCA(t, srv)})
	if _, err := trusting.Copy(ctx, MustParseImageRef(dst.Host+"/seed:1"), MustParseImageRef(host+"/app:1"), PlatformAuto); err != nil {
		t.Fatalf("with --ca-file: %v", err)
	}
	got, err := trusting.SourceDigest(ctx, MustParseImageRef(host+"/app:1"), PlatformAuto)
	if err != nil || got != digestOf(t, img) {
		t.Fatalf("with --ca-file: digest %s, %v", got, err)
	}
	resp, err := trusting.HTTPClient().Get(srv.URL + "/v2/")
	if err != nil {
		t.Fatalf("HTTP client with --ca-file: %v", err)
	}
	resp.Body.Close()
	if n := sniff.plain.Load(); n != 0 {
		t.Fatalf("%d plain-HTTP connections", n)
	}
}

// A plain-HTTP registry on 127.0.0.1 not marked insecure gets no plain request at all, not
// even a first probe: the error says the host does not speak TLS and what to do.
func TestPlainRegistryNotMarkedInsecureGetsNoRequest(t *testing.T) {
	reg := registrytest.New(t)
	pushImage(t, reg.Host+"/app:1", platformImage(t, "linux", "amd64"))
	reg.Reset()
	c := newStrictClient(t, ClientOptions{Keychains: []authn.Keychain{staticKeychain{reg.Host, "u", "plain-S3CRET"}}})
	_, err := c.SourceDigest(context.Background(), MustParseImageRef(reg.Host+"/app:1"), PlatformAuto)
	var te *transport.TLSError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "--insecure-registry") {
		t.Fatalf("got %v; want a TLS error saying the host needs --insecure-registry", err)
	}
	if _, err := remote.Head(mustRef(t, reg.Host+"/app:1"), remote.WithTransport(c.rt)); err == nil {
		t.Fatal("go-containerregistry's ping reached the plain registry")
	}
	if n := len(reg.Requests()); n != 0 {
		t.Fatalf("%d plain-HTTP requests reached a host not marked insecure: %+v", n, reg.Requests())
	}
	ok := newTestClient(t, ClientOptions{Insecure: []string{reg.Host}})
	if _, err := ok.SourceDigest(context.Background(), MustParseImageRef(reg.Host+"/app:1"), PlatformAuto); err != nil {
		t.Fatalf("marked insecure: %v", err)
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
