package stages

import (
	"encoding/json"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"helm.sh/helm/v3/pkg/chart"
)

// A Helm chart in an OCI registry: an image manifest whose config is the chart's metadata
// as JSON and whose layer is the chart archive, as `helm push` writes it.
const (
	HelmConfigMediaType       = "application/vnd.cncf.helm.config.v1+json"
	HelmChartLayerMediaType   = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
	legacyChartLayerMedia     = "application/tar+gzip"
	ociImageManifestMedia     = "application/vnd.oci.image.manifest.v1+json"
	annotationPrefix          = "org.opencontainers.image."
	annotationCreated         = annotationPrefix + "created"
	annotationAuthors         = annotationPrefix + "authors"
	annotationURL             = annotationPrefix + "url"
	annotationSource          = annotationPrefix + "source"
	annotationVersion         = annotationPrefix + "version"
	annotationTitle           = annotationPrefix + "title"
	annotationDescription     = annotationPrefix + "description"
	helmManifestSchemaVersion = 2
)

func isChartLayer(mediaType string) bool {
	return mediaType == HelmChartLayerMediaType || mediaType == legacyChartLayerMedia
}

// ociDescriptor and ociManifest are the OCI image manifest with its fields in the order
// the OCI specification (and Helm) writes them, so that a chart pushed here has the
// manifest digest `helm push` gives it.
type ociDescriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

type ociManifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	Config        ociDescriptor     `json:"config"`
	Layers        []ociDescriptor   `json:"layers"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

func descriptorOf(d v1.Descriptor) ociDescriptor {
	return ociDescriptor{MediaType: string(d.MediaType), Digest: d.Digest.String(), Size: d.Size}
}

// helmConfig is the config blob Helm writes for a chart: its metadata as JSON.
func helmConfig(md *chart.Metadata) ([]byte, error) {
	data, err := json.Marshal(md)
	if err != nil {
		return nil, fmt.Errorf("chart config: %w", err)
	}
	return data, nil
}

// helmManifest is the manifest Helm writes for a chart config and layer.
func helmManifest(md *chart.Metadata, config, layer v1.Descriptor, created string) ([]byte, error) {
	m := ociManifest{
		SchemaVersion: helmManifestSchemaVersion,
		Config:        descriptorOf(config),
		Layers:        []ociDescriptor{descriptorOf(layer)},
		Annotations:   helmAnnotations(md, created),
	}
	data, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("chart manifest: %w", err)
	}
	return data, nil
}

// helmAnnotations are the manifest annotations Helm derives from a chart's metadata:
// description, title, version, home, creation time, first source, maintainers, then the
// chart's own annotations (which may not replace the title or version).
func helmAnnotations(md *chart.Metadata, created string) map[string]string {
	a := map[string]string{}
	put := func(k, v string) {
		if strings.TrimSpace(v) != "" {
			a[k] = v
		}
	}
	put(annotationDescription, md.Description)
	put(annotationTitle, md.Name)
	put(annotationVersion, md.Version)
	put(annotationURL, md.Home)
	put(annotationCreated, created)
	if len(md.Sources) > 0 {
		put(annotationSource, md.Sources[0])
	}
	if len(md.Maintainers) > 0 {
		var b strings.Builder
		for i, m := range md.Maintainers {
			if m == nil {
				continue
			}
			b.WriteString(m.Name)
			if m.Email != "" {
				b.WriteString(" (" + m.Email + ")")
			}
			if i < len(md.Maintainers)-1 {
				b.WriteString(", ")
			}
		}
		put(annotationAuthors, b.String())
	}
	for k, v := range md.Annotations {
		if k != annotationVersion && k != annotationTitle {
			a[k] = v
		}
	}
	return a
}

// chartLayerOf returns the digest of a chart manifest's chart layer.
func chartLayerOf(manifestJSON []byte) (string, error) {
	var m struct {
		Layers []ociDescriptor `json:"layers"`
	}
	if err := json.Unmarshal(manifestJSON, &m); err != nil {
		return "", fmt.Errorf("manifest: %w", err)
	}
	for _, l := range m.Layers {
		if isChartLayer(l.MediaType) {
			return l.Digest, nil
		}
	}
	return "", fmt.Errorf("manifest has no chart layer")
}
