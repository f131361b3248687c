package main

import (
	"github.com/airgap-charts/airgap-charts/registry/transport"

	"strings"
	"time"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/engine"
)

// registryFlags bound the run's work and say how registries are reached: every command
// that talks to a registry embeds them.
type registryFlags struct {
	Concurrency      int           `group:"Registries" default:"${concurrency}" placeholder:"N" help:"Image copy workers (default: ${default}); every other bound of the run follows it and --chart-concurrency (see the README's Concurrency table)."`
	ChartConcurrency int           `group:"Registries" default:"${cpus}" placeholder:"N" help:"Addons processed at once (default: the number of CPUs, ${default} here)."`
	InsecureRegistry []string      `group:"Registries" placeholder:"HOST[:PORT]" help:"Reach this host over TLS without certificate verification, or plain HTTP when it does not speak TLS (image registries, OCI and HTTP chart repositories). Any other host is reached over verified TLS only, whatever its name. Repeatable."`
	CertsDir         string        `group:"Registries" name:"certs-dir" placeholder:"DIR" help:"Per-host TLS material in docker's certs.d layout: DIR/HOST[:PORT]/ca.crt is trusted for that host, client.cert and client.key are presented to it (mutual TLS); for registries, OCI chart sources and HTTP chart repositories."`
	CAFile           string        `group:"Registries" name:"ca-file" placeholder:"FILE" help:"PEM bundle of certificate authorities trusted besides the system's, for registries, OCI chart sources and HTTP chart repositories."`
	RequestTimeout   time.Duration `group:"Registries" default:"60s" placeholder:"DURATION" help:"Longest wait for a response's headers once a request is sent; the attempt is then retried (default: ${default})."`
	StallTimeout     time.Duration `group:"Registries" default:"60s" placeholder:"DURATION" help:"Longest time a transfer may go without a byte moving; the transfer is then retried (default: ${default})."`
	Retries          int           `group:"Registries" default:"5" placeholder:"N" help:"Retries of a failed registry request (5xx, 429, resets, stalls), with backoff (default: ${default})."`
}

// options checks the bounds and reads (to check them) the CA file and the certs directory.
func (f registryFlags) options(o *engine.Options) error {
	if f.Concurrency < 1 {
		return usagef("--concurrency must be at least 1, not %d", f.Concurrency)
	}
	if f.ChartConcurrency < 1 {
		return usagef("--chart-concurrency must be at least 1, not %d", f.ChartConcurrency)
	}
	if f.RequestTimeout <= 0 || f.StallTimeout <= 0 {
		return usagef("--request-timeout and --stall-timeout must be above 0")
	}
	if f.Retries < 0 {
		return usagef("--retries must be 0 or more, not %d", f.Retries)
	}
	if f.CAFile != "" {
		if _, err := config.ReadInput(f.CAFile, "CA"); err != nil {
			return err
		}
		if _, err := transport.LoadCAFile(f.CAFile); err != nil {
			return &config.InputError{Pos: config.Position{File: f.CAFile}, Msg: err.Error(), Err: err}
		}
	}
	if f.CertsDir != "" {
		if err := transport.CheckCertsDir(f.CertsDir); err != nil {
			return &config.InputError{Pos: config.Position{File: f.CertsDir}, Msg: err.Error(), Err: err}
		}
	}
	for _, h := range f.InsecureRegistry {
		if msg := checkHost(strings.TrimSpace(h)); msg != "" {
			return usagef("--insecure-registry: %s", msg)
		}
	}
	o.Concurrency, o.ChartConcurrency = f.Concurrency, f.ChartConcurrency
	o.InsecureRegistry = trimAll(f.InsecureRegistry)
	o.CAFile, o.CertsDir = f.CAFile, f.CertsDir
	o.RequestTimeout, o.StallTimeout = f.RequestTimeout, f.StallTimeout
	o.Retries = f.Retries
	if f.Retries == 0 {
		o.Retries = -1 // none
	}
	return nil
}

func trimAll(in []string) []string {
	var out []string
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
