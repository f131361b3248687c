package stages

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// exactVersion matches a constraint that is one full version ("1.2.3", "v0.6.0-rc.1").
var exactVersion = regexp.MustCompile(`^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

// versionish finds the version a constraint is about, to list the nearest ones.
var versionish = regexp.MustCompile(`\d+(\.\d+){0,2}`)

// nearestShown is how many versions a "not found" error lists on each side.
const nearestShown = 3

type parsedVersion struct {
	raw string
	v   *semver.Version
}

// selectVersion picks a version from what a repository lists: the exact version asked for,
// the newest that satisfies a semver range, or the newest of all (no constraint, or
// Latest). Prereleases count only when Prerelease is set or the constraint names one.
func selectVersion(available []string, constraint string, opts ResolveOptions) (string, error) {
	constraint = strings.TrimSpace(constraint)
	var parsed []parsedVersion
	for _, raw := range available {
		if v, err := semver.NewVersion(raw); err == nil {
			parsed = append(parsed, parsedVersion{raw: raw, v: v})
		}
	}
	if len(available) == 0 {
		return "", fmt.Errorf("no versions available")
	}
	if constraint == "" || opts.Latest {
		if best := newest(parsed, func(p parsedVersion) bool { return opts.Prerelease || p.v.Prerelease() == "" }); best != "" {
			return best, nil
		}
		return "", fmt.Errorf("no released version (only prereleases or non-semver versions: %s)", nearest(parsed, ""))
	}
	for _, raw := range available {
		if raw == constraint {
			return raw, nil
		}
	}
	if exactVersion.MatchString(constraint) {
		want, err := semver.NewVersion(constraint)
		if err == nil {
			for _, p := range parsed {
				if p.v.Equal(want) {
					return p.raw, nil
				}
			}
		}
		return "", fmt.Errorf("version %s not found; nearest available: %s", constraint, nearest(parsed, constraint))
	}
	c, err := semver.NewConstraint(constraint)
	if err != nil {
		return "", fmt.Errorf("version constraint %q is not a version or semver range: %w", constraint, err)
	}
	best := newest(parsed, func(p parsedVersion) bool {
		if c.Check(p.v) {
			return true
		}
		if opts.Prerelease && p.v.Prerelease() != "" {
			core, err := p.v.SetPrerelease("")
			return err == nil && c.Check(&core)
		}
		return false
	})
	if best == "" {
		return "", fmt.Errorf("no version matches %q; nearest available: %s", constraint, nearest(parsed, constraint))
	}
	return best, nil
}

func newest(parsed []parsedVersion, ok func(parsedVersion) bool) string {
	var best *parsedVersion
	for i := range parsed {
		if ok(parsed[i]) && (best == nil || parsed[i].v.GreaterThan(best.v)) {
			best = &parsed[i]
		}
	}
	if best == nil {
		return ""
	}
	return best.raw
}

// nearest lists the versions around the one a constraint names (newest first), or the
// newest ones when it names none.
func nearest(parsed []parsedVersion, constraint string) string {
	if len(parsed) == 0 {
		return "none (no semver versions listed)"
	}
	sorted := append([]parsedVersion(nil), parsed...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].v.LessThan(sorted[j].v) })
	lo, hi := len(sorted)-2*nearestShown, len(sorted)
	if m := versionish.FindString(constraint); m != "" {
		if target, err := semver.NewVersion(m); err == nil {
			at := sort.Search(len(sorted), func(i int) bool { return !sorted[i].v.LessThan(target) })
			lo, hi = at-nearestShown, at+nearestShown
		}
	}
	lo, hi = max(lo, 0), min(hi, len(sorted))
	out := make([]string, 0, hi-lo)
	for i := hi - 1; i >= lo; i-- {
		out = append(out, sorted[i].raw)
	}
	return fmt.Sprintf("%s (%d listed)", strings.Join(out, ", "), len(sorted))
}
