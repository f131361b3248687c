package registry

// Which build of airgap-charts is running: the version stamped at build time, else what
// Go recorded in the binary (the module version, or the VCS revision it was built from).
// Registries see it in every request's User-Agent.

import (
	"runtime/debug"
	"sync"
)

// Version is stamped at build time:
//
//	go build -ldflags "-X github.com/airgap-charts/airgap-charts/registry.StampedVersion=v1.2.3"
//
// Empty: the build info decides (see Get).
var StampedVersion string

// BuildInfo is what is known of the running build.
type BuildInfo struct {
	// Version is the stamped version, else the module version (v1.2.3, or the
	// pseudo-version Go derives from the VCS, "+dirty" when modified), else the short
	// revision ("-dirty" when modified), else "devel" when Go recorded nothing (go test,
	// go run outside a checkout).
	Version string
	// Revision is the VCS revision the binary was built from, empty when unknown.
	Revision string
	// Modified is true when the work tree had uncommitted changes.
	Modified bool
}

var build = sync.OnceValue(func() BuildInfo {
	info, _ := debug.ReadBuildInfo()
	return resolveBuild(StampedVersion, info)
})

// Build returns the running build's BuildInfo.
func Build() BuildInfo { return build() }

// UserAgent is the User-Agent airgap-charts sends: "airgap-charts/VERSION".
func UserAgent() string { return "airgap-charts/" + Build().Version }

// resolveBuild decides the BuildInfo from a stamped version and the build info (either may be empty).
func resolveBuild(stamped string, bi *debug.BuildInfo) BuildInfo {
	var i BuildInfo
	if bi != nil {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				i.Revision = s.Value
			case "vcs.modified":
				i.Modified = s.Value == "true"
			}
		}
	}
	switch {
	case stamped != "":
		i.Version = stamped
	case bi != nil && bi.Main.Version != "" && bi.Main.Version != "(devel)":
		i.Version = bi.Main.Version
	case i.Revision != "":
		i.Version = shortRevision(i.Revision)
		if i.Modified {
			i.Version += "-dirty"
		}
	default:
		i.Version = "devel"
	}
	return i
}

// shortRevision is a revision cut to 12 characters.
func shortRevision(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}
