package config

import (
	"fmt"
	"strings"
)

// Filter selects addons with --only-addon / --exclude-addons. Both are comma-separated
// lists matched exactly and case-insensitively: against chart names in values mode (the
// bare chart, or the chart path with its OCI namespace), against release names in catalog
// mode. An empty only keeps everything; exclude applies after only. Each name that matches
// no addon yields a warning naming it.
func Filter(addons []Addon, mode Mode, only, exclude string) (kept []Addon, warnings []string) {
	onlySet, excludeSet := nameSet(only), nameSet(exclude)
	onlyHit, excludeHit := map[string]bool{}, map[string]bool{}
	for _, a := range addons {
		keep, drop := len(onlySet) == 0, false
		for _, n := range filterNames(a, mode) {
			if onlySet[n] {
				keep, onlyHit[n] = true, true
			}
			if excludeSet[n] {
				drop, excludeHit[n] = true, true
			}
		}
		if keep && !drop {
			kept = append(kept, a)
		}
	}
	what := "chart"
	if mode == ModeCatalog {
		what = "release"
	}
	warn := func(flag, list string, hit map[string]bool) {
		warned := map[string]bool{}
		for _, n := range splitNames(list) {
			key := strings.ToLower(n)
			if !hit[key] && !warned[key] {
				warned[key] = true
				warnings = append(warnings, fmt.Sprintf("--%s %q matches no addon (%s mode matches %s names)", flag, n, mode, what))
			}
		}
	}
	warn("only-addon", only, onlyHit)
	warn("exclude-addons", exclude, excludeHit)
	return kept, warnings
}

// filterNames are the lower-cased names an addon answers to in a mode.
func filterNames(a Addon, mode Mode) []string {
	if mode == ModeCatalog {
		return []string{strings.ToLower(a.Name())}
	}
	names := []string{strings.ToLower(a.Chart)}
	if a.OCINamespace != "" {
		names = append(names, strings.ToLower(a.OCINamespace+"/"+a.Chart))
	}
	return names
}

func splitNames(list string) []string {
	var out []string
	for _, n := range strings.Split(list, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}

func nameSet(list string) map[string]bool {
	set := map[string]bool{}
	for _, n := range splitNames(list) {
		set[strings.ToLower(n)] = true
	}
	return set
}
