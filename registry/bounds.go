package registry

import "runtime"

// DefaultConcurrency is the image copies run at once when --concurrency is not given.
const DefaultConcurrency = 8

// Bounds are every concurrency bound of a run. They are derived from --concurrency (image
// copies) and --chart-concurrency (addons) by NewBounds and nowhere else; the README's
// "Concurrency" table lists the same rows.
//
//	bound             value                                  bounds
//	CopyWorkers       concurrency                            image jobs copying at once (the copy pool; a job waiting to retry gives its place up)
//	WarmPreflight     2 × concurrency                        destination tag lookups asked ahead of a copy slot (and as many source tag checks, and as many referrer listings)
//	BlobTransfers     4 × concurrency                        blob transfers in flight, client-wide (an export's blobs read ahead)
//	ManifestFanout    8                                      blobs or children of one manifest handled at once
//	IdleConnsPerHost  max(2 × BlobTransfers, 16)             keep-alive connections kept per host
//	RemoteJobs        concurrency                            go-containerregistry's own fan-out (chart pulls)
//	Addons            chart concurrency                      addons in their chart stages (render, package) at once
//	AddonsInFlight    max(8 × chart concurrency, 4 × concurrency)
//	                                                         addons started at once (a worker each, which takes the next when its addon ends; the rest wait to start)
//	Publishes         max(chart concurrency, concurrency)    chart checks and pushes at once
//
// Requests in flight per registry host are bounded apart from these, by --max-per-host
// (ClientOptions.MaxPerHost): none by default.
type Bounds struct {
	CopyWorkers, WarmPreflight, BlobTransfers, ManifestFanout, IdleConnsPerHost, RemoteJobs int
	Addons, AddonsInFlight, Publishes                                                       int
}

// manifestFanout is Bounds.ManifestFanout: it does not grow with the run, since the
// transfers it starts are bounded client-wide by BlobTransfers, so an image with many
// layers uses the slots others leave free.
const manifestFanout = 8

// transfersPerCopy is how many blob transfers (source GET streamed into a destination PUT)
// each copy may have in flight on average. A transfer is mostly waiting on round trips, so
// the slots are several per copy: with one each, a copy's blobs queue behind each other's.
const transfersPerCopy = 4

// NewBounds derives every bound from concurrency and chartConcurrency; 0 (or less) means
// the default: DefaultConcurrency copies, one addon per CPU.
func NewBounds(concurrency, chartConcurrency int) Bounds {
	if concurrency <= 0 {
		concurrency = DefaultConcurrency
	}
	if chartConcurrency <= 0 {
		chartConcurrency = runtime.NumCPU()
	}
	b := Bounds{
		CopyWorkers:    concurrency,
		WarmPreflight:  2 * concurrency,
		BlobTransfers:  transfersPerCopy * concurrency,
		ManifestFanout: manifestFanout,
		RemoteJobs:     concurrency,
		Addons:         chartConcurrency,
		AddonsInFlight: max(8*chartConcurrency, 4*concurrency),
		Publishes:      max(chartConcurrency, concurrency),
	}
	b.IdleConnsPerHost = max(2*b.BlobTransfers, 16)
	return b
}
