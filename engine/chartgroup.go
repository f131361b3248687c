package engine

import (
	"context"
	"fmt"
	"github.com/airgap-charts/airgap-charts/registry/once"
	"strings"
	"sync"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/stages"
)

// chartGroup is the addons of a run that release one chart from one repository at one
// version constraint (two ingress controllers from one chart, say). They share the chart's
// artifacts: one overlay archive, one consumer overrides file, one pushed chart:version. So
// the rewrite takes the union of their images, and each member publishes only once every
// image of that union is in place. A group of one behaves as a lone addon.
type chartGroup struct {
	mu       sync.Mutex
	waiting  int // members that have neither added their images nor left
	mappings []stages.ImageMapping
	seen     map[stages.ImageMapping]bool
	// required holds the mappings some member's render uses (not annotation-only).
	required map[stages.ImageMapping]bool
	ready    chan struct{} // closed when waiting reaches 0

	// pushes holds each archive digest's publish: members push their shared archive once
	// (a failed push fails its member only: the members that waited push again).
	pushes once.Keyed[string, stages.PublishResult]
}

// publishOnce runs push for the archive with this digest unless a member already published
// it (or is publishing it: then it waits for that outcome, and pushes itself when it
// failed).
func (g *chartGroup) publishOnce(ctx context.Context, archiveDigest string, push func(context.Context) (stages.PublishResult, error)) (stages.PublishResult, error) {
	own := false // set by this member's push, read once Do has returned it
	res, err := g.pushes.Do(ctx, archiveDigest, func(ctx context.Context) (stages.PublishResult, error) {
		own = true
		return push(ctx)
	})
	if err == nil && !own {
		res.Skipped = true // in place: another release of this chart published it
	}
	return res, err
}

func newChartGroup(waiting int) *chartGroup {
	g := &chartGroup{waiting: waiting, seen: map[stages.ImageMapping]bool{}, ready: make(chan struct{})}
	g.pushes.RetryWaiters = true // a member whose push failed fails; the others push again
	return g
}

// newChartGroups groups addons by repository, OCI namespace, chart and version constraint.
func newChartGroups(addons []config.Addon) map[string]*chartGroup {
	groups := map[string]*chartGroup{}
	for _, a := range addons {
		k := chartGroupKey(a)
		if groups[k] == nil {
			groups[k] = newChartGroup(0)
		}
		groups[k].waiting++
	}
	return groups
}

func chartGroupKey(a config.Addon) string {
	return strings.Join([]string{strings.TrimRight(a.Repository, "/"), a.OCINamespace, a.Chart, a.Version}, "\x00")
}

// groupOf is a's group; an addon the run was not planned with is a group of its own.
func (e *runEnv) groupOf(a config.Addon) *chartGroup {
	if g := e.groups[chartGroupKey(a)]; g != nil {
		return g
	}
	return newChartGroup(1)
}

// add records a member's images and which of them its render uses (required). It returns
// the union so far, and a channel to wait on when other members have yet to add theirs
// (nil when the union is complete).
func (g *chartGroup) add(mappings []stages.ImageMapping, required map[stages.ImageMapping]bool) ([]stages.ImageMapping, <-chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.required == nil {
		g.required = map[stages.ImageMapping]bool{}
	}
	for _, m := range mappings {
		k := m
		if !g.seen[k] {
			g.seen[k] = true
			g.mappings = append(g.mappings, m)
		}
		if required[k] {
			g.required[k] = true
		}
	}
	g.done1()
	union := append([]stages.ImageMapping(nil), g.mappings...)
	if g.waiting > 0 {
		return union, g.ready
	}
	return union, nil
}

// union is every member's images; complete once the channel add returned is closed.
func (g *chartGroup) union() []stages.ImageMapping {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]stages.ImageMapping(nil), g.mappings...)
}

// leave is a member failing before it had images to add.
func (g *chartGroup) leave() {
	g.mu.Lock()
	g.done1()
	g.mu.Unlock()
}

func (g *chartGroup) done1() {
	g.waiting--
	if g.waiting == 0 {
		close(g.ready)
	}
}

// submitPeerImages returns the pool's pending jobs for the images of p.shared that p itself
// does not need (its group peers submitted them: the pool answers with the same jobs).
func (e *runEnv) submitPeerImages(pool *Pool, p *preparedAddon) []*Pending {
	own := map[stages.ImageMapping]bool{}
	for _, m := range p.mappings {
		own[m] = true
	}
	var out []*Pending
	for _, m := range p.shared {
		if !own[m] {
			out = append(out, pool.Submit(ImageJob{Source: m.Source, Destination: m.Destination, Platform: e.opts.Platform}))
		}
	}
	return out
}

// isRequired says whether a member's render uses the mapping k.
func (g *chartGroup) isRequired(k stages.ImageMapping) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.required[k]
}

// waitPeerImages waits for images the shared chart needs for other releases; it returns
// the first failure of one their renders use (an annotation-only image is their warning).
func waitPeerImages(ctx context.Context, g *chartGroup, peers []*Pending) error {
	var first error
	for _, p := range peers {
		res := p.Wait(ctx)
		key := stages.ImageMapping{Source: res.Job.Source, Destination: res.Job.Destination}
		if res.Outcome.failed() && first == nil && g.isRequired(key) {
			first = fmt.Errorf("image %s, needed by another release of this chart, failed: %w", res.Job.Source, res.Err)
		}
		if res.Outcome == OutcomeDrift && first == nil && g.isRequired(key) {
			first = fmt.Errorf("image %s, needed by another release of this chart, is drift: %s", res.Job.Source, res.Drift)
		}
	}
	return first
}
