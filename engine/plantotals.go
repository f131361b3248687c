package engine

// Chart results (AddonReport.ChartResult) a plan or a sync gives besides "pushed" and
// "skipped-same-digest".
const (
	ChartPlanned     = "planned"     // plan, destination unknown: would be published
	ChartPublish     = "publish"     // plan: would be published
	ChartPresent     = "present"     // plan: the destination holds this very archive
	ChartDrift       = "drift"       // the chart's tag holds another chart: not overwritten
	ChartBlocked     = "blocked"     // not published: images it needs failed, drift or stay public
	ChartOverwritten = "overwritten" // sync: the tag held another chart (--overwrite-existing)
)

// countCharts fills the chart totals: one count per destination chart reference (members
// of a chart group share one), the strongest result of its addons winning.
func countCharts(rep *Report) {
	rank := map[string]int{"": 0, ChartPresent: 1, "skipped-same-digest": 1, ChartBlocked: 2, ChartDrift: 3,
		ChartPublish: 4, ChartPlanned: 4, "pushed": 4, ChartOverwritten: 4}
	best := map[string]string{}
	var order []string
	for _, a := range rep.Addons {
		key := a.ChartRef
		if key == "" {
			key = "addon:" + a.Addon
		}
		if _, ok := best[key]; !ok {
			order = append(order, key)
			best[key] = a.ChartResult
		} else if rank[a.ChartResult] > rank[best[key]] {
			best[key] = a.ChartResult
		}
	}
	for _, k := range order {
		switch best[k] {
		case ChartPublish, ChartPlanned, "pushed", ChartOverwritten:
			rep.Totals.ChartsPublished++
		case ChartPresent, "skipped-same-digest":
			rep.Totals.ChartsPresent++
		case ChartDrift:
			rep.Totals.ChartsDrift++
		case ChartBlocked:
			rep.Totals.ChartsBlocked++
		}
	}
}

// Errored reports whether an addon failed for another reason than drift (ERROR or
// INCOMPLETE): a plan's exit code is then 1.
func (r *Report) Errored() bool {
	for _, a := range r.Addons {
		if a.Status != StatusSuccess && a.Status != StatusDrift {
			return true
		}
	}
	return false
}

// DriftFound reports whether an image or chart tag at the destination holds other
// content than the source's (a plan's exit code 5).
func (r *Report) DriftFound() bool { return r.Totals.Drift > 0 || r.Totals.ChartsDrift > 0 }

// Pending reports whether a plan found work for a sync: an image to copy or a chart to
// publish at a destination it consulted (a plan's exit code 4). Planned work (the
// destination unknown) is not pending.
func (r *Report) Pending() bool {
	if r.DestinationUnknown {
		return false
	}
	for _, a := range r.Addons {
		if a.ChartResult == ChartPublish {
			return true
		}
	}
	return r.Totals.ToCopy > 0
}
