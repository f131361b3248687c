// Package benchmarks measures airgap-charts against its peers on a synthetic fleet of charts
// and images, served by real registries behind a WAN-emulating proxy.
package benchmarks

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// FleetOptions shapes a synthetic fleet. Zero values take the documented defaults.
type FleetOptions struct {
	Seed   uint64 // everything is derived from it; 0 is a valid seed
	Charts int    // number of charts; 0: 10
	Images int    // distinct image references (repository:tag); 0: 25

	// SourceName is the registry host the charts' image references carry ("docker.io"
	// unless set); tools reach it through a mirror of the source registry.
	SourceName string
	// Namespace is the first path segment of every image repository; "" : "benchfleet".
	Namespace string

	BaseLayers      int   // shared base layers per architecture; 0: 6
	BaseLayerSize   int64 // bytes of each base layer's payload; 0: 256 KiB
	UniqueLayerSize int64 // bytes of each image's own layers; 0: 32 KiB

	// MultiArchFraction of images are indexes of linux/amd64 + linux/arm64; the rest are
	// single linux/amd64 manifests. Negative: none; 0: 0.5.
	MultiArchFraction float64
	// PinnedFraction of the charts' image references carry a digest; negative: none; 0: 0.1.
	PinnedFraction float64
	// SecondTagFraction of images are a second tag of a repository that already has one;
	// negative: none; 0: 0.2.
	SecondTagFraction float64
}

func (o FleetOptions) withDefaults() FleetOptions {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.Charts, 10)
	def(&o.Images, 25)
	def(&o.BaseLayers, 6)
	if o.BaseLayerSize <= 0 {
		o.BaseLayerSize = 256 << 10
	}
	if o.UniqueLayerSize <= 0 {
		o.UniqueLayerSize = 32 << 10
	}
	frac := func(v *float64, d float64) {
		switch {
		case *v < 0:
			*v = 0
		case *v == 0:
			*v = d
		}
	}
	frac(&o.MultiArchFraction, 0.5)
	frac(&o.PinnedFraction, 0.1)
	frac(&o.SecondTagFraction, 0.2)
	if o.SourceName == "" {
		o.SourceName = "docker.io"
	}
	if o.Namespace == "" {
		o.Namespace = "benchfleet"
	}
	return o
}

// FleetImage is one distinct image reference of the fleet.
type FleetImage struct {
	Repository string  // path in the source registry, e.g. benchfleet/app-007
	Tag        string  // e.g. 1.0.7
	Digest     v1.Hash // digest of the top-level manifest (index or image)
	MultiArch  bool
	Manifests  int       // manifests under the tag: 1, or 3 for an index of two
	Blobs      []v1.Hash // configs and layers, each once
	content    artifact
}

// Ref is repository:tag under host.
func (i FleetImage) Ref(host string) string { return host + "/" + i.Repository + ":" + i.Tag }

// ImageUse is one image reference in a chart.
type ImageUse struct {
	Image      int  // index into Fleet.Images
	Pinned     bool // referenced as repository:tag@digest
	Deployment int  // 0 or 1
}

// FleetChart is one synthetic chart.
type FleetChart struct {
	Name    string
	Version string
	Uses    []ImageUse
}

// Fleet is a generated set of charts and images, deterministic from its options.
type Fleet struct {
	Options FleetOptions
	Images  []FleetImage
	Charts  []FleetChart

	blobSize map[v1.Hash]int64
	moved    map[int]FleetImage // image index → moved content (see MoveTags)
}

// artifact is what is pushed under a tag: an image or an index.
type artifact interface {
	Digest() (v1.Hash, error)
}

// NewFleet generates a fleet. It builds every blob in memory.
func NewFleet(opts FleetOptions) (*Fleet, error) {
	o := opts.withDefaults()
	if o.Images > 6*o.Charts {
		return nil, fmt.Errorf("fleet: %d images do not fit in %d charts of at most 6 images", o.Images, o.Charts)
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x61697267))
	f := &Fleet{Options: o, blobSize: map[v1.Hash]int64{}, moved: map[int]FleetImage{}}
	g := &generator{rng: rng, o: o, base: map[string][]v1.Layer{}}
	for _, arch := range []string{"amd64", "arm64"} {
		for i := 0; i < o.BaseLayers; i++ {
			l, err := g.layer(fmt.Sprintf("base-%s-%d", arch, i), o.BaseLayerSize)
			if err != nil {
				return nil, err
			}
			g.base[arch] = append(g.base[arch], l)
		}
	}
	repos := 0
	for i := 0; i < o.Images; i++ {
		var repo string
		if i > 0 && rng.Float64() < o.SecondTagFraction {
			repo = f.Images[rng.IntN(len(f.Images))].Repository
		} else {
			repo = fmt.Sprintf("%s/app-%03d", o.Namespace, repos)
			repos++
		}
		img := FleetImage{Repository: repo, Tag: fmt.Sprintf("1.%d.%d", i/100, i%100)}
		img.MultiArch = rng.Float64() < o.MultiArchFraction
		if err := g.build(&img, 0); err != nil {
			return nil, err
		}
		f.Images = append(f.Images, img)
	}
	for i := range f.Images {
		f.account(f.Images[i])
	}
	f.Charts = assignCharts(rng, o)
	return f, nil
}

func (f *Fleet) account(img FleetImage) {
	for _, b := range img.Blobs {
		if _, ok := f.blobSize[b]; !ok {
			f.blobSize[b] = img.blobSizes()[b]
		}
	}
}

// assignCharts gives each chart 2–6 images, every image used at least once, images shared.
func assignCharts(rng *rand.Rand, o FleetOptions) []FleetChart {
	sizes := make([]int, o.Charts)
	total := 0
	for i := range sizes {
		sizes[i] = 2 + rng.IntN(5)
		total += sizes[i]
	}
	for total < o.Images {
		i := rng.IntN(o.Charts)
		if sizes[i] < 6 {
			sizes[i]++
			total++
		}
	}
	type slot struct{ chart int }
	var slots []slot
	for c, n := range sizes {
		for j := 0; j < n; j++ {
			slots = append(slots, slot{c})
		}
	}
	rng.Shuffle(len(slots), func(a, b int) { slots[a], slots[b] = slots[b], slots[a] })
	charts := make([]FleetChart, o.Charts)
	has := make([]map[int]bool, o.Charts)
	for c := range charts {
		charts[c] = FleetChart{Name: fmt.Sprintf("bench-chart-%03d", c), Version: fmt.Sprintf("1.0.%d", c%7)}
		has[c] = map[int]bool{}
	}
	for s, sl := range slots {
		img := s
		if s >= o.Images {
			img = rng.IntN(o.Images)
			for has[sl.chart][img] {
				img = (img + 1) % o.Images
			}
		}
		if has[sl.chart][img] {
			continue
		}
		has[sl.chart][img] = true
		charts[sl.chart].Uses = append(charts[sl.chart].Uses, ImageUse{Image: img, Pinned: rng.Float64() < o.PinnedFraction})
	}
	for c := range charts {
		uses := charts[c].Uses
		sort.Slice(uses, func(a, b int) bool { return uses[a].Image < uses[b].Image })
		if len(uses) >= 3 && rng.IntN(2) == 0 {
			for j := len(uses) / 2; j < len(uses); j++ {
				uses[j].Deployment = 1
			}
		}
	}
	if o.PinnedFraction > 0 && !anyPinned(charts) {
		charts[0].Uses[0].Pinned = true
	}
	return charts
}

func anyPinned(charts []FleetChart) bool {
	for _, c := range charts {
		for _, u := range c.Uses {
			if u.Pinned {
				return true
			}
		}
	}
	return false
}

type generator struct {
	rng  *rand.Rand
	o    FleetOptions
	base map[string][]v1.Layer
}

// layer makes a gzip'd tar (stored, not compressed, so it is cheap) of one random file.
func (g *generator) layer(name string, size int64) (v1.Layer, error) {
	payload := make([]byte, size)
	for i := 0; i+8 <= len(payload); i += 8 {
		v := g.rng.Uint64()
		for j := 0; j < 8; j++ {
			payload[i+j] = byte(v >> (8 * j))
		}
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.NoCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: "data/" + name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(payload); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	raw := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(raw)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// platformImage builds one linux/ARCH image: a shared base layer plus 1–2 own layers.
func (g *generator) platformImage(id, arch string) (v1.Image, error) {
	layers := []v1.Layer{g.base[arch][g.rng.IntN(len(g.base[arch]))]}
	for i := 0; i < 1+g.rng.IntN(2); i++ {
		size := g.o.UniqueLayerSize/2 + g.rng.Int64N(g.o.UniqueLayerSize)
		l, err := g.layer(fmt.Sprintf("%s-%s-%d", id, arch, i), size)
		if err != nil {
			return nil, err
		}
		layers = append(layers, l)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err := mutate.AppendLayers(img, layers...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Config.Labels = map[string]string{"org.airgap-charts.bench": id}
	return mutate.ConfigFile(img, cf)
}

// build fills img's content, digest, manifests and blobs. generation > 0 makes new content
// for the same tag (a moved tag).
func (g *generator) build(img *FleetImage, generation int) error {
	id := fmt.Sprintf("%s:%s#%d", img.Repository, img.Tag, generation)
	var art artifact
	if img.MultiArch {
		idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
		var adds []mutate.IndexAddendum
		for _, arch := range []string{"amd64", "arm64"} {
			pi, err := g.platformImage(id, arch)
			if err != nil {
				return fmt.Errorf("fleet image %s: %w", id, err)
			}
			adds = append(adds, mutate.IndexAddendum{Add: pi, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
		}
		art = mutate.AppendManifests(idx, adds...)
		img.Manifests = 3
	} else {
		pi, err := g.platformImage(id, "amd64")
		if err != nil {
			return fmt.Errorf("fleet image %s: %w", id, err)
		}
		art = pi
		img.Manifests = 1
	}
	d, err := art.Digest()
	if err != nil {
		return fmt.Errorf("fleet image %s: digest: %w", id, err)
	}
	img.Digest, img.content = d, art
	img.Blobs = nil
	for b := range img.blobSizes() {
		img.Blobs = append(img.Blobs, b)
	}
	sort.Slice(img.Blobs, func(a, b int) bool { return img.Blobs[a].String() < img.Blobs[b].String() })
	return nil
}
