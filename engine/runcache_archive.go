package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"time"

	"github.com/airgap-charts/airgap-charts/stages"
)

// fileStamp is what a file's metadata says of its content: its size and modification time.
// A file whose stamp is the one recorded when its content was last read and digested is
// taken to hold that content still, as make and git take it.
type fileStamp struct {
	Size    int64 `json:"size"`
	ModTime int64 `json:"mtime_ns"`
}

// stampRace is how much older than the moment of its recording a file's modification time
// must be for its stamp to be recorded: a file changed again within the same tick of the
// file system's clock, to the same size, would otherwise keep its stamp (ticks are a few
// milliseconds on Linux file systems, a second on some network ones, two seconds on FAT).
const stampRace = 3 * time.Second

func stampOf(path string) (fileStamp, bool) {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return fileStamp{}, false
	}
	return fileStamp{Size: fi.Size(), ModTime: fi.ModTime().UnixNano()}, true
}

// open is the archive a run cache hit names, when pkg is the package for pkgKey with its
// files still at the expected paths holding the recorded digests, and the metadata recorded
// when it was packaged, so a rerun does not load the chart from the archive again
// (Metadata nil: an older entry recorded none, the caller opens the archive itself). ok is
// false when the package cannot be used.
//
// When both files still have the stamps recorded when they were last digested, neither is
// read: the archive's bytes are read, and checked against the digest, only when a push needs
// them (stages.ChartArchive.Load). Otherwise both are read and digested, and their stamps
// (taken before reading) recorded for the next run.
func (pkg *cachedPackage) open(pkgKey, archive, overrides string) (ar stages.ChartArchive, ok bool) {
	if pkg == nil || pkg.Key != pkgKey || pkg.Archive != archive || pkg.Overrides != overrides {
		return stages.ChartArchive{}, false
	}
	as, aok := stampOf(archive)
	ovs, ook := stampOf(overrides)
	if aok && ook && pkg.Metadata != nil && pkg.ArchiveStamp != nil && *pkg.ArchiveStamp == as &&
		pkg.OverridesStamp != nil && *pkg.OverridesStamp == ovs {
		md := *pkg.Metadata
		return stages.ChartArchive{Path: archive, Digest: pkg.ArchiveDigest, Metadata: &md}, true
	}
	pkg.ArchiveStamp, pkg.OverridesStamp = nil, nil
	data, err := os.ReadFile(archive)
	if err != nil {
		return stages.ChartArchive{}, false
	}
	sum := sha256.Sum256(data)
	if "sha256:"+hex.EncodeToString(sum[:]) != pkg.ArchiveDigest || fileDigest(overrides) != pkg.OverridesDigest {
		return stages.ChartArchive{}, false
	}
	if settled := time.Now().Add(-stampRace).UnixNano(); aok && ook && as.ModTime < settled && ovs.ModTime < settled {
		pkg.ArchiveStamp, pkg.OverridesStamp = &as, &ovs
	}
	ar = stages.ChartArchive{Path: archive, Digest: pkg.ArchiveDigest, Data: data}
	if pkg.Metadata != nil {
		md := *pkg.Metadata
		ar.Metadata = &md
	}
	return ar, true
}

// forgetStamps makes the next run read and digest the package's files again (the archive
// was found changed though its stamp was not).
func (pkg *cachedPackage) forgetStamps() {
	if pkg != nil {
		pkg.ArchiveStamp, pkg.OverridesStamp = nil, nil
	}
}
