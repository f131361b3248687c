package registry

import (
	"context"
	"errors"
	"testing"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// ResolveSource: one HEAD for a tag and for a pinned digest (which a digest-only
// SourceDigest would not ask), the index read for a platform, and a missing tag or digest
// is ErrNotFound.
func TestResolveSource(t *testing.T) {
	src := registrytest.New(t)
	idx, _, arm64 := multiArch(t)
	pushIndex(t, src.Host+"/app:1", idx)
	c := newTestClient(t, ClientOptions{})
	ctx := context.Background()
	want := digestOf(t, idx)

	src.Reset()
	if d, err := c.ResolveSource(ctx, MustParseImageRef(src.Host+"/app:1"), PlatformAuto); err != nil || d != want {
		t.Fatalf("tag: %s, %v; want %s", d, err, want)
	}
	if d, err := c.ResolveSource(ctx, MustParseImageRef(src.Host+"/app:1@"+want), PlatformAuto); err != nil || d != want {
		t.Fatalf("pinned: %s, %v", d, err)
	}
	if n := src.Count(registrytest.ManifestHead); n != 2 || len(src.Requests()) != 2 {
		t.Fatalf("requests %v, want one HEAD each", src.Counts())
	}
	if d, err := c.ResolveSource(ctx, MustParseImageRef(src.Host+"/app:1"), MustParsePlatform("linux/arm64")); err != nil || d != digestOf(t, arm64) {
		t.Fatalf("linux/arm64: %s, %v", d, err)
	}
	for _, ref := range []string{src.Host + "/app:2", src.Host + "/none:1",
		src.Host + "/app:1@sha256:0000000000000000000000000000000000000000000000000000000000000000"} {
		if _, err := c.ResolveSource(ctx, MustParseImageRef(ref), PlatformAuto); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", ref, err)
		}
	}
	if n := src.Count(registrytest.BlobGet); n != 0 {
		t.Errorf("resolving read %d blobs", n)
	}
}
