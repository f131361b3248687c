package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/registry/bundle"
	"github.com/airgap-charts/airgap-charts/registry/referrertest"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// seedPlatforms pushes, where the mirror serves ref, an index with one small image per
// linux architecture given, and returns its children's digests by architecture.
func seedPlatforms(t *testing.T, w *e2eWorld, ref registry.ImageRef, archs ...string) map[string]string {
	t.Helper()
	tag, err := name.NewTag(fmt.Sprintf("%s/%s/%s:%s", w.src.Host, ref.Registry, ref.Repository, ref.Tag), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	var adds []mutate.IndexAddendum
	children := map[string]string{}
	for _, arch := range archs {
		img, err := random.Image(1024, 1)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		children[arch] = d.String()
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	idx := mutate.AppendManifests(empty.Index, adds...)
	if err := remote.WriteIndex(tag, idx); err != nil {
		t.Fatal(err)
	}
	d, _ := idx.Digest()
	w.digests[ref.Name()+":"+ref.Tag] = d.String()
	return children
}

// A platform choice travels: for one platform, a list the index only partly has (a new
// index holding the chosen children), and a list with a platform it lacks left out
// (--platform-missing skip), the bundle holds the source index and the chosen children
// only, and the import, reading nothing from the sources, puts at the destination the
// digest a direct sync puts, with the same report: source index digest, missing platforms,
// the children's referrers copied and the source index's reported not applicable.
func TestBundlePlatformList(t *testing.T) {
	w := newE2EWorld(t, []string{"alertmanager"})
	ref := w.expected["alertmanager"][0]
	children := seedPlatforms(t, w, ref, "amd64", "arm64", "s390x")
	srcRepo, subjects := signSeeded(t, w, ref, referrertest.NewSigner(t))
	// An SBOM of the source index: not applicable to the chosen children, it is listed in
	// the bundle and never read.
	indexSBOM := referrertest.SBOM(t, srcRepo, subjects[0])
	// And one under cosign's tag (sha256-<hex>.sbom): its tag is answered, its bytes are not there.
	cosignSBOM, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(srcRepo.Tag(subjects[0].Digest.Algorithm+"-"+subjects[0].Digest.Hex+".sbom"), cosignSBOM); err != nil {
		t.Fatal(err)
	}
	cosignSBOMDigest, _ := cosignSBOM.Digest()

	cases := []struct {
		platform, missing string
		kept              []string
	}{
		{"linux/arm64", "", []string{"arm64"}},
		{"linux/amd64,linux/s390x", "", []string{"amd64", "s390x"}},
		{"linux/amd64,linux/ppc64le", registry.PlatformMissingSkip, []string{"amd64"}},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.platform, "/", "-"), func(t *testing.T) {
			p := registry.MustParsePlatform(tc.platform)
			if tc.missing != "" {
				var err error
				if p, err = p.WithMissing(tc.missing); err != nil {
					t.Fatal(err)
				}
			}
			set := func(o *Options) { o.Platform = p }

			direct, _, srep := directSync(t, w, set)
			checkAddonsSucceeded(t, srep)

			dir := filepath.Join(t.TempDir(), "bundle")
			m := exportBundleWith(t, w, dir, set).Manifest
			has := m.BlobTable()
			for arch, d := range children {
				_, in := has[d]
				if want := slices.Contains(tc.kept, arch); in != want {
					t.Errorf("child %s (%s) in the bundle: %v, want %v", arch, d, in, want)
				}
			}
			for _, d := range []string{indexSBOM.Digest.String(), cosignSBOMDigest.String()} {
				if _, in := has[d]; in {
					t.Errorf("the source index's SBOM %s is held in the bundle; only its listing should travel", d)
				}
			}
			img := m.Images[0]
			if img.SourceDigest != w.sourceDigest(ref) || img.Digest != imageReport(t, srep, ref).DestDigest {
				t.Errorf("bundle image: source %s digest %s; want source %s and the digest a sync puts, %s",
					img.SourceDigest, img.Digest, w.sourceDigest(ref), imageReport(t, srep, ref).DestDigest)
			}

			checkLayoutComplete(t, dir, m)

			dst := registrytest.New(t)
			ir, err := importChecked(t, w, bundleImportOptions(dst.Host, t.TempDir()), dir)
			if err != nil {
				t.Fatal(err)
			}
			checkAddonsSucceeded(t, ir.Report)
			compareReports(t, srep, direct.Host, ir.Report, dst.Host)
			a, b := imageReport(t, srep, ref), imageReport(t, ir.Report, ref)
			if a.SourceIndexDigest != b.SourceIndexDigest || !reflect.DeepEqual(a.MissingPlatforms, b.MissingPlatforms) {
				t.Errorf("platform report: sync %q %v, import %q %v", a.SourceIndexDigest, a.MissingPlatforms, b.SourceIndexDigest, b.MissingPlatforms)
			}
			if a.Referrers == nil || b.Referrers == nil || !reflect.DeepEqual(a.Referrers.Copied, b.Referrers.Copied) ||
				!reflect.DeepEqual(a.Referrers.NotApplicable, b.Referrers.NotApplicable) || !slices.Contains(a.Referrers.NotApplicable, indexSBOM.Digest.String()) ||
				!slices.Contains(a.Referrers.NotApplicable, cosignSBOMDigest.String()) {
				t.Errorf("referrers: sync %+v, import %+v", a.Referrers, b.Referrers)
			}
			tag, _ := name.NewTag(b.Destination, name.Insecure)
			got, err := remote.Head(tag)
			if err != nil || got.Digest.String() != a.DestDigest {
				t.Errorf("destination %s holds %v (%v), a sync put %s", b.Destination, got, err, a.DestDigest)
			}
		})
	}
}

// checkLayoutComplete extracts the bundle's parts beside a copy of its index.json and
// checks that every image index.json names is complete: every child and blob is there.
func checkLayoutComplete(t *testing.T, dir string, m *bundle.Manifest) {
	t.Helper()
	ldir := t.TempDir()
	for _, f := range []string{bundle.IndexFile, bundle.LayoutFile} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ldir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range m.Parts {
		extractPart(t, filepath.Join(dir, p.File), ldir)
	}
	idx, im := layoutIndex(t, ldir)
	for _, d := range im.Manifests {
		if d.Annotations[bundle.AnnotationChartName] != "" {
			continue
		}
		if !d.MediaType.IsIndex() {
			img, err := idx.Image(d.Digest)
			if err == nil {
				err = validate.Image(img)
			}
			if err != nil {
				t.Errorf("image %s: %v", d.Digest, err)
			}
			continue
		}
		child, err := idx.ImageIndex(d.Digest)
		if err != nil {
			t.Fatalf("index %s: %v", d.Digest, err)
		}
		cm, err := child.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cm.Manifests {
			img, err := child.Image(c.Digest)
			if err == nil {
				err = validate.Image(img)
			}
			if err != nil {
				t.Errorf("index %s child %s: %v", d.Digest, c.Digest, err)
			}
		}
	}
}
