package registrytest

import (
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestRegistryCountsRequests(t *testing.T) {
	reg := New(t)
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewTag(reg.Host+"/a/b:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("push: %v", err)
	}
	if got := reg.Count(ManifestPut); got != 1 {
		t.Fatalf("manifest PUTs = %d, want 1", got)
	}
	reg.Reset()
	if _, err := remote.Image(ref); err != nil {
		t.Fatalf("pull: %v", err)
	}
	if got := reg.Count(ManifestGet); got != 1 {
		t.Fatalf("manifest GETs = %d, want 1 (%v)", got, reg.Requests())
	}
	for _, q := range reg.Requests() {
		if q.Repository != "" && q.Repository != "a/b" {
			t.Fatalf("repository = %q, want a/b", q.Repository)
		}
	}
}
