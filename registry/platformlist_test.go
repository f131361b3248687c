package registry

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

func TestParsePlatform(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "auto"},
		{"auto", "auto"},
		{"linux/arm64", "linux/arm64"},
		{"linux/arm64, linux/amd64", "linux/amd64,linux/arm64"},
		{"linux/amd64,linux/arm/v7,linux/amd64", "linux/amd64,linux/arm/v7"},
	} {
		p, err := ParsePlatform(tc.in)
		if err != nil || p.String() != tc.want {
			t.Errorf("ParsePlatform(%q) = %q, %v; want %q", tc.in, p, err, tc.want)
		}
	}
	if p := MustParsePlatform("linux/amd64,linux/arm64"); !p.List() || p.Auto() || len(p.want) != 2 {
		t.Errorf("a list of two: List %v Auto %v", p.List(), p.Auto())
	}
	if p := MustParsePlatform("linux/amd64"); p.List() || p.Auto() {
		t.Errorf("one platform is neither auto nor a list")
	}
	for _, bad := range []string{"linux", "linux/", "/amd64", "auto,linux/amd64", "linux/amd64,", "linux/amd64:10.0"} {
		if _, err := ParsePlatform(bad); err == nil {
			t.Errorf("ParsePlatform(%q) accepted", bad)
		}
	}
	if _, err := MustParsePlatform("linux/amd64").WithMissing("ignore"); err == nil {
		t.Errorf("WithMissing accepted an unknown policy")
	}
}

// threeArch is an index of linux/amd64, linux/arm64/v8 and linux/s390x images.
func threeArch(t *testing.T) (idx v1.ImageIndex, imgs map[string]v1.Image) {
	t.Helper()
	imgs = map[string]v1.Image{
		"amd64": platformImage(t, "linux", "amd64"),
		"arm64": platformImage(t, "linux", "arm64"),
		"s390x": platformImage(t, "linux", "s390x"),
	}
	idx = mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: imgs["amd64"], Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: imgs["arm64"], Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
		mutate.IndexAddendum{Add: imgs["s390x"], Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "s390x"}}},
	)
	return idx, imgs
}

// remoteIndex reads the index ref points at.
func remoteIndex(t *testing.T, ref string) *v1.IndexManifest {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	d, err := remote.Get(r)
	if err != nil {
		t.Fatalf("get %s: %v", ref, err)
	}
	if !d.MediaType.IsIndex() {
		t.Fatalf("%s is a %s, want an index", ref, d.MediaType)
	}
	m, err := v1.ParseIndexManifest(bytes.NewReader(d.Manifest))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// A list copies an index holding exactly the listed children: a new digest, reported as
// such, the other child left at the source; SourceDigest predicts the new digest.
func TestCopyPlatformListCopiesExactlyThoseChildren(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	idx, imgs := threeArch(t)
	pushIndex(t, src.Host+"/app:1", idx)
	c := newTestClient(t, ClientOptions{})
	ctx := context.Background()
	list := MustParsePlatform("linux/arm64,linux/amd64")

	res, err := c.Copy(ctx, MustParseImageRef(src.Host+"/app:1"), MustParseImageRef(dst.Host+"/app:1"), list)
	if err != nil {
		t.Fatal(err)
	}
	srcDigest := digestOf(t, idx)
	got := remoteIndex(t, dst.Host+"/app:1")
	var children []string
	for _, m := range got.Manifests {
		children = append(children, m.Digest.String())
	}
	want := []string{digestOf(t, imgs["amd64"]), digestOf(t, imgs["arm64"])}
	if strings.Join(children, " ") != strings.Join(want, " ") {
		t.Fatalf("destination index children %v, want exactly amd64 and arm64 %v", children, want)
	}
	if got.MediaType != types.OCIImageIndex {
		t.Fatalf("destination index media type %q", got.MediaType)
	}
	dd := remoteDigest(t, dst.Host+"/app:1")
	if dd == srcDigest || res.DestDigest != dd || res.SourceDigest != dd || res.SourceIndex != srcDigest {
		t.Fatalf("digests: destination %s, result %s/%s, source index %s (result %s): want a new index digest and the source's reported",
			dd, res.SourceDigest, res.DestDigest, srcDigest, res.SourceIndex)
	}
	if remoteDigest(t, dst.Host+"/app@"+digestOf(t, imgs["s390x"])) != "" {
		t.Fatalf("the s390x child was copied")
	}
	if len(res.Manifests) != 2 || res.LeftIndex == nil || res.LeftIndex.Digest.String() != srcDigest {
		t.Fatalf("referrer subjects %v, left index %v: want the two children and the source index left", res.Manifests, res.LeftIndex)
	}
	sd, err := c.SourceDigest(ctx, MustParseImageRef(src.Host+"/app:1"), list)
	if err != nil || sd != dd {
		t.Fatalf("SourceDigest = %s, %v; want the copied index %s", sd, err, dd)
	}

	// Listing every child keeps the source index as it is.
	all, err := c.Copy(ctx, MustParseImageRef(src.Host+"/app:1"), MustParseImageRef(dst.Host+"/app:all"),
		MustParsePlatform("linux/amd64,linux/arm64,linux/s390x"))
	if err != nil {
		t.Fatal(err)
	}
	if all.DestDigest != srcDigest || all.SourceIndex != "" || remoteDigest(t, dst.Host+"/app:all") != srcDigest {
		t.Fatalf("every child listed: destination %s (source index %q), want the source index %s", all.DestDigest, all.SourceIndex, srcDigest)
	}
}

// A listed platform the index lacks fails, naming the platforms it has; nothing is pushed.
func TestCopyPlatformListMissingFails(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	idx, _, _ := multiArch(t)
	pushIndex(t, src.Host+"/app:1", idx)
	c := newTestClient(t, ClientOptions{})
	_, err := c.Copy(context.Background(), MustParseImageRef(src.Host+"/app:1"), MustParseImageRef(dst.Host+"/app:1"),
		MustParsePlatform("linux/amd64,linux/ppc64le"))
	if err == nil {
		t.Fatal("copy succeeded without linux/ppc64le")
	}
	for _, s := range []string{src.Host + "/app:1", "lacks linux/ppc64le", "it has: linux/amd64, linux/arm64/v8", "--platform-missing skip"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	if n := dst.Count(registrytest.ManifestPut); n != 0 {
		t.Fatalf("%d manifests pushed", n)
	}
	if _, err := c.SourceDigest(context.Background(), MustParseImageRef(src.Host+"/app:1"), MustParsePlatform("linux/amd64,linux/ppc64le")); err == nil || !strings.Contains(err.Error(), "lacks linux/ppc64le") {
		t.Fatalf("SourceDigest err = %v, want the missing platform", err)
	}
}

// --platform-missing skip leaves the missing platform out and says so; a single-platform
// image carrying one listed platform is copied as it is.
func TestCopyPlatformListSkipMissing(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	idx, amd64, _ := multiArch(t)
	pushIndex(t, src.Host+"/app:1", idx)
	solo := platformImage(t, "linux", "amd64")
	pushImage(t, src.Host+"/solo:1", solo)
	c := newTestClient(t, ClientOptions{})
	ctx := context.Background()
	skip, err := MustParsePlatform("linux/amd64,linux/ppc64le").WithMissing(PlatformMissingSkip)
	if err != nil {
		t.Fatal(err)
	}

	res, err := c.Copy(ctx, MustParseImageRef(src.Host+"/app:1"), MustParseImageRef(dst.Host+"/app:1"), skip)
	if err != nil {
		t.Fatal(err)
	}
	got := remoteIndex(t, dst.Host+"/app:1")
	if len(got.Manifests) != 1 || got.Manifests[0].Digest.String() != digestOf(t, amd64) {
		t.Fatalf("destination index %v, want the amd64 child alone", got.Manifests)
	}
	if strings.Join(res.MissingPlatforms, ",") != "linux/ppc64le" {
		t.Fatalf("missing platforms %v, want linux/ppc64le", res.MissingPlatforms)
	}

	// A single-platform image: fails without skip, copied as it is with it.
	_, err = c.Copy(ctx, MustParseImageRef(src.Host+"/solo:1"), MustParseImageRef(dst.Host+"/solo:1"), MustParsePlatform("linux/amd64,linux/arm64"))
	if err == nil || !strings.Contains(err.Error(), "single-platform image for linux/amd64: it lacks linux/arm64") {
		t.Fatalf("err = %v, want the single-platform image's missing platform named", err)
	}
	skip2, _ := MustParsePlatform("linux/amd64,linux/arm64").WithMissing(PlatformMissingSkip)
	res, err = c.Copy(ctx, MustParseImageRef(src.Host+"/solo:1"), MustParseImageRef(dst.Host+"/solo:1"), skip2)
	if err != nil {
		t.Fatal(err)
	}
	if d := remoteDigest(t, dst.Host+"/solo:1"); d != digestOf(t, solo) || strings.Join(res.MissingPlatforms, ",") != "linux/arm64" {
		t.Fatalf("solo: destination %s, missing %v; want the image itself and linux/arm64 missing", d, res.MissingPlatforms)
	}

	// Nothing listed is there: a failure even with skip.
	none, _ := MustParsePlatform("linux/ppc64le,linux/riscv64").WithMissing(PlatformMissingSkip)
	if _, err := c.Copy(ctx, MustParseImageRef(src.Host+"/app:1"), MustParseImageRef(dst.Host+"/app:2"), none); err == nil || !strings.Contains(err.Error(), "none of the platforms") {
		t.Fatalf("err = %v, want none of the platforms", err)
	}
}
