package engine

import (
	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/registry"
)

// Lock is the lock this run's outcome makes (nil when the run made none). An addon that
// did not get through its images keeps its entry from the last lock, if that lock was made
// from the same inputs.
func (r *Report) Lock() *Lock { return r.lock }

// stagesBeforeImages are the stages an addon fails at before its images are known.
var stagesBeforeImages = map[string]bool{"start": true, "resolve": true, "fetch": true, "dependencies": true, "render": true, "extract": true}

// build makes the lock of rep: per addon its resolved version and archive digest, per
// image what its source resolved to and where it landed. An addon the run's filters left
// out keeps its entry as it was; an addon no longer in the inputs loses its entry.
func (l *lockRun) build(rep *Report) *Lock {
	out := &Lock{SchemaVersion: LockSchemaVersion}
	ran := map[string]bool{}
	for _, a := range rep.Addons {
		ran[a.Addon] = true
		prior := l.prior.addon(a.Addon)
		e, ok := lockAddon(a, rep.Platform)
		switch {
		case ok:
			e.Inputs = l.inputs[a.Addon]
			out.Addons = append(out.Addons, e)
		case prior != nil && prior.Inputs == l.inputs[a.Addon]:
			// Same inputs: the last lock's entry still describes this addon.
			out.Addons = append(out.Addons, *prior)
		}
	}
	if l.prior != nil {
		for _, e := range l.prior.Addons {
			if !ran[e.Name] && l.others[e.Name] {
				out.Addons = append(out.Addons, e)
			}
		}
	}
	return out
}

// lockAddon is a's lock entry; false when a failed before its chart or an image of it was
// known.
func lockAddon(a *AddonReport, platform string) (LockAddon, bool) {
	e := LockAddon{Name: a.Addon, Chart: a.Chart, Repository: config.RedactURLs(a.Repository), Version: a.Version, Digest: a.ChartDigest}
	if a.Version == "" || a.ChartDigest == "" || (a.Status == StatusError && stagesBeforeImages[a.Stage]) {
		return e, false
	}
	seen := map[string]bool{}
	for _, img := range a.Images {
		if img.Result == OutcomeFailed {
			if a.Status == StatusError {
				return e, false
			}
			continue // an annotation-only image the chart does not pull
		}
		if seen[img.Source+"|"+img.Destination] {
			continue
		}
		seen[img.Source+"|"+img.Destination] = true
		li := LockImage{Source: img.Source, Destination: img.Destination, Digest: img.tagDigest}
		auto := platform == "" || platform == registry.PlatformAuto.String()
		// What was copied: the copy's source, else what the destination tag holds.
		copied := img.SourceDigest
		if copied == "" || img.Result == OutcomeDrift {
			// Drift left in place: the tag still holds what it held, and the next run
			// must find the source moved away from it again.
			copied = img.DestDigest
		}
		if img.Result == OutcomeDrift {
			li.Digest = ""
		}
		if auto {
			if li.Digest == "" {
				li.Digest = copied
			}
		} else {
			li.Platform, li.PlatformDigest = platform, copied
		}
		if li.Digest == "" {
			return e, false // scan-only: nothing resolved
		}
		e.Images = append(e.Images, li)
	}
	return e, true
}
