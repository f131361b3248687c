package transport

import (
	"context"
	"fmt"
	"github.com/airgap-charts/airgap-charts/config"
)

// setCaps records the requests in flight allowed per host (ClientOptions.MaxPerHost).
func (h *Limits) setCaps(caps map[string]int) error {
	h.caps = map[string]int{}
	for host, n := range caps {
		if n <= 0 {
			return fmt.Errorf("max per host %q: need N > 0, not %d", host, n)
		}
		if host == "" {
			h.caps[""] = n
			continue
		}
		h.caps[config.HostKey(host)] = n
	}
	return nil
}

// capOf is the cap of host key k: its own; else, for a mirror, the smallest of the source
// hosts pulled through it (a cap meant for docker.io is meant for whatever serves its
// pulls); else the one for every host; 0: none. Call with h.mu held.
func (h *Limits) capOf(k string) int {
	if n, ok := h.caps[k]; ok {
		return n
	}
	inherited := 0
	for _, src := range h.mirrored[k] {
		if n, ok := h.caps[src]; ok && (inherited == 0 || n < inherited) {
			inherited = n
		}
	}
	if inherited > 0 {
		return inherited
	}
	return h.caps[""]
}

// acquireSlot waits until a request may be sent to host under its cap; release must be
// called once its response's headers arrived (or it failed). Hosts without a cap return
// at once.
func (h *Limits) acquireSlot(ctx context.Context, host string) (release func(), err error) {
	s := h.state(host)
	if s.inflight == nil {
		return func() {}, nil
	}
	release = func() { <-s.inflight }
	select {
	case s.inflight <- struct{}{}:
		return release, nil
	default:
	}
	if h.onCapWait != nil {
		h.onCapWait(host)
	}
	select {
	case s.inflight <- struct{}{}:
		return release, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("registry %s: waiting for a request slot (--max-per-host): %w", host, ctx.Err())
	}
}
