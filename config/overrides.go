package config

// Overrides are per-chart values from chart-overrides.yaml (`overrides: {CHART: {…}}`),
// keyed by chart name.
type Overrides map[string]map[string]any
