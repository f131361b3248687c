package engine

import (
	"errors"
	"github.com/airgap-charts/airgap-charts/registry/auth"
	"net/http"
	"strings"

	"github.com/airgap-charts/airgap-charts/registry/transport"
)

// addJobs counts the run's image jobs into the report: the pool's unique results (one per
// distinct source, destination and platform: Pool.Close), each once however many addons
// need it. Totals.Images counts the addons' images, shared ones once per addon.
func (r *Report) addJobs(unique []JobResult) {
	r.UniqueJobs = len(unique)
	for _, res := range unique {
		r.Totals.Bytes += res.Bytes
		var down *transport.HostDownError
		if res.Err != nil && errors.As(res.Err, &down) {
			if r.Unreachable == nil {
				r.Unreachable = map[string]int{}
			}
			r.Unreachable[down.Host]++
		}
		var auth *auth.Error
		if res.Err != nil && errors.As(res.Err, &auth) && auth.Status == http.StatusUnauthorized && sameHost(auth.Host, r.Registry) {
			if r.Unauthorized == nil {
				r.Unauthorized = map[string]int{}
			}
			r.Unauthorized[auth.Host]++
		}
		if rr := res.Referrers; rr != nil {
			r.Totals.ReferrersCopied += len(rr.Copied)
			r.Totals.ReferrerRequests += rr.Requests
		}
		if res.Drift != "" || res.Moved != "" {
			r.Totals.Drift++
		}
		switch res.Outcome {
		case OutcomeCopied, OutcomeOverwritten:
			r.Totals.Copied++
		case OutcomePlanned:
			r.Totals.Planned++
		case OutcomeToCopy:
			r.Totals.ToCopy++
		case OutcomePresent:
			r.Totals.Present++
		case OutcomeDrift:
		case OutcomeFailed, OutcomeMissingAtSource:
			r.Totals.ImgFailed++
		default:
			r.Totals.Skipped++
		}
	}
}

// sameHost reports whether host names the destination registry dest (case
// aside).
func sameHost(host, dest string) bool {
	return dest != "" && strings.EqualFold(host, dest)
}
