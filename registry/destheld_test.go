package registry

import (
	"context"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// A new version of an image whose repository the destination already holds (four shared
// layers, then a new layer and a new config): copied WithDestinationHeld by a client that
// has not seen the destination before (the next night's run), it pulls exactly the two
// blobs the destination lacks; the four it holds are asked about, and neither opened at
// the source nor given an upload session.
func TestCopyWithDestinationHeldPullsOnlyWhatIsMissing(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	old, err := mutate.AppendLayers(platformImage(t, "linux", "amd64"), randomLayer(t), randomLayer(t))
	if err != nil {
		t.Fatal(err)
	}
	next, err := mutate.AppendLayers(old, randomLayer(t))
	if err != nil {
		t.Fatal(err)
	}
	pushImage(t, src.Host+"/app:1", old)
	pushImage(t, src.Host+"/app:2", next)
	ctx := context.Background()
	if _, err := newTestClient(t, ClientOptions{}).Copy(ctx, MustParseImageRef(src.Host+"/app:1"), MustParseImageRef(dst.Host+"/app:1"), PlatformAuto); err != nil {
		t.Fatal(err)
	}
	src.Reset()
	dst.Reset()
	res, err := newTestClient(t, ClientOptions{}).Copy(ctx, MustParseImageRef(src.Host+"/app:2"), MustParseImageRef(dst.Host+"/app:2"), PlatformAuto, WithDestinationHeld())
	if err != nil {
		t.Fatal(err)
	}
	if got := src.Count(registrytest.BlobGet); got != 2 {
		t.Fatalf("%d source blob GETs, want the 2 blobs the destination lacked (a layer and the config)", got)
	}
	if got := dst.Count(registrytest.UploadStart); got != 2 {
		t.Fatalf("%d upload sessions opened at the destination, want one for each of the 2 blobs it lacked", got)
	}
	if res.Reused != 4 {
		t.Fatalf("reused %d blobs, want the 4 layers the repository held", res.Reused)
	}
	if got, want := remoteDigest(t, dst.Host+"/app:2"), digestOf(t, next); got != want {
		t.Fatalf("digest %s, want %s", got, want)
	}
}

func randomLayer(t *testing.T) v1.Layer {
	t.Helper()
	l, err := random.Layer(2048, "application/vnd.oci.image.layer.v1.tar+gzip")
	if err != nil {
		t.Fatal(err)
	}
	return l
}
