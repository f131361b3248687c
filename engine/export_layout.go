package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/airgap-charts/airgap-charts/config"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/registry/bundle"
)

// layoutWrite puts a run's images and charts into a bundle: the copy engine with an OCI
// image layout as its destination.
type layoutWrite struct {
	env     *runEnv
	m       *bundle.Manifest
	dir     string
	receipt *bundle.Receipt
	log     *zap.Logger

	blobs []bundle.Blob // in layout order, each digest once
	index map[string]int
	keep  map[string]bool // digests the bundle carries (not held by the receipt's destination)
	raw   map[string][]byte
	files map[string]string
	from  map[string]*registry.LayoutImage
	tops  []v1.Descriptor // index.json entries
}

func (lw *layoutWrite) add(b bundle.Blob, keep bool) {
	if lw.index == nil {
		lw.index, lw.keep = map[string]int{}, map[string]bool{}
		lw.raw, lw.files, lw.from = map[string][]byte{}, map[string]string{}, map[string]*registry.LayoutImage{}
	}
	if _, ok := lw.index[b.Digest]; !ok {
		lw.index[b.Digest] = len(lw.blobs)
		lw.blobs = append(lw.blobs, b)
	}
	if keep {
		lw.keep[b.Digest] = true
	}
}

// planImages reads the manifests of every image of the bundle's addons (in input order,
// each image once) and lists the blobs each needs. An image that cannot be read is
// returned with its error and left out.
func (lw *layoutWrite) planImages(ctx context.Context) (map[string]error, error) {
	var refs []string
	seen := map[string]bool{}
	for _, a := range lw.m.Addons {
		for _, r := range a.Images {
			if !seen[r] {
				seen[r] = true
				refs = append(refs, r)
			}
		}
	}
	plans := make([]*registry.LayoutImage, len(refs))
	errs := make([]error, len(refs))
	platform := lw.env.opts.Platform
	ro := exportReferrerOptions(lw.env.opts)
	var g errgroup.Group
	g.SetLimit(lw.env.opts.Concurrency)
	for i, r := range refs {
		g.Go(func() error {
			ref, err := registry.ParseImageRef(r)
			if err == nil {
				plans[i], err = lw.env.client.PlanLayoutCopy(ctx, ref, platform)
			}
			if err == nil {
				err = lw.env.client.PlanLayoutReferrers(ctx, plans[i], ro)
			}
			errs[i] = err
			return nil
		})
	}
	_ = g.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	missing := map[string]error{}
	for i, li := range plans {
		if errs[i] != nil {
			missing[refs[i]] = errs[i]
			continue
		}
		ref := registry.MustParseImageRef(refs[i])
		holds := lw.receipt.Holds(ref.Name())
		img := bundle.Image{Ref: refs[i], Platform: platform.String(), Digest: li.Put.Digest.String(), MediaType: string(li.Put.MediaType)}
		if li.Top.Digest != li.Put.Digest {
			img.SourceDigest = li.Top.Digest.String()
		}
		for _, r := range li.Referrers {
			img.Referrers = append(img.Referrers, bundle.Referrer{Subject: r.Subject.String(), Digest: r.Descriptor.Digest.String(),
				MediaType: string(r.Descriptor.MediaType), Size: r.Descriptor.Size, ArtifactType: r.Descriptor.ArtifactType,
				Annotations: r.Descriptor.Annotations, Tag: r.Tag, ListedOnly: r.ListedOnly})
		}
		for _, mf := range li.Manifests {
			d := mf.Desc.Digest.String()
			lw.add(bundle.Blob{Digest: d, Size: mf.Desc.Size, MediaType: string(mf.Desc.MediaType), Manifest: true}, !holds[d] || li.Always[mf.Desc.Digest])
			lw.raw[d] = mf.Raw
			img.Blobs = append(img.Blobs, d)
			img.Size += mf.Desc.Size
		}
		for _, b := range li.Blobs {
			d := b.Digest.String()
			lw.add(bundle.Blob{Digest: d, Size: b.Size, MediaType: string(b.MediaType)}, !holds[d] || li.Always[b.Digest])
			if _, ok := lw.from[d]; !ok {
				lw.from[d] = li
			}
			img.Blobs = append(img.Blobs, d)
			img.Size += b.Size
		}
		lw.m.Images = append(lw.m.Images, img)
		top := li.Put // the layout names what a copy puts under the tag: it is complete
		top.Annotations = map[string]string{bundle.AnnotationRefName: refs[i]}
		lw.tops = append(lw.tops, top)
	}
	return missing, nil
}

// exportReferrerOptions are the run's --referrers and --referrers-type, as a sync copies
// referrers with them.
func exportReferrerOptions(opts Options) registry.ReferrerOptions {
	o := registry.ReferrerOptions{Mode: opts.Referrers, Types: opts.ReferrerTypes}
	if o.Mode == "" {
		o.Mode = registry.ReferrersAll
	}
	return o
}

// addCharts stores each chart archive as a Helm OCI artifact: its Chart.yaml as the
// config, its original bytes as the one layer. Charts always travel (the import rewrites
// every chart for its destination).
func (lw *layoutWrite) addCharts(charts []exportChart) error {
	for _, c := range charts {
		cfg := sha256Digest(c.meta)
		layer, err := v1.NewHash(c.Digest)
		if err != nil {
			return fmt.Errorf("chart %s %s: digest %q: %w", c.Name, c.Version, c.Digest, err)
		}
		mf := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1,
			Config:      v1.Descriptor{MediaType: bundle.HelmConfigMediaType, Digest: cfg, Size: int64(len(c.meta))},
			Layers:      []v1.Descriptor{{MediaType: bundle.HelmChartMediaType, Digest: layer, Size: c.Size}},
			Annotations: map[string]string{"org.opencontainers.image.title": c.Name, "org.opencontainers.image.version": c.Version}}
		raw, err := json.Marshal(mf)
		if err != nil {
			return err
		}
		md := sha256Digest(raw)
		lw.add(bundle.Blob{Digest: cfg.String(), Size: int64(len(c.meta)), MediaType: bundle.HelmConfigMediaType}, true)
		lw.add(bundle.Blob{Digest: c.Digest, Size: c.Size, MediaType: bundle.HelmChartMediaType}, true)
		lw.add(bundle.Blob{Digest: md.String(), Size: int64(len(raw)), MediaType: string(types.OCIManifestSchema1), Manifest: true}, true)
		lw.raw[cfg.String()], lw.raw[md.String()], lw.files[c.Digest] = c.meta, raw, c.archive
		c.Manifest = md.String()
		lw.m.Charts = append(lw.m.Charts, c.Chart)
		lw.tops = append(lw.tops, v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: md, Size: int64(len(raw)),
			Annotations: map[string]string{bundle.AnnotationRefName: "charts/" + c.Name + ":" + c.Version,
				bundle.AnnotationChartName: c.Name, bundle.AnnotationChartVersion: c.Version, bundle.AnnotationChartRepo: c.Repository}})
	}
	return nil
}

// writeParts cuts the carried blobs into parts and writes each, one at a time.
func (lw *layoutWrite) writeParts(ctx context.Context, partSize int64, res *ExportResult) error {
	var carried []bundle.Blob
	for _, b := range lw.blobs {
		if lw.keep[b.Digest] {
			carried = append(carried, b)
		} else {
			res.BlobsSkipped++
		}
	}
	plan := bundle.PlanParts(carried, partSize)
	removeStaleParts(lw.dir, len(plan))
	part := map[string]int{}
	for _, p := range plan {
		if p.Oversized {
			lw.log.Warn("a blob is larger than --part-size: it has a part of its own",
				zap.Int("part", p.N), zap.String("digest", p.Blobs[0].Digest), zap.Int64("bytes", p.Blobs[0].Size))
		}
		// A part's blobs are the export's blob transfers: as many in flight as a sync's. Only
		// blobs read whole are read ahead, so an open never waits for a fetch slot that an
		// unread stream holds (bundle.prefetcher).
		ahead := registry.NewBounds(lw.env.opts.Concurrency, lw.env.opts.ChartConcurrency).BlobTransfers
		written, st, err := bundle.WritePart(ctx, lw.dir, lw.m.ID, p, lw.open, ahead)
		res.BlobsWritten += st.Written
		res.BlobsKept += st.Kept
		res.BytesWritten += st.Bytes
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		lw.log.Info("part written", zap.String("file", written.File), zap.Int("blobs", written.Blobs),
			zap.Int64("bytes", written.Size), zap.Int("kept_from_earlier_run", st.Kept))
		lw.m.Parts = append(lw.m.Parts, written)
		for _, b := range p.Blobs {
			part[b.Digest] = p.N
		}
	}
	for _, b := range lw.blobs {
		b.Part = part[b.Digest]
		lw.m.Blobs = append(lw.m.Blobs, b)
	}
	return nil
}

// open streams one blob: a manifest or chart config from memory, a chart archive from the
// chart cache, an image blob from its source registry.
func (lw *layoutWrite) open(ctx context.Context, b bundle.Blob) (io.ReadCloser, error) {
	if raw, ok := lw.raw[b.Digest]; ok {
		return io.NopCloser(bytes.NewReader(raw)), nil
	}
	if f, ok := lw.files[b.Digest]; ok {
		return os.Open(f)
	}
	li, ok := lw.from[b.Digest]
	if !ok {
		return nil, fmt.Errorf("no source for blob %s", b.Digest)
	}
	h, err := v1.NewHash(b.Digest)
	if err != nil {
		return nil, err
	}
	return lw.env.client.OpenLayoutBlob(ctx, li, h)
}

var partName = regexp.MustCompile(`^part-(\d+)\.tar`)

// removeStaleParts removes part files numbered beyond this export's last part (an earlier
// export into the directory cut more).
func removeStaleParts(dir string, n int) {
	entries, _ := os.ReadDir(filepath.Join(dir, bundle.PartsDir))
	for _, e := range entries {
		if m := partName.FindStringSubmatch(e.Name()); m != nil {
			if k, _ := strconv.Atoi(m[1]); k > n {
				_ = os.Remove(filepath.Join(dir, bundle.PartsDir, e.Name()))
			}
		}
	}
}

// writeIndex writes oci-layout and index.json.
func (lw *layoutWrite) writeIndex() error {
	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: lw.tops}
	data, err := json.MarshalIndent(idx, "", " ")
	if err != nil {
		return err
	}
	if err := config.WriteFileAtomic(filepath.Join(lw.dir, bundle.LayoutFile), []byte(`{"imageLayoutVersion":"1.0.0"}`+"\n"), 0o644); err != nil {
		return fmt.Errorf("bundle %s: %w", bundle.LayoutFile, err)
	}
	if err := config.WriteFileAtomic(filepath.Join(lw.dir, bundle.IndexFile), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("bundle %s: %w", bundle.IndexFile, err)
	}
	return nil
}

func sha256Digest(b []byte) v1.Hash {
	h, _, _ := v1.SHA256(bytes.NewReader(b))
	return h
}
