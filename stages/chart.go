// Package stages holds the chart pipeline, one file per stage: resolve, fetch,
// dependencies, render, extract, then rewrite, package and publish. Each stage is a plain
// function or small type with explicit inputs and outputs; none logs its way out of an
// error: errors name the addon, the chart, the image or the file:line.
package stages

import (
	"github.com/airgap-charts/airgap-charts/registry"
)

// ChartRef names a chart in a repository and the version wanted.
type ChartRef struct {
	// Repository is http(s)://… (a chart repository with index.yaml) or oci://host/path.
	Repository string
	// OCINamespace is the path between an OCI repository and the chart ("grafana").
	OCINamespace string
	// Name is the chart name.
	Name string
	// Constraint is an exact version, a semver range, or empty for the newest.
	Constraint string
}

// Location says where an image reference was found in the rendered chart.
type Location struct {
	// Kind and Name of the object ("Deployment", "rel-grafana"); for the chart annotation,
	// Kind is "Chart" and Name the chart name.
	Kind string `json:"kind"`
	Name string `json:"name"`
	// Path is the field path inside the object ("spec.template.spec.containers[0].image").
	Path string `json:"path"`
	// Template is the template file that produced the object, when Helm says.
	Template string `json:"template,omitempty"`
}

// FoundImage is one distinct image a rendered chart needs.
type FoundImage struct {
	// Ref is the normalized reference.
	Ref registry.ImageRef `json:"-"`
	// Raw is the reference exactly as rendered (first occurrence).
	Raw string `json:"raw"`
	// PodSpec is true when at least one occurrence is an image field of a container.
	PodSpec bool `json:"pod_spec"`
	// Where lists every occurrence.
	Where []Location `json:"where"`
	// AnnotationOnly is true when the only occurrences are the chart's artifacthub.io/images
	// annotation: the render does not use the image (a disabled component). It is mirrored
	// when it can be, and its failure never fails the chart.
	AnnotationOnly bool `json:"annotation_only,omitempty"`
}
