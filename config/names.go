package config

import (
	"fmt"
	"regexp"
	"strings"
)

// Helm's release name rule (a DNS subdomain of at most 53 characters), Kubernetes' namespace
// rule (a DNS label) and the OCI distribution rule for a repository path component.
var (
	releaseRE      = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	namespaceRE    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	ociComponentRE = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$`)
)

const (
	maxReleaseLen   = 53
	maxNamespaceLen = 63
)

// CheckRelease returns what is wrong with a Helm release name, or "".
func CheckRelease(release string) string {
	switch {
	case len(release) > maxReleaseLen:
		return fmt.Sprintf("release %q is longer than %d characters", release, maxReleaseLen)
	case !releaseRE.MatchString(release):
		return fmt.Sprintf("release %q is not a valid release name (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit)", release)
	}
	return ""
}

// CheckNamespace returns what is wrong with a Kubernetes namespace, or "".
func CheckNamespace(namespace string) string {
	switch {
	case len(namespace) > maxNamespaceLen:
		return fmt.Sprintf("namespace %q is longer than %d characters", namespace, maxNamespaceLen)
	case !namespaceRE.MatchString(namespace):
		return fmt.Sprintf("namespace %q is not a valid namespace (lowercase letters, digits and '-', starting and ending with a letter or digit)", namespace)
	}
	return ""
}

// CheckRepositoryPath returns what is wrong with what names a path of repositories in a
// registry (an oci_namespace, --target-prefix): components of lowercase letters and digits
// separated by '.', '_', '__' or '-', joined by '/'. what names it in the message. An empty
// path is valid.
func CheckRepositoryPath(what, path string) string {
	if path == "" {
		return ""
	}
	for _, c := range strings.Split(path, "/") {
		switch {
		case c == "":
			return fmt.Sprintf("%s %q has an empty path component", what, path)
		case c == "." || c == "..":
			return fmt.Sprintf("%s %q refers to %q, which is not a repository path component", what, path, c)
		case !ociComponentRE.MatchString(c):
			return fmt.Sprintf("%s %q: component %q is not a valid repository name component (lowercase letters and digits, separated by '.', '_', '__' or '-')", what, path, c)
		}
	}
	return ""
}
