package engine

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/stages"
)

// Addon statuses.
const (
	StatusSuccess = "SUCCESS"
	StatusError   = "ERROR"
	// StatusIncomplete: every stage ran, but a render of the mirrored chart (the packaged
	// chart with the addon's values, or the original chart with the consumer overrides)
	// still pulls an image that is not at the destination. The chart is not published
	// unless those images are allowed to stay public.
	StatusIncomplete = "INCOMPLETE"
	// StatusDrift: the chart was not published because a destination tag it needs (an
	// image's, or the chart's own) holds other content than the source's, and
	// --overwrite-existing was not given.
	StatusDrift = "DRIFT"
)

// Report is the outcome of a run: every addon, every image, and the totals. It holds no
// secret: credentials never reach it.
type Report struct {
	// SchemaVersion is the version of report.schema.json this report follows.
	SchemaVersion int `json:"schema_version"`
	// ToolVersion is the airgap-charts build that wrote it (registry.Build).
	ToolVersion string `json:"tool_version"`
	// CommandLine is the arguments the run was given, secrets replaced by [redacted].
	CommandLine []string       `json:"command_line"`
	Started     time.Time      `json:"started"`
	Duration    Duration       `json:"duration_seconds"`
	Registry    string         `json:"registry"`
	Prefix      string         `json:"prefix,omitempty"`
	ScanOnly    bool           `json:"scan_only"`
	Platform    string         `json:"platform"`
	Addons      []*AddonReport `json:"addons"`
	Totals      Totals         `json:"totals"`
	UniqueJobs  int            `json:"unique_image_jobs"`
	// PullsRefused is, per source host whose pull budget ran out (--rate-limit, or the one
	// the host advertises), how many more manifest pulls the run needed (at least).
	PullsRefused map[string]int `json:"pulls_refused,omitempty"`
	// ElapsedText is Duration as the summary prints it (not in JSON: duration_seconds is).
	ElapsedText string `json:"-"`
	// Pruned are the files --prune removed from the output directory (relative to it).
	Pruned []string `json:"pruned,omitempty"`
	// Unreachable counts, per host found down during the run, the images that failed
	// because of it (not attempted, or cut off by it).
	Unreachable map[string]int `json:"unreachable_hosts,omitempty"`
	// Unauthorized counts, per destination host that refused the run's credentials (401:
	// none found, or not accepted), the images that failed because of it.
	Unauthorized map[string]int `json:"unauthorized_hosts,omitempty"`
	// DestinationUnknown: a plan (or --scan-only) without --target-registry and without
	// AWS configuration; the destination was not consulted (images "planned").
	DestinationUnknown bool `json:"destination_unknown,omitempty"`

	lock *Lock // what the run resolved, for its lock file (lock_build.go)
}

// Totals sums the run.
type Totals struct {
	Addons    int `json:"addons"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	// Incomplete counts addons left INCOMPLETE: their chart still pulls public images.
	Incomplete int   `json:"incomplete"`
	Images     int   `json:"images"`
	Copied     int   `json:"copied"`
	Skipped    int   `json:"skipped"`
	Planned    int   `json:"planned"`
	ImgFailed  int   `json:"images_failed"`
	Bytes      int64 `json:"bytes"`
	// Plan (and --scan-only): images to copy, and already present with the same digest.
	ToCopy  int `json:"to_copy"`
	Present int `json:"present"`
	// Drift counts images whose destination tag holds another digest than the source's
	// (found by a plan, or by sync with --verify-existing-digest or a pinned source),
	// overwritten or not.
	Drift int `json:"drift"`
	// Drifted is the addons left DRIFT: not published because of drift.
	Drifted int `json:"drifted"`
	// Charts: published (plan: to publish), present (same archive at the destination),
	// drift (the tag holds another chart) and blocked (waiting for images that failed, are
	// missing at the source, drift, or stay public).
	ChartsPublished int `json:"charts_published"`
	ChartsPresent   int `json:"charts_present"`
	ChartsDrift     int `json:"charts_drift"`
	ChartsBlocked   int `json:"charts_blocked"`
	// ReferrersCopied is the referrers pushed; ReferrerRequests the discovery requests
	// (referrers API GETs and tag HEADs) the run spent finding them.
	ReferrersCopied  int   `json:"referrers_copied"`
	ReferrerRequests int64 `json:"referrer_discovery_requests"`
}

// AddonReport is one addon's outcome.
type AddonReport struct {
	Addon             string   `json:"addon"`
	Chart             string   `json:"chart"`
	Release           string   `json:"release,omitempty"`
	Repository        string   `json:"repository"`
	Version           string   `json:"version,omitempty"`
	Status            string   `json:"status"`
	Stage             string   `json:"failed_stage,omitempty"`
	Error             string   `json:"error,omitempty"`
	Warnings          []string `json:"warnings,omitempty"`
	ChartDigest       string   `json:"chart_digest,omitempty"`
	PackagedDigest    string   `json:"packaged_digest,omitempty"`
	ChartArchive      string   `json:"chart_archive,omitempty"`
	ChartRef          string   `json:"chart_ref,omitempty"`
	ChartResult       string   `json:"chart_result,omitempty"`
	ConsumerOverrides string   `json:"consumer_overrides,omitempty"`
	// VerifyPolicy is the Kyverno ClusterPolicy checking the mirrored images' signatures
	// (written with --verify-signatures), beside the consumer overrides.
	VerifyPolicy string              `json:"verify_policy,omitempty"`
	Dependencies []stages.Dependency `json:"dependencies,omitempty"`
	Fallbacks    []string            `json:"fallbacks,omitempty"`
	// PublicImages are the images a verification render of the mirrored chart still pulls
	// from outside the destination; any not Allowed leaves the addon INCOMPLETE.
	PublicImages []PublicImage `json:"public_images,omitempty"`
	Images       []ImageReport `json:"images"`
	// RunCache says what the run cache spared: "hit" (render, rewrite and repack),
	// "images" (the render only), "miss" (nothing); empty when the addon failed before.
	RunCache string              `json:"run_cache,omitempty"`
	Timings  map[string]Duration `json:"timings_seconds,omitempty"`
	Duration Duration            `json:"duration_seconds"`
}

// AddonReport.RunCache values.
const (
	RunCacheHit    = "hit"
	RunCacheImages = "images"
	RunCacheMiss   = "miss"
)

// PublicImage is an image a verification render of the mirrored chart still pulls from
// outside the destination, with where it was found and why the rewrite could not reach it.
type PublicImage struct {
	Image string `json:"image"`
	// Render is the render that still pulls it: "packaged" (the rewritten chart with the
	// addon's values and chart-overrides) or "consumer-overrides" (the original chart with
	// the consumer overrides on top of the same values).
	Render string `json:"render"`
	Where  string `json:"where"`
	Reason string `json:"reason"`
	// Allowed is true when --allow-public-images or the chart's public_images list in
	// chart-overrides.yaml lets it stay public.
	Allowed bool `json:"allowed,omitempty"`
}

// ImageReport is one image of an addon.
type ImageReport struct {
	Source       string            `json:"source"`
	Destination  string            `json:"destination"`
	SourceDigest string            `json:"source_digest,omitempty"`
	DestDigest   string            `json:"destination_digest,omitempty"`
	Where        []stages.Location `json:"where"`
	Result       Outcome           `json:"result"`
	Reason       string            `json:"reason,omitempty"`
	// Drift says why this image is drift: what the destination tag holds against the
	// source, or how its source tag moved since the lock (both, "; "-joined).
	Drift    string   `json:"drift,omitempty"`
	Error    string   `json:"error,omitempty"`
	Bytes    int64    `json:"bytes"`
	Duration Duration `json:"duration_seconds"`
	// Referrers: the signatures, SBOMs and attestations that crossed with the image.
	Referrers *registry.ReferrersResult `json:"referrers,omitempty"`
	// Signature: how its signatures verified before it was copied (--verify-signatures).
	Signature *registry.Verification `json:"signature,omitempty"`
	// SourceIndexDigest is the source index's digest when a --platform list put a new
	// index holding only the listed children (destination_digest differs from it, and
	// signatures made for the source index do not cover the new one).
	SourceIndexDigest string `json:"source_index_digest,omitempty"`
	// MissingPlatforms are the listed platforms the image lacked, left out
	// (--platform-missing skip).
	MissingPlatforms []string `json:"missing_platforms,omitempty"`

	tagDigest string // what the source reference resolved to, when the lock asked
}

func (r *AddonReport) timing(stage string, since time.Time) {
	if r.Timings == nil {
		r.Timings = map[string]Duration{}
	}
	r.Timings[stage] = Duration(time.Since(since))
}

func (r *AddonReport) addImage(img stages.FoundImage, res JobResult) {
	ir := ImageReport{
		Source:       res.Job.Source.String(),
		Destination:  res.Job.Destination.String(),
		SourceDigest: res.SourceDigest,
		DestDigest:   res.DestDigest,
		Where:        img.Where,
		Result:       res.Outcome,
		Reason:       res.Reason,
		Drift:        strings.Trim(res.Drift+"; "+res.Moved, "; "),
		Bytes:        res.Bytes,
		Duration:     Duration(res.Duration),
		Referrers:    res.Referrers,
		Signature:    res.Signature,
		tagDigest:    res.TagDigest,

		SourceIndexDigest: res.SourceIndex,
		MissingPlatforms:  res.MissingPlatforms,
	}
	if res.Err != nil {
		ir.Error = res.Err.Error()
	}
	r.Images = append(r.Images, ir)
}

func (r *AddonReport) firstImageError() string {
	for _, i := range r.Images {
		if i.Error != "" && strings.HasPrefix(i.Error, i.Source) {
			return i.Error // it names the image already
		}
		if i.Error != "" {
			return i.Source + ": " + i.Error
		}
	}
	return ""
}

// CouldNotRun reports whether the run could not do its work: a host it needed was found
// down (connection failures in a row) and the images queued for it were not attempted.
// The exit code is then 3.
func (r *Report) CouldNotRun() bool { return len(r.Unreachable) > 0 || len(r.Unauthorized) > 0 }

// Failed reports whether any addon did not succeed (ERROR, INCOMPLETE or DRIFT): the
// exit code of a sync is then 1.
func (r *Report) Failed() bool {
	for _, a := range r.Addons {
		if a.Status != StatusSuccess {
			return true
		}
	}
	return false
}

func newReport(addons []*AddonReport, destination string, opts Options, took time.Duration) *Report {
	rep := &Report{
		SchemaVersion: ReportSchemaVersion,
		ToolVersion:   registry.Build().Version,
		CommandLine:   opts.CommandLine,
		Started:       time.Now().Add(-took),
		Duration:      Duration(took),
		ElapsedText:   took.Round(time.Millisecond).String(),
		Registry:      destination,
		Prefix:        opts.TargetPrefix,
		ScanOnly:      opts.ScanOnly,
		Platform:      opts.Platform.String(),
		Addons:        addons,
	}
	if rep.CommandLine == nil {
		rep.CommandLine = []string{} // a library caller gave none
	}
	countCharts(rep)
	for _, a := range addons {
		rep.Totals.Addons++
		switch a.Status {
		case StatusSuccess:
			rep.Totals.Succeeded++
		case StatusIncomplete:
			rep.Totals.Incomplete++
		case StatusDrift:
			rep.Totals.Drifted++
		default:
			rep.Totals.Failed++
		}
		rep.Totals.Images += len(a.Images)
	}
	return rep
}

// WriteJSON writes the report to path atomically (temp file + rename), as compact JSON:
// a report of a few hundred addons runs to megabytes, read by programs (jq, the schema),
// and indenting it cost a nightly no-op run as much CPU as encoding it.
func (r *Report) WriteJSON(path string) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	b = []byte(config.RedactURLs(string(b))) // no URL password, whatever an error echoed
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("report %s: %w", path, err)
		}
	}
	// One temporary name per report: what a killed run left there is replaced by the next
	// report written, never left beside it.
	tmp, err := os.OpenFile(filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".partial"), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("report %s: %w", path, err)
	}
	// Readable by all, like the charts and overrides beside it: it holds no secret.
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("report %s: %w", path, err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("report %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("report %s: %w", path, err)
	}
	return os.Rename(tmp.Name(), path)
}
