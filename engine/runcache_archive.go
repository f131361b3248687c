package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"os"

	"github.com/airgap-charts/airgap-charts/stages"
)

// openCachedArchive is the archive a run cache hit names: its bytes, which must still
// hold the recorded digest, and the metadata recorded when it was packaged, so a rerun does
// not load the chart from the archive again. ok is false when the entry recorded no
// metadata (an older entry) or the file changed: the caller opens the archive itself.
func openCachedArchive(pkg *cachedPackage) (stages.ChartArchive, bool) {
	if pkg == nil || pkg.Metadata == nil {
		return stages.ChartArchive{}, false
	}
	data, err := os.ReadFile(pkg.Archive)
	if err != nil {
		return stages.ChartArchive{}, false
	}
	sum := sha256.Sum256(data)
	if d := "sha256:" + hex.EncodeToString(sum[:]); d != pkg.ArchiveDigest {
		return stages.ChartArchive{}, false
	}
	md := *pkg.Metadata
	return stages.ChartArchive{Path: pkg.Archive, Digest: pkg.ArchiveDigest, Data: data, Metadata: &md}, true
}
