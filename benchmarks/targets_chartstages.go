package benchmarks

import "fmt"

// Chart-stage targets against `helm template` of each chart in sequence (issue 12).
const (
	HelmWallRatioTarget = 0.5
	HelmCPURatioTarget  = 1.0
)

// HelmTargets evaluates the chart-stage targets on one comparison.
func HelmTargets(set string, c HelmComparison) []TargetLine {
	line := func(what string, got, limit float64, a, b float64) TargetLine {
		v := "met"
		if got > limit {
			v = fmt.Sprintf("MISSED by %.0f%% (limit %.1f×)", (got/limit-1)*100, limit)
		}
		return TargetLine{
			Target:   fmt.Sprintf("chart stages %s vs helm template, %s ≤ %.1f×", set, what, limit),
			Measured: fmt.Sprintf("%.0f vs %.0f ms = %.2f×", a, b, got),
			Verdict:  v,
		}
	}
	return []TargetLine{
		line("wall", c.WallRatio(), HelmWallRatioTarget, ms(c.OursWall), ms(c.HelmWall)),
		line("CPU", c.CPURatio(), HelmCPURatioTarget, ms(c.OursCPU), ms(c.HelmCPU)),
	}
}
