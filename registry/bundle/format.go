// Package bundle is the portable form of a run for two-hop air gaps: an OCI image layout
// (version 1.1) whose blobs travel in parts, plain tars of whole blobs each with its own
// listing, and a versioned bundle manifest (bundle.json) that records the run.
//
// A bundle directory holds:
//
//	oci-layout                 {"imageLayoutVersion": "1.0.0"} (image-spec 1.1)
//	index.json                 one entry per image and chart, annotated with its reference
//	bundle.json                the bundle manifest (Manifest)
//	parts/part-0001.tar        blobs/sha256/<hex> entries, then part.json (PartListing)
//	parts/part-0001.tar.sha256 the part's sha256, sha256sum format
//
// Extracting every part into the directory gives a complete OCI image layout.
package bundle

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// SchemaVersion is the bundle manifest schema this build writes and reads. A bundle with a
// newer schema is refused with an error naming its bundle.json. Schema 2 added referrers,
// platform lists and the source index of a platform choice; schema 1 bundles still import.
const SchemaVersion = 2

// File names inside a bundle directory.
const (
	ManifestFile = "bundle.json"
	IndexFile    = "index.json"
	LayoutFile   = "oci-layout"
	PartsDir     = "parts"
	// PartListingName is the last entry of every part tar.
	PartListingName = "part.json"
)

// Annotations written on index.json entries.
const (
	AnnotationRefName      = "org.opencontainers.image.ref.name"
	AnnotationChartName    = "io.airgap-charts.chart.name"
	AnnotationChartVersion = "io.airgap-charts.chart.version"
	AnnotationChartRepo    = "io.airgap-charts.chart.repository"
)

// Helm OCI artifact media types.
const (
	HelmConfigMediaType = "application/vnd.cncf.helm.config.v1+json"
	HelmChartMediaType  = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
)

// Manifest is bundle.json: everything an import needs besides the blobs.
type Manifest struct {
	Schema  int       `json:"schema_version"`
	ID      string    `json:"bundle_id"`
	Tool    string    `json:"tool_version,omitempty"`
	Created time.Time `json:"created"`
	// Run settings the import repeats so that the rewrite sees what the export saw.
	Platform        string `json:"platform"`
	PlatformMissing string `json:"platform_missing,omitempty"`
	// Referrers is the --referrers mode the export kept referrers with (all, signatures,
	// none; empty in a schema 1 bundle: none travel) and ReferrerTypes its
	// --referrers-type: the import copies them with the same options.
	Referrers         string                     `json:"referrers,omitempty"`
	ReferrerTypes     []string                   `json:"referrer_types,omitempty"`
	IncludeDeps       bool                       `json:"include_dependencies"`
	KubeVersion       string                     `json:"kube_version"`
	AllowPublicImages bool                       `json:"allow_public_images,omitempty"`
	Overrides         map[string]json.RawMessage `json:"overrides,omitempty"`
	PublicImages      json.RawMessage            `json:"public_images,omitempty"`

	Addons []Addon `json:"addons"`
	Charts []Chart `json:"charts"`
	Images []Image `json:"images"`
	// Blobs is every blob and manifest of the run; Part 0 means it is not in this bundle
	// because the receipt says the destination holds it.
	Blobs []Blob `json:"blobs"`
	Parts []Part `json:"parts"`
	// PartSize is the --part-size the parts were cut for (0: one part).
	PartSize int64 `json:"part_size,omitempty"`
	// Receipt is the receipt this bundle is a delta against; nil: a full bundle.
	Receipt *ReceiptRef `json:"receipt,omitempty"`
}

// Addon is one addon of the run, its version resolved.
type Addon struct {
	Name         string `json:"name"`
	Chart        string `json:"chart"`
	Repository   string `json:"repository"`
	OCINamespace string `json:"oci_namespace,omitempty"`
	// Version is the version the export resolved (exact).
	Version     string `json:"version"`
	Release     string `json:"release,omitempty"`
	Namespace   string `json:"namespace,omitempty"`
	ChartDigest string `json:"chart_digest"`
	// Values are the addon's own values (JSON, read back as YAML so types are kept).
	Values json.RawMessage `json:"values,omitempty"`
	// Images are the source references the chart's render pulls.
	Images []string `json:"images"`
	// Required are the images its render uses (not only named by its annotation).
	Required []string `json:"required_images,omitempty"`
	// DependencyRepos are the repositories its dependencies name, fetched or not: the
	// import looks for them in the bundle only.
	DependencyRepos []string `json:"dependency_repositories,omitempty"`
	// RunCache is the export's render record (images found, fallbacks): the import uses it
	// instead of rendering again when its build and inputs are the same.
	RunCache json.RawMessage `json:"run_cache,omitempty"`
}

// Chart is one chart archive in the bundle (an addon's or a dependency's), its original
// bytes stored as a Helm OCI artifact.
type Chart struct {
	Name       string `json:"name"`
	Version    string `json:"version"`
	Repository string `json:"repository"`
	// Digest is the archive's sha256 ("sha256:…"): the chart layer of Manifest.
	Digest   string `json:"digest"`
	Size     int64  `json:"size"`
	Manifest string `json:"manifest"`
}

// Image is one source image of the run.
type Image struct {
	// Ref is the full source reference as the charts name it.
	Ref      string `json:"ref"`
	Platform string `json:"platform"`
	// Digest and MediaType are the manifest a copy puts under the tag.
	Digest    string `json:"digest"`
	MediaType string `json:"media_type"`
	// SourceDigest is the manifest the source tag points at when it is not Digest (with a
	// platform choice, the source index, holding only the chosen children in the bundle):
	// the import serves it under the tag and chooses as a sync does.
	SourceDigest string `json:"source_digest,omitempty"`
	Size         int64  `json:"size"`
	// Blobs is every blob and manifest the image needs (digests), its referrers' too.
	Blobs []string `json:"blobs"`
	// Referrers are the artifacts referring to its manifests that travel with it.
	Referrers []Referrer `json:"referrers,omitempty"`
}

// TagDigest is the manifest served under the image's tag.
func (i Image) TagDigest() string {
	if i.SourceDigest != "" {
		return i.SourceDigest
	}
	return i.Digest
}

// Referrer is one artifact referring to a manifest of an image, as its source listed it.
type Referrer struct {
	Subject      string            `json:"subject"`
	Digest       string            `json:"digest"`
	MediaType    string            `json:"media_type"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifact_type,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	// Tag is cosign's tag holding it (sha256-<hex>.sig, .att, .sbom); empty: listed by
	// subject (the source's referrers API or referrers tag schema).
	Tag string `json:"tag,omitempty"`
	// ListedOnly: only the listing travels, not the artifact: it refers to the source
	// index a platform choice leaves behind (reported as not applicable), and is not a
	// signature (those travel whole, for --verify-signatures).
	ListedOnly bool `json:"listed_only,omitempty"`
}

// Blob is one blob or manifest of the layout.
type Blob struct {
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
	MediaType string `json:"media_type,omitempty"`
	// Manifest: the blob is a manifest (served as one by the import).
	Manifest bool `json:"manifest,omitempty"`
	// Part is the number of the part holding it; 0: not in this bundle (see Receipt).
	Part int `json:"part"`
}

// Part is one part file.
type Part struct {
	N      int    `json:"n"`
	File   string `json:"file"` // relative to the bundle directory
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Blobs  int    `json:"blobs"`
	// Oversized: one blob larger than the part size, alone in its part.
	Oversized bool `json:"oversized,omitempty"`
}

// ReceiptRef names the receipt a delta bundle was cut against.
type ReceiptRef struct {
	File        string `json:"file"`
	ID          string `json:"receipt_id"`
	Destination string `json:"destination"`
}

// Error is a bundle input error: it names the file.
type Error struct {
	File string
	Msg  string
	Err  error
}

func (e *Error) Error() string { return e.File + ": " + e.Msg }
func (e *Error) Unwrap() error { return e.Err }

// ReadManifest reads and checks dir/bundle.json.
func ReadManifest(dir string) (*Manifest, error) {
	p := filepath.Join(dir, ManifestFile)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		if st, serr := os.Stat(filepath.Join(dir, PartsDir)); serr == nil && st.IsDir() {
			return nil, &Error{File: p, Msg: "missing: the export into this directory did not complete (run it again to resume)", Err: err}
		}
		return nil, &Error{File: p, Msg: "missing: " + dir + " is not an airgap-charts bundle", Err: err}
	}
	if err != nil {
		return nil, &Error{File: p, Msg: err.Error(), Err: err}
	}
	var head struct {
		Schema *int   `json:"schema_version"`
		ID     string `json:"bundle_id"`
	}
	if err := json.Unmarshal(data, &head); err != nil || head.Schema == nil || head.ID == "" {
		return nil, &Error{File: p, Msg: "not an airgap-charts bundle manifest (no schema_version or bundle_id)", Err: err}
	}
	if *head.Schema > SchemaVersion {
		return nil, &Error{File: p, Msg: fmt.Sprintf("bundle schema %d is newer than this build reads (%d): import with a newer airgap-charts", *head.Schema, SchemaVersion)}
	}
	if *head.Schema < 1 {
		return nil, &Error{File: p, Msg: fmt.Sprintf("bundle schema %d is not valid", *head.Schema)}
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, &Error{File: p, Msg: "unreadable bundle manifest: " + err.Error(), Err: err}
	}
	return &m, nil
}

// BlobTable indexes m.Blobs by digest.
func (m *Manifest) BlobTable() map[string]Blob {
	t := make(map[string]Blob, len(m.Blobs))
	for _, b := range m.Blobs {
		t[b.Digest] = b
	}
	return t
}

// PartFile is the relative path of part n.
func PartFile(n int) string { return filepath.Join(PartsDir, fmt.Sprintf("part-%04d.tar", n)) }
