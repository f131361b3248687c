// Package config turns the user's inputs (a values file or catalogs, chart-overrides.yaml
// and flags) into typed addons. It imports no Helm or Kubernetes package, so input errors
// are reported fast.
package config

import "fmt"

// Mode says how addons were discovered; it decides what the filters match.
type Mode string

const (
	// ModeValues discovers addons in a values file; filters match chart names.
	ModeValues Mode = "values"
	// ModeCatalog reads normalized catalogs; filters match release names.
	ModeCatalog Mode = "catalog"
)

// Position is where something was declared in an input file.
type Position struct {
	File string
	Line int
}

func (p Position) String() string {
	if p.File == "" {
		return "<flags>"
	}
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// Addon is one chart to mirror: where it comes from, which version, how it is released.
type Addon struct {
	// Chart is the chart name without any namespace ("loki", not "grafana/loki").
	Chart string `yaml:"chart"`
	// Repository is http(s)://… for a chart repository or oci://host/path for an OCI one.
	Repository string `yaml:"repository"`
	// OCINamespace is the path between the OCI repository and the chart name, split off a
	// chart path such as "grafana/loki"; empty for most charts.
	OCINamespace string `yaml:"oci_namespace"`
	// Version is an exact version, a semver range, or empty for the newest.
	Version string `yaml:"version"`
	// Release is the Helm release name; it also names the addon in catalog mode.
	Release string `yaml:"release"`
	// Namespace is the Kubernetes namespace used for rendering; empty means Release.
	Namespace string `yaml:"namespace,omitempty"`
	// Values are the addon's own chart values (values / helm.values / helm.valuesObject).
	Values map[string]any `yaml:"values,omitempty"`
	// Username and Password authenticate to the chart repository (basic auth); they are
	// never logged or written back.
	Username string `yaml:"username,omitempty"`
	Password string `yaml:"-"`
	// PasswordEnv names an environment variable holding Password.
	PasswordEnv string `yaml:"password_env,omitempty"`
	// Source is where the addon was declared.
	Source Position `yaml:"-"`
}

// Name is the addon's display name: its release, or its chart when it has none.
func (a Addon) Name() string {
	if a.Release != "" {
		return a.Release
	}
	return a.Chart
}

// RenderNamespace is the namespace the addon is rendered into.
func (a Addon) RenderNamespace() string {
	if a.Namespace != "" {
		return a.Namespace
	}
	if a.Release != "" {
		return a.Release
	}
	return a.Chart
}
