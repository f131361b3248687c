package benchmarks

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/repo"
	"sigs.k8s.io/yaml"
)

// deploymentTemplate renders one Deployment per entry of .Values.deployments, with one
// container per entry of its containers map; images are registry/repository[:tag][@digest].
const deploymentTemplate = `{{- range $dname, $d := .Values.deployments }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $.Release.Name }}-{{ $dname }}
  labels:
    app.kubernetes.io/name: {{ $dname }}
spec:
  replicas: {{ $d.replicas }}
  selector:
    matchLabels:
      app.kubernetes.io/name: {{ $dname }}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {{ $dname }}
    spec:
      containers:
      {{- range $cname, $c := $d.containers }}
        - name: {{ $cname }}
          image: "{{ $c.image.registry }}/{{ $c.image.repository }}{{ if $c.image.tag }}:{{ $c.image.tag }}{{ end }}{{ if $c.image.digest }}@{{ $c.image.digest }}{{ end }}"
      {{- end }}
{{- end }}
`

// ChartRepo is a running HTTP chart repository (index.yaml plus archives).
type ChartRepo struct {
	Server *httptest.Server
	URL    string
	Dir    string
}

// Close stops the server.
func (r *ChartRepo) Close() { r.Server.Close() }

// helmChart builds chart c of the fleet.
func (f *Fleet) helmChart(c FleetChart) (*chart.Chart, error) {
	deployments := map[string]any{}
	for j, u := range c.Uses {
		img := f.Images[u.Image]
		dname := []string{"server", "worker"}[u.Deployment]
		d, ok := deployments[dname].(map[string]any)
		if !ok {
			d = map[string]any{"replicas": 1, "containers": map[string]any{}}
			deployments[dname] = d
		}
		ref := map[string]any{"registry": f.Options.SourceName, "repository": img.Repository, "tag": img.Tag, "digest": ""}
		if u.Pinned {
			ref["digest"] = img.Digest.String()
		}
		d["containers"].(map[string]any)[fmt.Sprintf("c%d", j)] = map[string]any{"image": ref}
	}
	values := map[string]any{"deployments": deployments}
	raw, err := yaml.Marshal(values)
	if err != nil {
		return nil, fmt.Errorf("chart %s: values: %w", c.Name, err)
	}
	return &chart.Chart{
		Metadata: &chart.Metadata{
			APIVersion:  chart.APIVersionV2,
			Name:        c.Name,
			Version:     c.Version,
			AppVersion:  c.Version,
			Description: "airgap-charts benchmark chart",
			Type:        "application",
		},
		Templates: []*chart.File{{Name: "templates/deployment.yaml", Data: []byte(deploymentTemplate)}},
		Values:    values,
		Raw:       []*chart.File{{Name: chartutil.ValuesfileName, Data: raw}},
	}, nil
}

// ServeCharts packages every chart into dir, writes index.yaml and serves dir over HTTP.
func (f *Fleet) ServeCharts(dir string) (*ChartRepo, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("chart repo %s: %w", dir, err)
	}
	for _, c := range f.Charts {
		ch, err := f.helmChart(c)
		if err != nil {
			return nil, err
		}
		if _, err := chartutil.Save(ch, dir); err != nil {
			return nil, fmt.Errorf("chart %s: package into %s: %w", c.Name, dir, err)
		}
	}
	idx, err := repo.IndexDirectory(dir, "")
	if err != nil {
		return nil, fmt.Errorf("chart repo %s: index: %w", dir, err)
	}
	idx.SortEntries()
	if err := idx.WriteFile(filepath.Join(dir, "index.yaml"), 0o644); err != nil {
		return nil, fmt.Errorf("chart repo %s: write index: %w", dir, err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	return &ChartRepo{Server: srv, URL: srv.URL, Dir: dir}, nil
}

// CatalogAddon is one entry of catalog.yaml (airgap-charts' normalized catalog schema).
type CatalogAddon struct {
	Chart        string `json:"chart"`
	Repository   string `json:"repository"`
	OCINamespace string `json:"oci_namespace"`
	Version      string `json:"version"`
	Release      string `json:"release"`
}

// WriteCatalog writes catalog.yaml naming every chart of the fleet in repoURL.
func (f *Fleet) WriteCatalog(path, repoURL string) error {
	var cat struct {
		Addons []CatalogAddon `json:"addons"`
	}
	for _, c := range f.Charts {
		cat.Addons = append(cat.Addons, CatalogAddon{
			Chart: c.Name, Repository: repoURL, Version: c.Version,
			Release: strings.TrimPrefix(c.Name, "bench-"),
		})
	}
	raw, err := yaml.Marshal(cat)
	if err != nil {
		return fmt.Errorf("catalog %s: %w", path, err)
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		return fmt.Errorf("catalog %s: %w", path, err)
	}
	return nil
}

// ChartImages lists, per chart in catalog order, the image references it uses
// (source form, host replaced by srcHost) — what a chart-by-chart tool copies.
func (f *Fleet) ChartImages() [][]int {
	out := make([][]int, len(f.Charts))
	for c, ch := range f.Charts {
		for _, u := range ch.Uses {
			out[c] = append(out[c], u.Image)
		}
	}
	return out
}
