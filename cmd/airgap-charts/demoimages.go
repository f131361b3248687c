package main

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/airgap-charts/airgap-charts/registry"
)

// demoPlatforms are the platforms of every demo image.
var demoPlatforms = []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}

// demoImage builds the multi-arch OCI index the demo serves for ref: per platform, one
// uncompressed layer holding a file that names the image and the platform. Nothing in it
// depends on the time or on chance, so a reference always yields the same digest: the
// digest a demo chart may pin. ref's own digest, if any, takes no part.
func demoImage(ref registry.ImageRef) (v1.ImageIndex, error) {
	ref.Digest = ""
	var adds []mutate.IndexAddendum
	for _, p := range demoPlatforms {
		layer, err := demoLayer(fmt.Sprintf("%s for %s/%s, built by airgap-charts demo\n", ref, p.OS, p.Architecture))
		if err != nil {
			return nil, err
		}
		img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
		if err != nil {
			return nil, err
		}
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
		cfg, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		cfg = cfg.DeepCopy()
		cfg.OS, cfg.Architecture = p.OS, p.Architecture
		cfg.Config.Entrypoint = []string{"/bin/demo"}
		if img, err = mutate.ConfigFile(img, cfg); err != nil {
			return nil, err
		}
		platform := p
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &platform}})
	}
	return mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...), nil
}

// demoLayer is a tar of one file, etc/airgap-charts-demo, holding content.
func demoLayer(content string) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdr := &tar.Header{Name: "etc/airgap-charts-demo", Mode: 0o644, Size: int64(len(content)),
		ModTime: time.Unix(0, 0).UTC(), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := tw.Write([]byte(content)); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return static.NewLayer(buf.Bytes(), types.OCIUncompressedLayer), nil
}

// seedImage pushes demoImage(ref) where the demo source registry at host serves ref (under
// host/REGISTRY/REPOSITORY:TAG, as the --registry-mirror the demo sets expects) and
// returns its digest. A ref that pins a digest must pin this one.
func seedImage(ctx context.Context, host string, ref registry.ImageRef) (string, error) {
	idx, err := demoImage(ref)
	if err != nil {
		return "", fmt.Errorf("build demo image %s: %w", ref, err)
	}
	d, err := idx.Digest()
	if err != nil {
		return "", fmt.Errorf("demo image %s: %w", ref, err)
	}
	if ref.Digest != "" && ref.Digest != d.String() {
		return "", fmt.Errorf("demo image %s: the demo builds %s, the chart pins another digest", ref, d)
	}
	tag, err := name.NewTag(fmt.Sprintf("%s/%s/%s:%s", host, ref.Registry, ref.Repository, ref.Tag), name.Insecure)
	if err != nil {
		return "", fmt.Errorf("demo image %s: %w", ref, err)
	}
	if err := remote.WriteIndex(tag, idx, remote.WithContext(ctx)); err != nil {
		return "", fmt.Errorf("push demo image %s to %s: %w", ref, tag, err)
	}
	return d.String(), nil
}
