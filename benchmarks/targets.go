package benchmarks

import (
	"fmt"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// CountCheck is one deterministic request-count target and what a run did against it.
type CountCheck struct {
	Name string
	Got  int
	Want string // "== N" or "<= N"
	OK   bool
}

func (c CountCheck) String() string {
	verdict := "ok"
	if !c.OK {
		verdict = "MISSED"
	}
	return fmt.Sprintf("%s: got %d, want %s (%s)", c.Name, c.Got, c.Want, verdict)
}

func eq(name string, got, want int) CountCheck {
	return CountCheck{Name: name, Got: got, Want: fmt.Sprintf("== %d", want), OK: got == want}
}

func le(name string, got, want int) CountCheck {
	return CountCheck{Name: name, Got: got, Want: fmt.Sprintf("<= %d", want), OK: got <= want}
}

// ColdChecks are the cold-copy targets: each distinct blob fetched from the source once,
// uploaded to the destination once, mounted into every other repository that needs it.
func ColdChecks(f FleetFacts, cold RunResult) []CountCheck {
	d := f.DistinctBlobs
	return []CountCheck{
		eq("cold: source blob GETs (= distinct blobs)", cold.Src.Kinds[registrytest.BlobGet], d),
		eq("cold: destination uploads completed (= distinct blobs)", cold.Dst.OK[registrytest.UploadEnd], d),
		eq("cold: destination mounts (= repository blob references - distinct blobs)", cold.Dst.Mounted, f.RepoBlobRefs-d),
	}
}

// WarmChecks are the no-op rerun targets: nothing pulled, at most one destination request
// per image.
func WarmChecks(f FleetFacts, warm RunResult) []CountCheck {
	return []CountCheck{
		eq("warm: source manifest GETs", warm.Src.Kinds[registrytest.ManifestGet], 0),
		eq("warm: source blob GETs", warm.Src.Kinds[registrytest.BlobGet], 0),
		le("warm: destination requests on image repositories (<= 1 per image)", warm.Dst.Total, f.Images),
	}
}
