package stages

import (
	"context"
	"regexp"
	"strconv"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
)

// Probing finds which value leaves produce each rendered image: the chart is rendered
// again with candidate leaves replaced by unique markers, and every image comes out as a
// composition over leaves ("⟦global.registry⟧/⟦operator.image.name⟧:1.2"). The markers
// are lowercase letters and digits, so they pass as a host, a path component or a tag.

// probeMarker is the marker of leaf i.
func probeMarker(i int) string { return "zqv" + strconv.Itoa(i) + "vqz" }

var probeMarkers = regexp.MustCompile(`zqv([0-9]+)vqz`)

// maxProbeRenders bounds the renders one chart's probing may cost (a render broken by
// markers is split in halves to find the leaves that break it).
const maxProbeRenders = 12

// compPart is a piece of a composition: a literal, or the leaf with index leaf.
type compPart struct {
	lit  string
	leaf int // -1 for a literal
}

// composition splits s at its markers; ok is false when s holds none.
func composition(s string) (parts []compPart, ok bool) {
	idx := probeMarkers.FindAllStringSubmatchIndex(s, -1)
	if len(idx) == 0 {
		return nil, false
	}
	at := 0
	for _, m := range idx {
		if m[0] > at {
			parts = append(parts, compPart{lit: s[at:m[0]], leaf: -1})
		}
		n, err := strconv.Atoi(s[m[2]:m[3]])
		if err != nil {
			return nil, false
		}
		parts = append(parts, compPart{leaf: n})
		at = m[1]
	}
	if at < len(s) {
		parts = append(parts, compPart{lit: s[at:], leaf: -1})
	}
	return parts, true
}

// decodeParts writes parts back with every leaf's value, or its value in set.
func decodeParts(parts []compPart, leaves []valueLeaf, set map[int]string) string {
	var b strings.Builder
	for _, p := range parts {
		switch {
		case p.leaf < 0:
			b.WriteString(p.lit)
		case p.leaf >= len(leaves):
			// Not a marker of ours: keep the text.
			b.WriteString(probeMarker(p.leaf))
		default:
			if v, ok := set[p.leaf]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(leaves[p.leaf].Value)
			}
		}
	}
	return b.String()
}

// prober renders one chart with markers.
type prober struct {
	ch        *chart.Chart
	ro        RenderOptions
	effective map[string]any
	leaves    []valueLeaf
	renders   int
	// broken are the leaves whose marker alone broke a render.
	broken map[int]bool
}

// run renders with the leaves idx given their markers and hands each render that worked
// to visit. A failed render is split in halves; a leaf that breaks a render alone is
// left out (its image falls back to other means).
func (p *prober) run(ctx context.Context, idx []int, visit func(*Rendered)) {
	if len(idx) == 0 || p.renders >= maxProbeRenders || ctx.Err() != nil {
		return
	}
	set := map[string]any{}
	for _, i := range idx {
		set[p.leaves[i].key()] = probeMarker(i)
	}
	ro := p.ro
	ro.Values = []map[string]any{withLeaves(p.effective, set, p.leaves)}
	p.renders++
	r, err := Render(ctx, p.ch, ro)
	if err != nil {
		if len(idx) == 1 {
			if p.broken == nil {
				p.broken = map[int]bool{}
			}
			p.broken[idx[0]] = true
			return
		}
		h := len(idx) / 2
		p.run(ctx, idx[:h], visit)
		p.run(ctx, idx[h:], visit)
		return
	}
	visit(r)
}

// markedTokens calls fn for every token of the rendered manifests that holds a marker.
func markedTokens(r *Rendered, fn func(template, token string)) {
	for _, m := range r.Manifests {
		if !strings.Contains(m.Content, "zqv") {
			continue
		}
		for _, tok := range textTokens(m.Content) {
			if strings.Contains(tok, "zqv") {
				fn(m.Template, tok)
			}
		}
	}
}
