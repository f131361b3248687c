package config

import "strings"

// DockerHub is Docker Hub's canonical host name in references.
const DockerHub = "docker.io"

// dockerHubAliases are the other names Docker Hub answers to: the one table the tool
// reads them from (references, limits, rewrites).
var dockerHubAliases = []string{"index.docker.io", "registry-1.docker.io"}

// DockerHubAliases are the host names other than DockerHub that mean Docker Hub.
func DockerHubAliases() []string { return append([]string(nil), dockerHubAliases...) }

// CanonicalHost spells Docker Hub DockerHub whichever of its names host is (any case);
// any other host is returned as it is.
func CanonicalHost(host string) string {
	if strings.EqualFold(host, DockerHub) {
		return DockerHub
	}
	for _, a := range dockerHubAliases {
		if strings.EqualFold(host, a) {
			return DockerHub
		}
	}
	return host
}

// HostKey is how a host is keyed in every per-host table: lower case, Docker Hub under
// DockerHub whichever of its names it goes by.
func HostKey(host string) string { return CanonicalHost(strings.ToLower(host)) }
