package engine

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/airgap-charts/airgap-charts/stages"
)

// loadChart loads the fetched archive and resolves its dependencies into p.chart.
func (e *runEnv) loadChart(ctx context.Context, p *preparedAddon, fc stages.FetchedChart, rep *AddonReport, log *zap.Logger) error {
	stage := rep.Stage
	rep.Stage = "fetch"
	if err := e.fetcher.Load(ctx, &fc); err != nil {
		return err
	}
	rep.Stage = "dependencies"
	t := time.Now()
	deps, err := stages.ResolveDependencies(ctx, fc.Chart, stages.DependencyOptions{
		Include: e.opts.IncludeDeps, Resolver: e.resolver, Fetcher: e.fetcher, Values: stages.MergeValues(p.layers...),
	})
	if err != nil {
		return err
	}
	if p.load == nil { // the first load: the report and the log have not seen them
		rep.Dependencies = deps
		rep.timing("dependencies", t)
		logDependencies(log, deps)
	}
	p.chart, p.name, p.version, p.load = fc.Chart, fc.Chart.Name(), fc.Chart.Metadata.Version, nil
	rep.Stage = stage
	return nil
}

func logDependencies(log *zap.Logger, deps []stages.Dependency) {
	for _, d := range deps {
		fields := []zap.Field{zap.String("dependency", d.Name), zap.String("dep_version", d.Version), zap.String("repository", d.Repository), zap.String("state", d.State)}
		if d.State == stages.DepDropped {
			log.Warn("dependency dropped", append(fields, zap.String("reason", d.Reason))...)
			continue
		}
		log.Info("dependency", fields...)
	}
}
