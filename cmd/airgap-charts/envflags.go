package main

import (
	"github.com/alecthomas/kong"
)

// envPrefix names every flag's environment variable: --target-registry is
// AIRGAP_CHARTS_TARGET_REGISTRY, so that a CI job can configure a run without a long command
// line. A flag given on the command line wins over its variable; --help shows each one.
const envPrefix = "AIRGAP_CHARTS"

// envResolver gives a flag the first of its environment variables that is set (non-empty)
// in env, the app's environment: the variables kong.DefaultEnvars names, and the
// credential flags' own (DOCKERHUB_TOKEN…).
func envResolver(env func(string) string) kong.Resolver {
	return kong.ResolverFunc(func(_ *kong.Context, _ *kong.Path, flag *kong.Flag) (any, error) {
		for _, name := range flag.Envs {
			if v := env(name); v != "" {
				return v, nil
			}
		}
		return nil, nil
	})
}
