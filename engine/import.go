package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"

	"go.uber.org/zap"
	"gopkg.in/yaml.v3"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/registry/bundle"
)

// ImportOptions says which bundle an import reads and where its receipt goes.
type ImportOptions struct {
	From string // the bundle directory
	// ReceiptOut is the receipt written (merged into when it exists): what the destination
	// holds of the bundles imported; empty: none.
	ReceiptOut string
}

// ImportResult is what an import did: the run report (the same as a sync's) and the
// images left waiting for parts that are missing or damaged.
type ImportResult struct {
	Report *Report
	Parts  []bundle.PartState
	// Waiting are the images not imported because a part they need is unusable.
	Waiting []WaitingImage
}

// WaitingImage is an image waiting for parts.
type WaitingImage struct {
	Image string `json:"image"`
	Parts []int  `json:"parts"`
}

// Import copies a bundle's images into the destination, rewrites each chart for it,
// publishes each chart after its images and writes the consumer overrides and the report:
// a sync whose sources are the bundle. It reads only the bundle directory and the
// destination. Images whose parts are missing or damaged wait; the others are imported.
func Import(ctx context.Context, opts Options, in ImportOptions, log *zap.Logger) (*ImportResult, error) {
	if log == nil {
		log = zap.NewNop()
	}
	o, err := bundle.Open(in.From)
	if err != nil {
		return nil, err
	}
	m := o.Manifest
	res := &ImportResult{Parts: o.Parts}
	for _, p := range o.Problems() {
		log.Error("bundle part unusable; the images needing it wait", zap.String("part", p))
	}
	if m.Receipt != nil && opts.TargetRegistry != "" && m.Receipt.Destination != opts.TargetRegistry {
		return nil, &bundle.Error{File: filepath.Join(in.From, bundle.ManifestFile), Msg: fmt.Sprintf(
			"this bundle was exported against receipt %s of destination %s, not %s: it lacks what that destination held",
			m.Receipt.File, m.Receipt.Destination, opts.TargetRegistry)}
	}
	srv, err := bundle.NewServer(o)
	if err != nil {
		return nil, err
	}
	// The bundle is served on a loopback port of this process only, for the run.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("serve bundle %s: %w", in.From, err)
	}
	hs := &http.Server{Handler: srv}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	addr := ln.Addr().String()

	if err := importOptions(&opts, m, in.From); err != nil {
		return nil, err
	}
	// The run's own client reads the bundle in process (no connection, no HTTP on the
	// wire); the port serves whatever reaches it otherwise.
	opts.localHosts = map[string]http.Handler{addr: srv}
	opts.RegistryMirrors = srv.RegistryMirrors(addr)
	opts.RepoMirrors = srv.RepoMirrors(addr)
	opts.RepoMirrorCredentials = nil
	opts.InsecureRegistry = append(append([]string(nil), opts.InsecureRegistry...), addr)
	opts = opts.withDefaults()
	opts.runCacheSeeds = runCacheSeeds(opts, m)

	rep, err := Run(ctx, opts, log)
	res.Report = rep
	if rep == nil {
		return res, err
	}
	res.Waiting = markWaiting(o, rep)
	if in.ReceiptOut != "" && !opts.ScanOnly {
		if rerr := writeReceipt(in.ReceiptOut, m, rep); rerr != nil && err == nil {
			err = fmt.Errorf("receipt %s: %w", in.ReceiptOut, rerr)
		}
	}
	return res, err
}

// importOptions fills the run's inputs from the bundle manifest: its addons at the
// versions the export resolved, their values and overrides, and the export's settings.
func importOptions(opts *Options, m *bundle.Manifest, dir string) error {
	file := filepath.Join(dir, bundle.ManifestFile)
	opts.Addons = nil
	for _, a := range m.Addons {
		ad := config.Addon{Chart: a.Chart, Repository: a.Repository, OCINamespace: a.OCINamespace, Version: a.Version,
			Release: a.Release, Namespace: a.Namespace, Source: config.Position{File: file}}
		if len(a.Values) > 0 {
			// JSON is YAML: decoded as the values file was, types are the same.
			if err := yaml.Unmarshal(a.Values, &ad.Values); err != nil {
				return &bundle.Error{File: file, Msg: fmt.Sprintf("addon %s: values: %v", a.Name, err), Err: err}
			}
		}
		opts.Addons = append(opts.Addons, ad)
	}
	opts.Overrides = nil
	if len(m.Overrides) > 0 {
		opts.Overrides = config.Overrides{}
		for chart, raw := range m.Overrides {
			var v map[string]any
			if err := yaml.Unmarshal(raw, &v); err != nil {
				return &bundle.Error{File: file, Msg: fmt.Sprintf("overrides of chart %s: %v", chart, err), Err: err}
			}
			opts.Overrides[chart] = v
		}
	}
	opts.PublicImages = nil
	if len(m.PublicImages) > 0 {
		if err := json.Unmarshal(m.PublicImages, &opts.PublicImages); err != nil {
			return &bundle.Error{File: file, Msg: "public_images: " + err.Error(), Err: err}
		}
	}
	opts.AllowPublicImages = opts.AllowPublicImages || m.AllowPublicImages
	opts.Latest = false
	opts.IncludeDeps = m.IncludeDeps
	platform, err := registry.ParsePlatform(m.Platform)
	if err != nil {
		return &bundle.Error{File: file, Msg: fmt.Sprintf("platform %q: %v", m.Platform, err), Err: err}
	}
	if m.PlatformMissing != "" {
		if platform, err = platform.WithMissing(m.PlatformMissing); err != nil {
			return &bundle.Error{File: file, Msg: fmt.Sprintf("platform_missing %q: %v", m.PlatformMissing, err), Err: err}
		}
	}
	opts.Platform = platform
	opts.KubeVersion = m.KubeVersion
	// The referrers travelled as the export's options kept them: the import copies them
	// with the same options (a schema 1 bundle carries none). --verify-signatures (the
	// import's own) checks the signatures that travelled.
	opts.Referrers, opts.ReferrerTypes = registry.ReferrersNone, nil
	if m.Referrers != "" {
		if msg := registry.CheckReferrerMode(m.Referrers); msg != "" {
			return &bundle.Error{File: file, Msg: "referrers " + msg}
		}
		opts.Referrers, opts.ReferrerTypes = m.Referrers, m.ReferrerTypes
	}
	if len(opts.VerifyKeys) > 0 && opts.Referrers == registry.ReferrersNone {
		return &bundle.Error{File: file, Msg: "no signatures travelled in this bundle (exported with --referrers none, or by an older build): " +
			"--verify-signatures cannot check its images; export again with --referrers all or signatures"}
	}
	opts.RateLimits = nil
	return nil
}

// runCacheSeeds are the export's render records, given to the import's run cache so that
// with the same build and inputs the chart is not rendered again to find its images (the
// rewrite still renders to verify). An entry the output directory holds for the same key
// is used instead: it may know the rewrite too. Seeds are not written ahead: each addon's
// save writes its own, in parallel with the others' work, instead of every entry being
// written and synced one after the other before the run starts.
func runCacheSeeds(opts Options, m *bundle.Manifest) map[string][]byte {
	cache := newRunCache(opts.OutputDir, nil)
	seeds := map[string][]byte{}
	for i, a := range m.Addons {
		if len(a.RunCache) == 0 || i >= len(opts.Addons) {
			continue
		}
		seeds[cache.path(opts.Addons[i])] = a.RunCache
	}
	return seeds
}

// markWaiting names, in the report, the images whose parts are unusable.
func markWaiting(o *bundle.Opened, rep *Report) []WaitingImage {
	waiting := map[string][]int{}
	var out []WaitingImage
	for _, img := range o.Manifest.Images {
		if ps := o.Waiting(img); len(ps) > 0 {
			waiting[img.Ref] = ps
			out = append(out, WaitingImage{Image: img.Ref, Parts: ps})
		}
	}
	for _, a := range rep.Addons {
		for i := range a.Images {
			im := &a.Images[i]
			if ps, ok := waiting[im.Source]; ok && im.Result == OutcomeFailed {
				im.Reason = "waiting for " + bundle.PartNames(ps)
			}
		}
	}
	return out
}

// writeReceipt records what the destination now holds of this bundle.
func writeReceipt(path string, m *bundle.Manifest, rep *Report) error {
	r, err := bundle.ReadOrNewReceipt(path, rep.Registry, strings.Trim(rep.Prefix, "/"))
	if err != nil {
		return err
	}
	images := map[string]bundle.Image{}
	for _, img := range m.Images {
		images[img.Ref] = img
	}
	for _, a := range rep.Addons {
		for _, im := range a.Images {
			img, ok := images[im.Source]
			if !ok || im.Result == OutcomeFailed || im.Result == OutcomePlanned {
				continue
			}
			if im.DestDigest != "" && im.DestDigest != img.Digest {
				continue // the destination tag holds something else
			}
			src, err := registry.ParseImageRef(im.Source)
			if err != nil {
				continue
			}
			dst, _ := registry.ParseImageRef(im.Destination)
			r.Add(src.Name(), dst.Name(), src.Tag, img.Digest, img.Blobs)
		}
		if a.Status == StatusSuccess && a.ChartRef != "" {
			r.Charts = appendChart(r.Charts, bundle.ReceiptChart{Ref: a.ChartRef, Digest: a.PackagedDigest})
		}
	}
	r.Bundles = appendOnce(r.Bundles, m.ID)
	r.Updated = m.Created
	return r.Write(path)
}

func appendChart(cs []bundle.ReceiptChart, c bundle.ReceiptChart) []bundle.ReceiptChart {
	for i := range cs {
		if cs[i].Ref == c.Ref {
			cs[i] = c
			return cs
		}
	}
	return append(cs, c)
}

func appendOnce(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}
