package engine

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/airgap-charts/airgap-charts/registry/bundle"
)

// TestBundleIsOCILayout extracts every part of a bundle into its directory and reads the
// result with go-containerregistry's layout package: every image and chart of index.json
// is there, annotated with its reference, and validates (every blob, every digest).
func TestBundleIsOCILayout(t *testing.T) {
	w := newE2EWorld(t, bundleCharts[:2])
	dir := filepath.Join(t.TempDir(), "bundle")
	res := exportBundle(t, w, dir, ExportOptions{PartSize: 64 << 10})
	for _, p := range res.Manifest.Parts {
		extractPart(t, filepath.Join(dir, p.File), dir)
	}
	idx, im := layoutIndex(t, dir)
	if len(im.Manifests) != len(res.Manifest.Images)+len(res.Manifest.Charts) {
		t.Fatalf("index.json lists %d manifests, want %d images + %d charts", len(im.Manifests), len(res.Manifest.Images), len(res.Manifest.Charts))
	}
	refs := map[string]bool{}
	for _, d := range im.Manifests {
		ref := d.Annotations[bundle.AnnotationRefName]
		refs[ref] = true
		switch {
		case d.MediaType.IsIndex():
			// Each child validated alone: the synthetic images' configs name no platform,
			// which validate.Index would compare with the index's.
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				t.Fatalf("index %s (%s): %v", d.Digest, ref, err)
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
					t.Errorf("index %s (%s) child %s: %v", d.Digest, ref, c.Digest, err)
				}
			}
		default:
			img, err := idx.Image(d.Digest)
			if err == nil {
				err = validate.Image(img)
			}
			if err != nil {
				t.Errorf("manifest %s (%s): %v", d.Digest, ref, err)
			}
		}
	}
	for _, img := range res.Manifest.Images {
		if !refs[img.Ref] {
			t.Errorf("image %s not annotated in index.json", img.Ref)
		}
	}
	for _, c := range res.Manifest.Charts {
		if !refs["charts/"+c.Name+":"+c.Version] {
			t.Errorf("chart %s %s not in index.json", c.Name, c.Version)
		}
	}
}

func extractPart(t *testing.T, part, dir string) {
	t.Helper()
	f, err := os.Open(part)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(h.Name, "blobs/") {
			continue
		}
		p := filepath.Join(dir, h.Name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, tr); err != nil {
			t.Fatal(err)
		}
		out.Close()
	}
}

// layoutIndex opens the OCI image layout in dir: its index and index.json's manifest.
func layoutIndex(t *testing.T, dir string) (v1.ImageIndex, *v1.IndexManifest) {
	t.Helper()
	lp, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	return idx, im
}
