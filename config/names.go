package config

import (
	"fmt"
	"regexp"
	"strconv"
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
		return fmt.Sprintf("release %s is longer than %d characters", quoteShort(release), maxReleaseLen)
	case !releaseRE.MatchString(release):
		return fmt.Sprintf("release %s is not a valid release name (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit)", quoteShort(release))
	}
	return ""
}

// CheckNamespace returns what is wrong with a Kubernetes namespace, or "".
func CheckNamespace(namespace string) string {
	switch {
	case len(namespace) > maxNamespaceLen:
		return fmt.Sprintf("namespace %s is longer than %d characters", quoteShort(namespace), maxNamespaceLen)
	case !namespaceRE.MatchString(namespace):
		return fmt.Sprintf("namespace %s is not a valid namespace (lowercase letters, digits and '-', starting and ending with a letter or digit)", quoteShort(namespace))
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
			return fmt.Sprintf("%s %s has an empty path component", what, quoteShort(path))
		case c == "." || c == "..":
			return fmt.Sprintf("%s %s refers to %q, which is not a repository path component", what, quoteShort(path), c)
		case !ociComponentRE.MatchString(c):
			return fmt.Sprintf("%s %s: component %s is not a valid repository name component (lowercase letters and digits, separated by '.', '_', '__' or '-')", what, quoteShort(path), quoteShort(c))
		}
	}
	return ""
}

// quoteShort quotes s for a message, cut to its first 64 characters when longer.
func quoteShort(s string) string {
	const keep = 64
	if len(s) <= keep {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:keep]) + fmt.Sprintf("… (%d bytes)", len(s))
}
