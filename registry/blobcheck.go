package registry

import "strings"

// blobBodyMismatch reports whether err is a blob body that did not match its digest or
// size as it streamed (go-containerregistry's verifying reader): a body altered or cut
// short on the way, worth fetching again.
func blobBodyMismatch(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	return strings.Contains(s, "error verifying ") && (strings.Contains(s, " checksum") || strings.Contains(s, "Size"))
}
