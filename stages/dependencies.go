package stages

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
)

// Dependency states.
const (
	// DepVendored: the subchart was in the archive's charts/ and is used as it is.
	DepVendored = "vendored"
	// DepFetched: the subchart was missing and was fetched from its repository.
	DepFetched = "fetched"
	// DepDropped: the subchart was missing, disabled by its condition or tags, and could
	// not be fetched; it is removed from the chart's dependency list.
	DepDropped = "dropped"
	// DepExcluded: dependencies were excluded; the chart renders without its subcharts.
	DepExcluded = "excluded"
)

// DependencyOptions configures ResolveDependencies.
type DependencyOptions struct {
	// Include builds the subcharts (vendored or fetched); false removes them all.
	Include bool
	// Resolver and Fetcher bring missing subcharts; required when Include is set.
	Resolver *Resolver
	Fetcher  *Fetcher
	// Values are the addon's values, merged over the chart's defaults to evaluate the
	// dependencies' conditions and tags; nil: the chart's defaults alone.
	Values map[string]any
}

// Dependency is one entry of a chart's dependency graph.
type Dependency struct {
	// Parent is the path of the chart declaring it ("kube-prometheus-stack",
	// "prometheus/alertmanager").
	Parent string
	Name   string
	// Version is the subchart's version when present, otherwise the constraint declared.
	Version    string
	Repository string
	State      string
	// Reason says why a dependency was dropped.
	Reason string
	// Enabled is the dependency's condition/tags evaluation with the addon's values.
	Enabled bool
}

// ResolveDependencies makes ch's subcharts what the render needs, changing only the chart
// in memory. With Include, subcharts vendored in charts/ are kept as they are, missing ones
// are resolved with their version constraints and fetched from their repository (HTTP or
// OCI, through the resolver's repository mirrors), recursively; a missing one that its
// condition or tags disable and that cannot be fetched is dropped from Chart.yaml's list
// (Helm refuses a chart listing an absent dependency); an enabled one that cannot be
// fetched is an error. Without Include, every subchart and dependency entry is removed.
func ResolveDependencies(ctx context.Context, ch *chart.Chart, opts DependencyOptions) ([]Dependency, error) {
	if ch == nil || ch.Metadata == nil {
		return nil, errors.New("dependencies: no chart")
	}
	if !opts.Include {
		return excludeDependencies(ch), nil
	}
	if opts.Resolver == nil || opts.Fetcher == nil {
		return nil, fmt.Errorf("chart %q: dependencies: a resolver and a fetcher are needed", ch.Name())
	}
	d := &depWalker{opts: opts}
	vals := chartutil.Values(opts.Values)
	if vals == nil {
		vals = chartutil.Values{}
	}
	tags, _ := vals.Table("tags")
	if err := d.walk(ctx, ch, vals, tags, ch.Name(), true); err != nil {
		return d.out, err
	}
	return d.out, nil
}

func excludeDependencies(ch *chart.Chart) []Dependency {
	var out []Dependency
	for _, dep := range ch.Metadata.Dependencies {
		if dep != nil {
			out = append(out, Dependency{Parent: ch.Name(), Name: dep.Name, Version: dep.Version,
				Repository: dep.Repository, State: DepExcluded})
		}
	}
	ch.SetDependencies()
	ch.Metadata.Dependencies = nil
	ch.Lock = nil
	return out
}

type depWalker struct {
	opts DependencyOptions
	out  []Dependency
}

// walk handles ch's declared dependencies, then recurses into each subchart with the values
// under its name (or alias). parentEnabled is false below a disabled subchart.
func (d *depWalker) walk(ctx context.Context, ch *chart.Chart, scoped chartutil.Values, tags chartutil.Values, path string, parentEnabled bool) error {
	vals, err := chartutil.CoalesceValues(ch, scoped)
	if err != nil {
		return fmt.Errorf("chart %s: merging values to evaluate dependency conditions: %w", path, err)
	}
	type child struct {
		ch      *chart.Chart
		key     string
		enabled bool
	}
	var children []child
	for _, dep := range append([]*chart.Dependency(nil), ch.Metadata.Dependencies...) {
		if dep == nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		enabled := parentEnabled && dependencyEnabled(dep, vals, tags)
		key := dep.Name
		if dep.Alias != "" {
			key = dep.Alias
		}
		entry := Dependency{Parent: path, Name: dep.Name, Version: dep.Version, Repository: dep.Repository, Enabled: enabled}
		if sub := subchart(ch, dep.Name); sub != nil {
			entry.State, entry.Version = DepVendored, sub.Metadata.Version
			d.out = append(d.out, entry)
			children = append(children, child{sub, key, enabled})
			continue
		}
		sub, version, err := d.fetch(ctx, dep)
		if err == nil {
			ch.AddDependency(sub)
			entry.State, entry.Version = DepFetched, version
			d.out = append(d.out, entry)
			children = append(children, child{sub, key, enabled})
			continue
		}
		if enabled {
			return fmt.Errorf("chart %s: dependency %q (version %q, repository %s) is enabled but cannot be fetched: %w",
				path, dep.Name, dep.Version, redact(dep.Repository), err)
		}
		dropDependency(ch, dep)
		entry.State, entry.Reason = DepDropped, "disabled and cannot be fetched: "+err.Error()
		d.out = append(d.out, entry)
	}
	for _, c := range children {
		sub, _ := vals.Table(c.key)
		if err := d.walk(ctx, c.ch, sub, tags, path+"/"+c.key, c.enabled); err != nil {
			return err
		}
	}
	return nil
}

// fetch resolves and fetches one missing dependency.
func (d *depWalker) fetch(ctx context.Context, dep *chart.Dependency) (*chart.Chart, string, error) {
	repoURL := strings.TrimSpace(dep.Repository)
	switch {
	case repoURL == "":
		return nil, "", errors.New("not vendored in charts/ and no repository declared")
	case strings.HasPrefix(repoURL, "file://"):
		return nil, "", fmt.Errorf("not vendored in charts/ and %s is a local path outside the archive", repoURL)
	case strings.HasPrefix(repoURL, "@") || strings.HasPrefix(repoURL, "alias:"):
		return nil, "", fmt.Errorf("repository %s names a local Helm repository entry; give its URL", repoURL)
	}
	ref := ChartRef{Repository: repoURL, Name: dep.Name, Constraint: dep.Version}
	rc, err := d.opts.Resolver.Resolve(ctx, ref, ResolveOptions{})
	if err != nil {
		return nil, "", err
	}
	fc, err := d.opts.Fetcher.Fetch(ctx, rc)
	if err != nil {
		return nil, "", err
	}
	return fc.Chart, rc.Version, nil
}

// subchart finds a subchart by chart name, as Helm matches them.
func subchart(ch *chart.Chart, name string) *chart.Chart {
	for _, sub := range ch.Dependencies() {
		if sub != nil && sub.Name() == name {
			return sub
		}
	}
	return nil
}

// dependencyEnabled evaluates tags, then conditions (the first condition path holding a
// bool wins), as Helm does.
func dependencyEnabled(dep *chart.Dependency, vals chartutil.Values, tags chartutil.Values) bool {
	enabled := true
	if len(dep.Tags) > 0 && tags != nil {
		var hasTrue, hasFalse bool
		for _, t := range dep.Tags {
			if b, ok := tags[t].(bool); ok {
				hasTrue, hasFalse = hasTrue || b, hasFalse || !b
			}
		}
		enabled = hasTrue || !hasFalse
	}
	for _, cond := range strings.Split(strings.TrimSpace(dep.Condition), ",") {
		cond = strings.TrimSpace(cond)
		if cond == "" {
			continue
		}
		if v, err := vals.PathValue(cond); err == nil {
			if b, ok := v.(bool); ok {
				return b
			}
		}
	}
	return enabled
}

// dropDependency removes dep from Chart.yaml's list and from Chart.lock.
func dropDependency(ch *chart.Chart, dep *chart.Dependency) {
	kept := ch.Metadata.Dependencies[:0]
	for _, x := range ch.Metadata.Dependencies {
		if x != dep {
			kept = append(kept, x)
		}
	}
	ch.Metadata.Dependencies = kept
	if ch.Lock != nil {
		locked := ch.Lock.Dependencies[:0]
		for _, x := range ch.Lock.Dependencies {
			if x == nil || x.Name != dep.Name {
				locked = append(locked, x)
			}
		}
		ch.Lock.Dependencies = locked
	}
}
