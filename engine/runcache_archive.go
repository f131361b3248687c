package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"os"

	"github.com/airgap-charts/airgap-charts/stages"
)

// open is the archive a run cache hit names, when pkg is the package for pkgKey with its
// files still at the expected paths holding the recorded digests: the archive's bytes, read
// once, and the metadata recorded when it was packaged, so a rerun does not load the chart
// from the archive again (Metadata nil: an older entry recorded none, the caller opens the
// archive itself). ok is false when the package cannot be used.
func (pkg *cachedPackage) open(pkgKey, archive, overrides string) (ar stages.ChartArchive, ok bool) {
	if pkg == nil || pkg.Key != pkgKey || pkg.Archive != archive || pkg.Overrides != overrides {
		return stages.ChartArchive{}, false
	}
	data, err := os.ReadFile(archive)
	if err != nil {
		return stages.ChartArchive{}, false
	}
	sum := sha256.Sum256(data)
	if "sha256:"+hex.EncodeToString(sum[:]) != pkg.ArchiveDigest || fileDigest(overrides) != pkg.OverridesDigest {
		return stages.ChartArchive{}, false
	}
	ar = stages.ChartArchive{Path: archive, Digest: pkg.ArchiveDigest, Data: data}
	if pkg.Metadata != nil {
		md := *pkg.Metadata
		ar.Metadata = &md
	}
	return ar, true
}
