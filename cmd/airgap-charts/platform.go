package main

import (
	"github.com/airgap-charts/airgap-charts/registry"
)

// platform parses --platform and --platform-missing, once, into the typed choice every
// image job carries.
func (c *syncCmd) platform() (registry.Platform, error) {
	p, err := registry.ParsePlatform(c.Platform)
	if err != nil {
		return p, usagef("--platform %q: want auto, OS/ARCH[/VARIANT] (e.g. linux/amd64) or a comma-separated list of them", c.Platform)
	}
	if p, err = p.WithMissing(c.PlatformMissing); err != nil {
		return p, usagef("--platform-missing: %v", err)
	}
	if c.PlatformMissing == registry.PlatformMissingSkip && p.Auto() {
		return p, usagef("--platform-missing skip needs --platform OS/ARCH or a list: auto copies every platform an image has")
	}
	return p, nil
}
