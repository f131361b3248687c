package stages

import (
	"context"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"

	"github.com/airgap-charts/airgap-charts/stages/chartrepotest"
)

// BenchmarkExtract measures Extract alone over renders of corpus charts that vendor their
// dependencies (the render happens once, outside the timer): prometheus (several
// subcharts, ConfigMaps), consul (large CRDs, long shell commands), postgresql, and
// kube-prometheus-stack without its dependencies (its subcharts off, its dashboards on:
// large dashboard ConfigMaps, rules).
func BenchmarkExtract(b *testing.B) {
	off := map[string]any{"enabled": false}
	values := map[string][]map[string]any{"kube-prometheus-stack": {{
		"nodeExporter": off, "kubeStateMetrics": off, "windowsMonitoring": off,
		"grafana": map[string]any{"enabled": false, "forceDeployDashboards": true},
	}}}
	for _, name := range []string{"prometheus", "consul", "postgresql", "kube-prometheus-stack"} {
		b.Run(name, func(b *testing.B) {
			ch, err := loader.Load(chartrepotest.Corpus(b, name))
			if err != nil {
				b.Fatal(err)
			}
			r, err := Render(context.Background(), ch, RenderOptions{Release: "rel", Namespace: "ns", KubeVersion: "1.33.0", Values: values[name]})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := Extract(r, ch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
