package registry

import (
	"context"
	"errors"
	"github.com/airgap-charts/airgap-charts/registry/transport"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// A manifest fetched by tag whose body does not match the registry's Docker-Content-Digest
// (a proxy altered it) is refused, naming the image and both digests; nothing is pushed.
func TestTamperedManifestIsRefused(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	img := platformImage(t, "linux", "amd64")
	pushImage(t, src.Host+"/app:1", img)
	raw, _ := img.RawManifest()
	mt, _ := img.MediaType()
	real := digestOf(t, img)
	src.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if k, _ := registrytest.Classify(r); k != registrytest.ManifestGet {
			return false
		}
		w.Header().Set("Content-Type", string(mt))
		w.Header().Set("Docker-Content-Digest", real)
		_, _ = w.Write(append(append([]byte(nil), raw...), ' ')) // still valid JSON, not the same bytes
		return true
	})
	c := newTestClient(t, ClientOptions{})
	_, err := c.Copy(context.Background(), MustParseImageRef(src.Host+"/app:1"), MustParseImageRef(dst.Host+"/app:1"), PlatformAuto)
	var de *transport.ManifestDigestError
	if !errors.As(err, &de) || de.Image != src.Host+"/app:1" || de.Want != real || de.Got == real || !strings.Contains(err.Error(), de.Got) {
		t.Fatalf("got %v; want a refusal naming %s/app:1, %s and the body's digest", err, src.Host, real)
	}
	if n := dst.Count(registrytest.ManifestPut); n != 0 {
		t.Fatalf("%d manifests pushed from a tampered source", n)
	}
}

// A manifest body cut in the middle (the connection dropped) is fetched again.
func TestCutManifestBodyIsFetchedAgain(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	img := platformImage(t, "linux", "amd64")
	pushImage(t, src.Host+"/app:1", img)
	raw, _ := img.RawManifest()
	var cut atomic.Int32
	src.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if k, _ := registrytest.Classify(r); k != registrytest.ManifestGet || cut.Add(1) > 1 {
			return false
		}
		hj, ok := w.(http.Hijacker)
		if !ok {
			t.Error("no hijacker")
			return false
		}
		conn, buf, err := hj.Hijack()
		if err != nil {
			t.Error(err)
			return true
		}
		_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.distribution.manifest.v2+json\r\nContent-Length: " +
			strconv.Itoa(len(raw)) + "\r\n\r\n" + string(raw[:len(raw)/2]))
		_ = buf.Flush()
		conn.Close()
		return true
	})
	c := newTestClient(t, ClientOptions{RetryBackoff: 1})
	res, err := c.Copy(context.Background(), MustParseImageRef(src.Host+"/app:1"), MustParseImageRef(dst.Host+"/app:1"), PlatformAuto)
	if err != nil || res.DestDigest != digestOf(t, img) {
		t.Fatalf("copy after a cut manifest body: %+v, %v", res, err)
	}
	if n := cut.Load(); n < 2 {
		t.Fatalf("%d manifest GETs, want the cut one and another", n)
	}
}
