package stages

import (
	"context"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"

	"github.com/airgap-charts/airgap-charts/stages/chartrepotest"
)

// BenchmarkExtract measures Extract alone over renders of corpus charts that vendor their
// dependencies (the render happens once, outside the timer): prometheus (several
// subcharts, ConfigMaps), consul (large CRDs, long shell commands) and postgresql.
func BenchmarkExtract(b *testing.B) {
	for _, name := range []string{"prometheus", "consul", "postgresql"} {
		b.Run(name, func(b *testing.B) {
			ch, err := loader.Load(chartrepotest.Corpus(b, name))
			if err != nil {
				b.Fatal(err)
			}
			r, err := Render(context.Background(), ch, RenderOptions{Release: "rel", Namespace: "ns", KubeVersion: "1.33.0"})
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
