package registry

import (
	"context"
	"errors"
	"fmt"
	"github.com/airgap-charts/airgap-charts/registry/transport"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// holdUntilEnd is a channel closed when the test ends: handlers block on it to stall.
func holdUntilEnd(t *testing.T) <-chan struct{} {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	return release
}

// A registry that never sends response headers: each attempt is abandoned after the
// request timeout and retried; the error names the host and what it waited for.
func TestStalledHeadersAreRetriedThenNamed(t *testing.T) {
	src := registrytest.New(t)
	pushImage(t, src.Host+"/app:1", platformImage(t, "linux", "amd64"))
	hold := holdUntilEnd(t)
	var attempts atomic.Int32
	src.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if k, _ := registrytest.Classify(r); k == registrytest.ManifestHead {
			attempts.Add(1)
			<-hold
			return true
		}
		return false
	})
	c := newTestClient(t, ClientOptions{RequestTimeout: 50 * time.Millisecond, Retries: 2, RetryBackoff: time.Millisecond})
	_, err := c.SourceDigest(context.Background(), MustParseImageRef(src.Host+"/app:1"), PlatformAuto)
	var se *transport.StallError
	if !errors.As(err, &se) || se.Host != src.Host || !strings.Contains(err.Error(), "response headers to HEAD /v2/app/manifests/1") {
		t.Fatalf("got %v; want a stall naming %s and the manifest HEAD", err, src.Host)
	}
	if n := attempts.Load(); n != 3 {
		t.Fatalf("%d attempts, want 3 (the first and 2 retries)", n)
	}
}

// A blob download that stops in the middle: the transfer is retried, then fails naming
// the host and the body that stalled. A slow body that keeps moving does not trip it.
func TestStalledBlobBodyIsRetriedThenNamed(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	img := platformImage(t, "linux", "amd64")
	pushImage(t, src.Host+"/app:1", img)
	layers, _ := img.Layers()
	stalled, _ := layers[0].Digest()
	hold := holdUntilEnd(t)
	var gets atomic.Int32
	src.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		k, _ := registrytest.Classify(r)
		if k != registrytest.BlobGet || !strings.HasSuffix(r.URL.Path, stalled.String()) {
			return false
		}
		gets.Add(1)
		w.Header().Set("Content-Length", "4096")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(make([]byte, 100))
		w.(http.Flusher).Flush()
		<-hold
		return true
	})
	c := newTestClient(t, ClientOptions{StallTimeout: 50 * time.Millisecond, RetryBackoff: time.Millisecond})
	_, err := c.Copy(context.Background(), MustParseImageRef(src.Host+"/app:1"), MustParseImageRef(dst.Host+"/app:1"), PlatformAuto)
	var se *transport.StallError
	// The stall names the blob body; the whole message names the blob's digest once.
	if !errors.As(err, &se) || se.Host != src.Host || !strings.Contains(se.Error(), "the body of GET /v2/app/blobs/"+stalled.String()) ||
		strings.Count(err.Error(), stalled.String()) != 1 {
		t.Fatalf("got %v; want a stall naming %s and the blob body", err, src.Host)
	}
	if n := gets.Load(); n != blobAttempts {
		t.Fatalf("%d downloads of the stalled blob, want %d", n, blobAttempts)
	}
}

// A destination that refuses connections is marked down after transport.DefaultDownAfter failures in
// a row: the rest of the queued copies fail at once, without dialling, with one clear error.
func TestDeadDestinationFailsFast(t *testing.T) {
	src := registrytest.New(t)
	for i := range 10 {
		pushImage(t, fmt.Sprintf("%s/app%d:1", src.Host, i), platformImage(t, "linux", "amd64"))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	var mu sync.Mutex
	dials := map[string]int{}
	d := &net.Dialer{}
	c := newTestClient(t, ClientOptions{Destination: dead, RetryBackoff: time.Millisecond,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			mu.Lock()
			dials[addr]++
			mu.Unlock()
			return d.DialContext(ctx, network, addr)
		}})
	want := "destination " + dead + " unreachable: connection refused"
	for i := range 10 {
		_, err := c.Copy(context.Background(), MustParseImageRef(fmt.Sprintf("%s/app%d:1", src.Host, i)), MustParseImageRef(fmt.Sprintf("%s/app%d:1", dead, i)), PlatformAuto)
		var down *transport.HostDownError
		if !errors.As(err, &down) || !strings.Contains(err.Error(), want) {
			t.Fatalf("copy %d: %v; want %q", i, err, want)
		}
	}
	mu.Lock()
	n := dials[dead]
	mu.Unlock()
	t.Logf("connection attempts to the dead destination: %d for 10 copies", n)
	if n < transport.DefaultDownAfter || n > transport.DefaultDownAfter+manifestFanout {
		t.Fatalf("%d connection attempts to %s; want %d, plus at most the %d sent at once", n, dead, transport.DefaultDownAfter, manifestFanout)
	}
}

// A 429 asking for a long pause logs one line saying what is waited for and until when.
func TestLongWaitIsLogged(t *testing.T) {
	src := registrytest.New(t)
	pushImage(t, src.Host+"/app:1", platformImage(t, "linux", "amd64"))
	src.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusTooManyRequests)
		return true
	})
	logged := make(chan observer.LoggedEntry, 8)
	obs, entries := observer.New(zapcore.InfoLevel)
	log := zap.New(zapcore.RegisterHooks(obs, func(zapcore.Entry) error {
		for _, e := range entries.TakeAll() {
			logged <- e
		}
		return nil
	}))
	c := newTestClient(t, ClientOptions{Logger: log})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := c.SourceDigest(ctx, MustParseImageRef(src.Host+"/app:1"), PlatformAuto)
		done <- err
	}()
	e := <-logged
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("after cancel: %v", err)
	}
	f := e.ContextMap()
	until, _ := f["until"].(time.Time)
	if !strings.Contains(e.Message, "429") || f["host"] != src.Host || until.Before(start.Add(29*time.Second)) {
		t.Fatalf("logged %q %v; want the 429 pause of %s until 30s from now", e.Message, f, src.Host)
	}
}
