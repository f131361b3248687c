package benchmarks

import (
	"fmt"
	"html"
	"math"
	"strings"
)

const (
	plotW, plotH           = 640, 360
	padL, padR, padT, padB = 64, 24, 40, 56
)

// niceMax rounds v up to 1, 2 or 5 × 10^k.
func niceMax(v float64) float64 {
	if v <= 0 {
		return 1
	}
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*e {
			return m * e
		}
	}
	return 10 * e
}

func svgHeader(b *strings.Builder, title string) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", plotW, plotH, plotW, plotH)
	fmt.Fprintf(b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(b, `<text x="%d" y="24" font-size="15" font-weight="bold">%s</text>`+"\n", padL, html.EscapeString(title))
}

// yAxis draws the y axis from 0 to top with 5 ticks, labelled unit.
func yAxis(b *strings.Builder, top float64, unit string) {
	x0, y0, y1 := padL, plotH-padB, padT
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", x0, y0, x0, y1)
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", x0, y0, plotW-padR, y0)
	for i := 0; i <= 5; i++ {
		v := top * float64(i) / 5
		y := float64(y0) - float64(y0-y1)*float64(i)/5
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n", x0, y, plotW-padR, y)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%g</text>`+"\n", x0-6, y+4, v)
	}
	fmt.Fprintf(b, `<text x="16" y="%d" transform="rotate(-90 16 %d)" text-anchor="middle">%s</text>`+"\n", (y0+y1)/2, (y0+y1)/2, html.EscapeString(unit))
}

// SweepSVG plots ours' cold wall time under WAN against --concurrency (log2 x axis).
func SweepSVG(r *Results) string {
	var b strings.Builder
	svgHeader(&b, "airgap-charts: --concurrency vs cold wall time (WAN)")
	var xs []int
	var ys []float64
	top := 0.0
	for _, x := range r.Sweep {
		if x.Status != "ok" {
			continue
		}
		xs = append(xs, sweepConc(x))
		ys = append(ys, x.Stats.Wall.Seconds())
		top = max(top, x.Stats.Wall.Seconds())
	}
	top = niceMax(top)
	yAxis(&b, top, "wall time (s)")
	if len(xs) == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d">no successful sweep run</text>`+"\n", padL+20, plotH/2)
		b.WriteString("</svg>\n")
		return b.String()
	}
	maxLog := math.Log2(float64(max(2, xs[len(xs)-1])))
	px := func(c int) float64 {
		return padL + 20 + (plotW-padL-padR-40)*math.Log2(float64(c))/maxLog
	}
	py := func(v float64) float64 { return float64(plotH-padB) - float64(plotH-padB-padT)*v/top }
	var pts []string
	for i := range xs {
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(xs[i]), py(ys[i])))
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%d</text>`+"\n", px(xs[i]), plotH-padB+16, xs[i])
	}
	fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="#1f77b4" stroke-width="2"/>`+"\n", strings.Join(pts, " "))
	for i := range xs {
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="4" fill="#1f77b4"><title>%d: %.2fs</title></circle>`+"\n", px(xs[i]), py(ys[i]), xs[i], ys[i])
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">--concurrency</text>`+"\n", (padL+plotW-padR)/2, plotH-16)
	b.WriteString("</svg>\n")
	return b.String()
}

// ToolsSVG draws per-tool bars of cold and warm wall time (loopback and WAN cold).
func ToolsSVG(r *Results) string {
	var b strings.Builder
	svgHeader(&b, "Wall time per tool (lower is better)")
	series := []struct{ scenario, step, label, color string }{
		{"loopback", "cold", "cold (loopback)", "#1f77b4"},
		{"loopback", "warm", "warm (loopback)", "#2ca02c"},
		{"wan", "cold", "cold (WAN)", "#ff7f0e"},
	}
	var tools []string
	seen := map[string]bool{}
	top := 0.0
	for _, x := range r.Runs {
		if !seen[x.Tool] {
			seen[x.Tool] = true
			tools = append(tools, x.Tool)
		}
		for _, s := range series {
			if x.Status == "ok" && x.Scenario == s.scenario && x.Step == s.step {
				top = max(top, x.Stats.Wall.Seconds())
			}
		}
	}
	top = niceMax(top)
	yAxis(&b, top, "wall time (s)")
	if len(tools) == 0 {
		b.WriteString("</svg>\n")
		return b.String()
	}
	group := float64(plotW-padL-padR) / float64(len(tools))
	bar := group * 0.8 / float64(len(series))
	for ti, tool := range tools {
		gx := float64(padL) + group*float64(ti) + group*0.1
		for si, s := range series {
			x, ok := r.Find(tool, s.scenario, s.step)
			bx := gx + bar*float64(si)
			if !ok || x.Status != "ok" {
				status := "n/a"
				if ok {
					status = x.Status
				}
				fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="9" transform="rotate(-90 %.1f %d)">%s</text>`+"\n", bx+bar/2+3, plotH-padB-4, bx+bar/2+3, plotH-padB-4, status)
				continue
			}
			v := x.Stats.Wall.Seconds()
			h := float64(plotH-padB-padT) * v / top
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %.2fs</title></rect>`+"\n",
				bx, float64(plotH-padB)-h, bar-1, h, s.color, html.EscapeString(tool), s.label, v)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" font-size="10">%s</text>`+"\n", gx+group*0.4, plotH-padB+16, html.EscapeString(tool))
	}
	for si, s := range series {
		lx := plotW - padR - 150
		ly := padT + 4 + 16*si
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n", lx, ly, s.color, lx+14, ly+9, s.label)
	}
	b.WriteString("</svg>\n")
	return b.String()
}
