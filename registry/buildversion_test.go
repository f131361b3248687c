package registry

import (
	"runtime/debug"
	"testing"
)

func testBuildInfo(main string, settings ...string) *debug.BuildInfo {
	bi := &debug.BuildInfo{Main: debug.Module{Path: "github.com/airgap-charts/airgap-charts", Version: main}}
	for i := 0; i+1 < len(settings); i += 2 {
		bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
	}
	return bi
}

func TestResolveBuild(t *testing.T) {
	const rev = "0123456789abcdef0123456789abcdef01234567"
	for _, c := range []struct {
		name, stamped string
		bi            *debug.BuildInfo
		want          BuildInfo
	}{
		{"stamped wins", "v1.2.3", testBuildInfo("v0.9.0", "vcs.revision", rev), BuildInfo{Version: "v1.2.3", Revision: rev}},
		{"module version", "", testBuildInfo("v0.9.0"), BuildInfo{Version: "v0.9.0"}},
		{"pseudo-version from the VCS", "", testBuildInfo("v0.0.0-20261201095412-0123456789ab+dirty", "vcs.revision", rev, "vcs.modified", "true"),
			BuildInfo{Version: "v0.0.0-20261201095412-0123456789ab+dirty", Revision: rev, Modified: true}},
		{"revision when the version is (devel)", "", testBuildInfo("(devel)", "vcs.revision", rev, "vcs.modified", "false"),
			BuildInfo{Version: "0123456789ab", Revision: rev}},
		{"modified revision", "", testBuildInfo("(devel)", "vcs.revision", rev, "vcs.modified", "true"),
			BuildInfo{Version: "0123456789ab-dirty", Revision: rev, Modified: true}},
		{"nothing recorded", "", testBuildInfo("(devel)"), BuildInfo{Version: "devel"}},
		{"no build info", "", nil, BuildInfo{Version: "devel"}},
	} {
		if got := resolveBuild(c.stamped, c.bi); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}

func TestUserAgentNamesTheVersion(t *testing.T) {
	if got, want := UserAgent(), "airgap-charts/"+Build().Version; got != want || Build().Version == "" {
		t.Fatalf("UserAgent() = %q, want %q with a version", got, want)
	}
}
