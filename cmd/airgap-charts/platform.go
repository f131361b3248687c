package main

import (
	"github.com/airgap-charts/airgap-charts/engine"
	"github.com/airgap-charts/airgap-charts/registry"
)

// platformFlags choose which platforms of an image are copied.
type platformFlags struct {
	Platform        string `group:"Run" default:"auto" placeholder:"auto|OS/ARCH[/VARIANT][,...]" help:"Image copy platform: auto keeps multi-arch indexes intact; one OS/ARCH[/VARIANT] (e.g. linux/amd64) copies that single-platform manifest and the tag points at it; a comma-separated list (e.g. linux/amd64,linux/arm64) copies a new index holding exactly those children: its digest differs from the source index's (the report's source_index_digest), and signatures made for the source index do not cover it."`
	PlatformMissing string `group:"Run" enum:"fail,skip" default:"fail" help:"An image lacking a platform --platform asks for: fail its addon, naming the platforms the image has, or skip (leave that platform out, with a warning) (default: ${default})."`
}

// options parses --platform and --platform-missing, once, into the typed choice every
// image job carries.
func (f platformFlags) options(o *engine.Options) error {
	p, err := registry.ParsePlatform(f.Platform)
	if err != nil {
		return usagef("--platform %q: want auto, OS/ARCH[/VARIANT] (e.g. linux/amd64) or a comma-separated list of them", f.Platform)
	}
	if p, err = p.WithMissing(f.PlatformMissing); err != nil {
		return usagef("--platform-missing: %v", err)
	}
	if f.PlatformMissing == registry.PlatformMissingSkip && p.Auto() {
		return usagef("--platform-missing skip needs --platform OS/ARCH or a list: auto copies every platform an image has")
	}
	o.Platform = p
	return nil
}
