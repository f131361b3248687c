package registry

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// Planning an index for a layout reads its children side by side, and still plans them in
// the index's order: every child, then the index. Each child's GET is held until a second
// one is in flight (or a generous deadline passes), so the test sees the overlap without
// measuring any time.
func TestPlanLayoutCopyReadsAnIndexsChildrenAtOnce(t *testing.T) {
	src := registrytest.New(t)
	var adds []mutate.IndexAddendum
	var children []string
	for _, arch := range []string{"amd64", "arm64", "ppc64le", "s390x"} {
		img := platformImage(t, "linux", arch)
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
		children = append(children, digestOf(t, img))
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	pushIndex(t, src.Host+"/lib/app:1", idx)

	gets := registrytest.NewOverlap()
	src.Intercept(func(_ http.ResponseWriter, r *http.Request) bool {
		if k, _ := registrytest.Classify(r); k == registrytest.ManifestGet && strings.Contains(r.URL.Path, "/manifests/sha256:") {
			gets.Enter()
			gets.Leave()
		}
		return false
	})
	c := newTestClient(t, ClientOptions{Concurrency: 2})
	li, err := c.PlanLayoutCopy(context.Background(), MustParseImageRef(src.Host+"/lib/app:1"), PlatformAuto)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range li.Manifests {
		got = append(got, m.Desc.Digest.String())
	}
	want := append(append([]string(nil), children...), digestOf(t, idx))
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("manifests planned %v, want the children in order, then the index: %v", got, want)
	}
	if most := gets.Most(); most < 2 {
		t.Fatalf("at most %d child manifest read at once: an index's children are read one after another", most)
	}
}
