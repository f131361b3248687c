package stages

import (
	"strings"
	"testing"
)

func TestSelectVersion(t *testing.T) {
	avail := []string{"1.6.0", "1.7.0", "1.7.2", "1.8.0-rc.1", "1.8.0", "2.0.0-beta.1",
		"6.0.1", "6.4.0", "7.0.0", "0.12.0", "0.12.3", "0.13.0", "v0.6.0", "not-semver"}
	cases := []struct {
		constraint string
		opts       ResolveOptions
		want       string
	}{
		{"1.7.2", ResolveOptions{}, "1.7.2"},
		{"v1.7.2", ResolveOptions{}, "1.7.2"}, // v prefix equals the plain version
		{"0.6.0", ResolveOptions{}, "v0.6.0"}, // and the other way round
		{"not-semver", ResolveOptions{}, "not-semver"},
		{"~1.7", ResolveOptions{}, "1.7.2"},
		{">=6.0 <7", ResolveOptions{}, "6.4.0"},
		{"0.12.*", ResolveOptions{}, "0.12.3"},
		{"^1", ResolveOptions{}, "1.8.0"},
		{"", ResolveOptions{}, "7.0.0"},
		{"1.6.0", ResolveOptions{Latest: true}, "7.0.0"},
		{"", ResolveOptions{Prerelease: true}, "7.0.0"},
		{">=1.8.0-0 <1.9", ResolveOptions{}, "1.8.0"},
		{"~2.0", ResolveOptions{}, ""},
		{"~2.0", ResolveOptions{Prerelease: true}, "2.0.0-beta.1"},
		{"1.8.0-rc.1", ResolveOptions{}, "1.8.0-rc.1"},
	}
	for _, c := range cases {
		got, err := selectVersion(avail, c.constraint, c.opts)
		if c.want == "" {
			if err == nil {
				t.Errorf("%q %+v: got %s, want an error", c.constraint, c.opts, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q %+v: got %q, %v; want %q", c.constraint, c.opts, got, err, c.want)
		}
	}
}

func TestSelectVersionPrereleaseOnlyWhenAsked(t *testing.T) {
	avail := []string{"3.0.0", "3.1.0-rc.2"}
	if got, _ := selectVersion(avail, "", ResolveOptions{}); got != "3.0.0" {
		t.Errorf("newest without prereleases: %s", got)
	}
	if got, _ := selectVersion(avail, "", ResolveOptions{Prerelease: true}); got != "3.1.0-rc.2" {
		t.Errorf("newest with prereleases: %s", got)
	}
}

func TestSelectVersionNotFoundListsNearest(t *testing.T) {
	avail := []string{"10.0.0", "10.1.0", "10.1.1", "10.2.0", "9.0.0", "9.5.0", "3.0.0", "1.0.0", "11.0.0", "12.0.0"}
	_, err := selectVersion(avail, "10.1.5", ResolveOptions{})
	if err == nil {
		t.Fatal("10.1.5 resolved")
	}
	msg := err.Error()
	for _, want := range []string{"10.1.5", "10.1.1", "10.2.0", "10.1.0", "11.0.0", "(10 listed)"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	for _, far := range []string{"9.5.0", "3.0.0"} {
		if strings.Contains(msg, far) {
			t.Errorf("error %q lists far version %s", msg, far)
		}
	}
	// Newest first: 11.0.0 before 10.2.0 before 10.1.1.
	if i, j := strings.Index(msg, "11.0.0"), strings.Index(msg, "10.1.1"); i > j {
		t.Errorf("error %q is not newest first", msg)
	}
	_, err = selectVersion(avail, ">=20", ResolveOptions{})
	if err == nil || !strings.Contains(err.Error(), "12.0.0") {
		t.Errorf("range beyond everything: %v", err)
	}
	if _, err := selectVersion(avail, "not a constraint ¿", ResolveOptions{}); err == nil ||
		!strings.Contains(err.Error(), "not a version or semver range") {
		t.Errorf("bad constraint: %v", err)
	}
}
