package stages

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
)

// DefaultKubeVersion is the Kubernetes version charts are rendered for when none is given.
const DefaultKubeVersion = "1.33.0"

// RenderOptions says how to render a chart.
type RenderOptions struct {
	// Release is the release name (.Release.Name).
	Release string
	// Namespace is the release namespace (.Release.Namespace).
	Namespace string
	// KubeVersion is .Capabilities.KubeVersion; empty means DefaultKubeVersion.
	KubeVersion string
	// Values are layers merged in order over the chart defaults (addon values, then
	// chart-overrides); a later layer wins, maps merge key by key. They are not modified.
	Values []map[string]any
}

// Rendered is the output of a client-only render.
type Rendered struct {
	// Manifests are the rendered documents (hooks, test hooks and CRDs included), in
	// Helm's install order, hooks last.
	Manifests []Manifest
	// Fallbacks lists the built-in placeholder values the render had to use, one line
	// each ("karpenter: settings.clusterName=airgap-charts-placeholder"), for the user.
	Fallbacks []string
	// values are the effective values the templates were given (chart defaults coalesced
	// under the layers), copied before any template could modify them.
	values map[string]any
}

// Manifest is one rendered YAML document (a CRD file may hold several).
type Manifest struct {
	// Template is the template file that produced it ("grafana/templates/deployment.yaml").
	Template string
	// Content is the YAML text.
	Content string
}

// Render renders ch the way `helm template` does, in process and without a cluster: a
// client-only dry-run install (renderChart) with CRDs and test hooks included, the given Kubernetes
// version and a broad set of API versions (see renderAPIVersions) so that
// capability-gated templates render. Values are the chart defaults, then opts.Values in
// order, then the built-in fallbacks (fallbacks.go) for keys still unset. ch is not
// modified: Render works on a copy, so it can be called any number of times.
func Render(ctx context.Context, ch *chart.Chart, opts RenderOptions) (*Rendered, error) {
	if ch == nil || ch.Metadata == nil {
		return nil, fmt.Errorf("render: no chart")
	}
	chartID := ch.Metadata.Name + " " + ch.Metadata.Version
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("render chart %s: %w", chartID, err)
	}
	kv := opts.KubeVersion
	if kv == "" {
		kv = DefaultKubeVersion
	}
	kubeVersion, err := chartutil.ParseKubeVersion(kv)
	if err != nil {
		return nil, fmt.Errorf("render chart %s: kube version %q: %w", chartID, kv, err)
	}

	vals := map[string]any{}
	for _, layer := range opts.Values {
		vals = mergeValues(vals, layer)
	}
	fallbacks := applyFallbacks(ch, vals)

	work := copyChart(ch)
	stubKeyFunctions(work)
	out, err := renderChart(work, vals, opts, kubeVersion)
	if err != nil {
		return nil, renderError(ch.Metadata.Name, chartID, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("render chart %s: %w", chartID, err)
	}
	out.Fallbacks = fallbacks
	return out, nil
}

// renderChart renders work (a copy: Helm drops its disabled subcharts) the way a
// client-only `helm install --dry-run` does — dependencies processed, values coalesced
// and checked against the schema, every template rendered with no cluster to look up —
// but hands the rendered files over as they are: the install's sorting of manifests into
// kinds and hooks parses every document once more and is not needed here. CRDs of the
// chart and its enabled subcharts come first, then every non-empty document of every
// template, hooks and test hooks included; NOTES.txt is rendered (a chart may fail there)
// and left out.
func renderChart(work *chart.Chart, vals map[string]any, opts RenderOptions, kubeVersion *chartutil.KubeVersion) (*Rendered, error) {
	if work.Metadata.Type != "" && work.Metadata.Type != "application" {
		return nil, fmt.Errorf("%s charts are not installable", work.Metadata.Type)
	}
	if kv := work.Metadata.KubeVersion; kv != "" && !chartutil.IsCompatibleRange(kv, kubeVersion.String()) {
		return nil, fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s", kv, kubeVersion.String())
	}
	if err := chartutil.ProcessDependenciesWithMerge(work, vals); err != nil {
		return nil, err
	}
	caps := chartutil.DefaultCapabilities.Copy()
	caps.KubeVersion = *kubeVersion
	caps.APIVersions = append(caps.APIVersions, renderAPIVersions()...)
	values, err := chartutil.ToRenderValues(work, vals, chartutil.ReleaseOptions{
		Name: opts.Release, Namespace: opts.Namespace, Revision: 1, IsInstall: true,
	}, caps)
	if err != nil {
		return nil, err
	}
	var effective map[string]any
	if m, ok := asMap(values["Values"]); ok {
		effective = copyValues(m)
	}
	files, err := engine.Render(work, values)
	if err != nil {
		return nil, err
	}
	out := &Rendered{values: effective}
	for _, crd := range work.CRDObjects() {
		out.Manifests = append(out.Manifests, Manifest{Template: crd.Filename, Content: string(crd.File.Data)})
	}
	names := make([]string, 0, len(files))
	for name := range files {
		if !strings.HasSuffix(name, "NOTES.txt") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		for _, doc := range splitDocuments(files[name]) {
			if strings.TrimSpace(doc) != "" {
				out.Manifests = append(out.Manifests, Manifest{Template: name, Content: doc})
			}
		}
	}
	return out, nil
}

// renderError keeps Helm's message (it names the template file and line) and adds a hint
// where the cause is a value the chart requires.
func renderError(chartName, chartID string, err error) error {
	msg := err.Error()
	if strings.Contains(msg, "execution error at (") || strings.Contains(msg, "execution error in (") {
		return fmt.Errorf("render chart %s: %w (a value the chart requires is missing or invalid: "+
			"set it in chart-overrides.yaml under `overrides: {%s: {...}}` or in the addon's values)",
			chartID, err, chartName)
	}
	if strings.Contains(msg, "values don't meet the specifications of the schema") {
		return fmt.Errorf("render chart %s: %w (fix the values in chart-overrides.yaml under `overrides: {%s: {...}}` or in the addon's values)",
			chartID, err, chartName)
	}
	return fmt.Errorf("render chart %s: %w", chartID, err)
}

// copyChart copies what rendering mutates (metadata with its dependency list, values, the
// subchart tree); templates and files are shared, read-only.
func copyChart(c *chart.Chart) *chart.Chart {
	out := &chart.Chart{
		Raw:       c.Raw,
		Lock:      c.Lock,
		Templates: c.Templates,
		Values:    copyValues(c.Values),
		Schema:    c.Schema,
		Files:     c.Files,
	}
	if c.Metadata != nil {
		md := *c.Metadata
		md.Dependencies = make([]*chart.Dependency, 0, len(c.Metadata.Dependencies))
		for _, d := range c.Metadata.Dependencies {
			dc := *d
			md.Dependencies = append(md.Dependencies, &dc)
		}
		out.Metadata = &md
	}
	deps := make([]*chart.Chart, 0, len(c.Dependencies()))
	for _, d := range c.Dependencies() {
		deps = append(deps, copyChart(d))
	}
	out.SetDependencies(deps...)
	return out
}
