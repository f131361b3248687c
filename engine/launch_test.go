package engine

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/airgap-charts/airgap-charts/config"
)

// Releases of one chart start one after the other, groups in order of first appearance.
func TestLaunchOrderKeepsChartGroupsTogether(t *testing.T) {
	a := func(chart, release string) config.Addon {
		return config.Addon{Chart: chart, Repository: "https://charts.example", Version: "1.0.0", Release: release}
	}
	addons := []config.Addon{a("ingress", "one"), a("loki", "loki"), a("ingress", "two"), a("cert", "cert"), a("ingress", "three"), a("loki", "loki2")}
	order, largest := launchOrder(addons)
	if fmt.Sprint(order) != "[0 2 4 1 5 3]" || largest != 3 {
		t.Fatalf("order %v, largest group %d; want [0 2 4 1 5 3] and 3", order, largest)
	}
}

// The warmer runs at most its limit of lookups (and goroutines) at once, and every queued
// tag is asked about.
func TestWarmerIsBounded(t *testing.T) {
	const limit, n = 2, 10
	var mu sync.Mutex
	running, peak, asked := 0, 0, 0
	entered := make(chan struct{}, n)
	release := make(chan struct{})
	w := newWarmer(context.Background(), limit)
	ask := func(context.Context) {
		mu.Lock()
		running++
		peak = max(peak, running)
		asked++
		mu.Unlock()
		entered <- struct{}{}
		<-release
		mu.Lock()
		running--
		mu.Unlock()
	}
	for range n {
		w.add(ask)
	}
	for range limit {
		<-entered
	}
	w.mu.Lock()
	workers, queued := w.workers, len(w.queue)
	w.mu.Unlock()
	if workers != limit || queued != n-limit {
		t.Fatalf("%d workers, %d queued; want %d and %d", workers, queued, limit, n-limit)
	}
	close(release)
	w.wait()
	if peak != limit || asked != n {
		t.Fatalf("peak %d at once, %d asked; want %d and %d", peak, asked, limit, n)
	}
}
