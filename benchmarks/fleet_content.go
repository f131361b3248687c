package benchmarks

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"
)

// platformImages lists the images under an artifact (itself, or an index's children).
func platformImages(a artifact) []v1.Image {
	switch t := a.(type) {
	case v1.Image:
		return []v1.Image{t}
	case v1.ImageIndex:
		im, err := t.IndexManifest()
		if err != nil {
			return nil
		}
		var out []v1.Image
		for _, d := range im.Manifests {
			if img, err := t.Image(d.Digest); err == nil {
				out = append(out, img)
			}
		}
		return out
	}
	return nil
}

// blobSizes maps every config and layer digest of the image to its size.
func (i FleetImage) blobSizes() map[v1.Hash]int64 {
	out := map[v1.Hash]int64{}
	for _, img := range platformImages(i.content) {
		m, err := img.Manifest()
		if err != nil {
			continue
		}
		out[m.Config.Digest] = m.Config.Size
		for _, l := range m.Layers {
			out[l.Digest] = l.Size
		}
	}
	return out
}

// DistinctBlobs is the number of distinct blobs (configs and layers) of the fleet's images.
func (f *Fleet) DistinctBlobs() int { return len(f.blobSize) }

// DistinctBytes is the total size of the distinct blobs.
func (f *Fleet) DistinctBytes() int64 {
	var n int64
	for _, s := range f.blobSize {
		n += s
	}
	return n
}

// Manifests is the number of manifests under the fleet's tags (indexes and their children).
func (f *Fleet) Manifests() int {
	n := 0
	for _, img := range f.Images {
		n += img.Manifests
	}
	return n
}

// Repositories lists the fleet's distinct image repositories, sorted.
func (f *Fleet) Repositories() []string {
	seen := map[string]bool{}
	var out []string
	for _, img := range f.Images {
		if !seen[img.Repository] {
			seen[img.Repository] = true
			out = append(out, img.Repository)
		}
	}
	sort.Strings(out)
	return out
}

// RepoBlobRefs is Σ over repositories of the distinct blobs each holds: the number of
// (repository, blob) pairs a copy into an empty registry must create by upload or mount.
func (f *Fleet) RepoBlobRefs() int {
	n := 0
	for _, s := range f.repoBlobs() {
		n += len(s)
	}
	return n
}

// repoBlobs is each repository's blobs (configs and layers of its tags).
func (f *Fleet) repoBlobs() map[string]map[v1.Hash]bool {
	per := map[string]map[v1.Hash]bool{}
	for _, img := range f.Images {
		if per[img.Repository] == nil {
			per[img.Repository] = map[v1.Hash]bool{}
		}
		for _, b := range img.Blobs {
			per[img.Repository][b] = true
		}
	}
	return per
}

// Push writes every image to the registry at host under its repository and tag.
func (f *Fleet) Push(ctx context.Context, host string) error {
	idx := make([]int, len(f.Images))
	for i := range idx {
		idx[i] = i
	}
	return f.push(ctx, host, idx, f.Images)
}

func (f *Fleet) push(ctx context.Context, host string, which []int, images []FleetImage) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, i := range which {
		img := images[i]
		g.Go(func() error {
			ref, err := name.NewTag(img.Ref(host), name.Insecure)
			if err != nil {
				return fmt.Errorf("push %s: %w", img.Ref(host), err)
			}
			opts := []remote.Option{remote.WithContext(ctx), remote.WithJobs(4)}
			switch c := img.content.(type) {
			case v1.ImageIndex:
				err = remote.WriteIndex(ref, c, opts...)
			case v1.Image:
				err = remote.Write(ref, c, opts...)
			}
			if err != nil {
				return fmt.Errorf("push %s: %w", ref, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// MoveTags prepares new content for a fraction of the fleet's unpinned tags (at least one),
// deterministically, and returns their indexes. Apply pushes it; Revert pushes the original.
func (f *Fleet) MoveTags(fraction float64) ([]int, error) {
	pinned := map[int]bool{}
	for _, c := range f.Charts {
		for _, u := range c.Uses {
			if u.Pinned {
				pinned[u.Image] = true
			}
		}
	}
	var candidates []int
	for i := range f.Images {
		if !pinned[i] {
			candidates = append(candidates, i)
		}
	}
	n := int(math.Ceil(fraction * float64(len(f.Images))))
	n = max(1, min(n, len(candidates)))
	rng := rand.New(rand.NewPCG(f.Options.Seed, 0x6d6f7665))
	rng.Shuffle(len(candidates), func(a, b int) { candidates[a], candidates[b] = candidates[b], candidates[a] })
	picked := append([]int(nil), candidates[:n]...)
	sort.Ints(picked)
	g := &generator{rng: rng, o: f.Options, base: f.baseLayers()}
	for _, i := range picked {
		if _, ok := f.moved[i]; ok {
			continue
		}
		img := f.Images[i]
		if err := g.build(&img, 1); err != nil {
			return nil, err
		}
		f.moved[i] = img
	}
	return picked, nil
}

// MovedBlobs is the number and size of the moved tags' blobs that the original fleet lacks.
func (f *Fleet) MovedBlobs(moved []int) (int, int64) {
	seen := map[v1.Hash]bool{}
	var n int
	var size int64
	for _, i := range moved {
		m := f.moved[i]
		sizes := m.blobSizes()
		for _, b := range m.Blobs {
			if _, old := f.blobSize[b]; old || seen[b] {
				continue
			}
			seen[b] = true
			n++
			size += sizes[b]
		}
	}
	return n, size
}

// ApplyMove pushes the moved content of the given tags to host.
func (f *Fleet) ApplyMove(ctx context.Context, host string, moved []int) error {
	images := make([]FleetImage, len(f.Images))
	for _, i := range moved {
		images[i] = f.moved[i]
	}
	return f.push(ctx, host, moved, images)
}

// RevertMove pushes the original content of the given tags back to host.
func (f *Fleet) RevertMove(ctx context.Context, host string, moved []int) error {
	return f.push(ctx, host, moved, f.Images)
}

// baseLayers recovers the shared base layers from the images (for moved content).
func (f *Fleet) baseLayers() map[string][]v1.Layer {
	out := map[string][]v1.Layer{}
	seen := map[v1.Hash]bool{}
	for _, img := range f.Images {
		for _, pi := range platformImages(img.content) {
			cf, err := pi.ConfigFile()
			if err != nil {
				continue
			}
			ls, err := pi.Layers()
			if err != nil || len(ls) == 0 {
				continue
			}
			d, err := ls[0].Digest()
			if err != nil || seen[d] {
				continue
			}
			seen[d] = true
			out[cf.Architecture] = append(out[cf.Architecture], ls[0])
		}
	}
	return out
}
