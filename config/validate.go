package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// CheckRepository returns a description of what is wrong with a chart repository URL, or
// "" when it is an http://, https:// or oci:// URL with a host.
func CheckRepository(repo string) string {
	u, err := url.Parse(repo)
	repo = RedactURLs(repo) // the message never shows a password of the URL
	if len(repo) > 256 {
		repo = repo[:256] + "…"
	}
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error quotes the whole URL
		}
		return fmt.Sprintf("repository %q is not a URL: %v", repo, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https", "oci":
	case "":
		return fmt.Sprintf("repository %q has no scheme; use http://, https:// or oci://", repo)
	default:
		return fmt.Sprintf("repository %q has scheme %q; use http://, https:// or oci://", repo, u.Scheme)
	}
	if u.Host == "" {
		return fmt.Sprintf("repository %q has no host", repo)
	}
	return ""
}

// CheckVersion returns a description of what is wrong with an addon version, or "" when it
// is empty (newest), an exact version (a leading v is accepted) or a semver range.
func CheckVersion(version string) string {
	if version == "" {
		return ""
	}
	if _, err := semver.NewVersion(version); err == nil {
		return ""
	}
	if _, err := semver.NewConstraint(version); err == nil {
		return ""
	}
	return fmt.Sprintf("version %q is neither a version nor a semver range", version)
}

// splitChartPath splits a chart path such as "grafana/loki" into its namespace and name.
func splitChartPath(chart string) (namespace, name string) {
	chart = strings.Trim(chart, "/")
	i := strings.LastIndex(chart, "/")
	if i < 0 {
		return "", chart
	}
	return chart[:i], chart[i+1:]
}

// checkAddon validates a decoded addon; pos is its declaration, valuePos where each
// field's value sits (missing entries fall back to pos). label says which addon it is.
func checkAddon(a *Addon, pos Position, valuePos map[string]Position, label string) error {
	at := func(field string) Position {
		if p, ok := valuePos[field]; ok {
			return p
		}
		return pos
	}
	switch {
	case a.Chart == "" && a.Repository == "":
		return inputErrorf(pos, "%s: missing chart and repository", label)
	case a.Chart == "":
		return inputErrorf(pos, "%s: missing chart", label)
	case a.Repository == "":
		return inputErrorf(pos, "%s: missing repository", label)
	}
	if msg := CheckRepository(a.Repository); msg != "" {
		return inputErrorf(at("repository"), "%s: %s", label, msg)
	}
	if msg := CheckVersion(a.Version); msg != "" {
		return inputErrorf(at("version"), "%s: %s", label, msg)
	}
	if msg := CheckRelease(a.Release); msg != "" {
		return inputErrorf(at("release"), "%s: %s", label, msg)
	}
	if a.Namespace != "" {
		if msg := CheckNamespace(a.Namespace); msg != "" {
			return inputErrorf(at("namespace"), "%s: %s", label, msg)
		}
	}
	if msg := CheckRepositoryPath("oci_namespace", a.OCINamespace); msg != "" {
		return inputErrorf(at("oci_namespace"), "%s: %s", label, msg)
	}
	return nil
}

// addonLabel names an addon in an error: its release or chart when known, else its index.
func addonLabel(index int, release, chart string) string {
	switch {
	case release != "":
		return fmt.Sprintf("addon %q", release)
	case chart != "":
		return fmt.Sprintf("addon %q", chart)
	case index > 0:
		return fmt.Sprintf("addon #%d", index)
	}
	return "addon"
}
