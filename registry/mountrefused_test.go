package registry

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// refuseMounts answers every mount request of reg with refuse (counting them) and lets
// every other request through.
func refuseMounts(reg *registrytest.Registry, refuse func(w http.ResponseWriter, r *http.Request)) func() int {
	var mu sync.Mutex
	n := 0
	reg.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPost || r.URL.Query().Get("mount") == "" {
			return false
		}
		mu.Lock()
		n++
		mu.Unlock()
		refuse(w, r)
		return true
	})
	return func() int {
		mu.Lock()
		defer mu.Unlock()
		return n
	}
}

func registryErrorAnswer(status int, code string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"errors":[{"code":"` + code + `","message":"mount refused"}]}`))
	}
}

// A refused cross-repository mount (401, 403 DENIED, 404, or a 201 that does not name the
// blob) is not a failed image: the blob is uploaded instead, as go-containerregistry
// does, and a host whose mounts never worked is not asked again.
func TestCopyRefusedMountUploadsInstead(t *testing.T) {
	for _, tc := range []struct {
		name   string
		refuse func(http.ResponseWriter, *http.Request)
	}{
		{"401", registryErrorAnswer(http.StatusUnauthorized, "UNAUTHORIZED")},
		{"403 DENIED", registryErrorAnswer(http.StatusForbidden, "DENIED")},
		{"404", registryErrorAnswer(http.StatusNotFound, "BLOB_UNKNOWN")},
		{"201 upload session", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", strings.TrimSuffix(r.URL.Path, "/")+"/not-a-mount")
			w.WriteHeader(http.StatusCreated)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, dst := registrytest.New(t), registrytest.New(t)
			a, b := sharedImages(t)
			pushImage(t, src.Host+"/a:1", a)
			pushImage(t, src.Host+"/b:1", b)
			mounts := refuseMounts(dst, tc.refuse)
			c := newTestClient(t, ClientOptions{Concurrency: 2})
			ctx := context.Background()
			if _, err := c.Copy(ctx, MustParseImageRef(src.Host+"/a:1"), MustParseImageRef(dst.Host+"/a:1"), PlatformAuto); err != nil {
				t.Fatal(err)
			}
			res, err := c.Copy(ctx, MustParseImageRef(src.Host+"/b:1"), MustParseImageRef(dst.Host+"/b:1"), PlatformAuto)
			if err != nil {
				t.Fatalf("copy after a refused mount: %v", err)
			}
			if res.Mounted != 0 || res.Blobs != 4 {
				t.Errorf("result %+v, want 4 blobs, none mounted", res)
			}
			if n := mounts(); n != 1 {
				t.Errorf("mount attempts = %d, want 1 then none", n)
			}
			if got := remoteDigest(t, dst.Host+"/b:1"); got != digestOf(t, b) {
				t.Errorf("b digest %s, want %s", got, digestOf(t, b))
			}
		})
	}
}

// On a host whose mounts worked, a refused mount (that source repository's alone, say) is
// uploaded instead, and later mounts are still asked for.
func TestCopyRefusedMountOnAMountingHost(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	a, b := sharedImages(t)
	pushImage(t, src.Host+"/a:1", a)
	pushImage(t, src.Host+"/b:1", b)
	c := newTestClient(t, ClientOptions{Concurrency: 2})
	ctx := context.Background()
	for _, repo := range []string{"/a:1", "/a2:1"} {
		if _, err := c.Copy(ctx, MustParseImageRef(src.Host+"/a:1"), MustParseImageRef(dst.Host+repo), PlatformAuto); err != nil {
			t.Fatal(err)
		}
	}
	if n := dst.Count(registrytest.Mount); n == 0 {
		t.Fatal("the second repository mounted nothing: the host's mounts are not confirmed")
	}
	mounts := refuseMounts(dst, registryErrorAnswer(http.StatusForbidden, "DENIED"))
	res, err := c.Copy(ctx, MustParseImageRef(src.Host+"/b:1"), MustParseImageRef(dst.Host+"/b:1"), PlatformAuto)
	if err != nil {
		t.Fatalf("copy after a refused mount: %v", err)
	}
	if res.Mounted != 0 || res.Blobs != 4 {
		t.Errorf("result %+v, want 4 blobs, none mounted", res)
	}
	if n := mounts(); n != 2 {
		t.Errorf("mount attempts = %d, want one per shared blob (the host mounts)", n)
	}
	if got := remoteDigest(t, dst.Host+"/b:1"); got != digestOf(t, b) {
		t.Errorf("b digest %s, want %s", got, digestOf(t, b))
	}
}
