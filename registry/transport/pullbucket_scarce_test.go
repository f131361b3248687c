package transport

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestScarceStartHoldsNoAdvertisedPull: an image (S) whose first pull waits for another
// image (U) to learn its needs waits holding nothing of the host's advertised budget. The
// host advertises one pull left, U's first GET drew a 429 the host did not count, and S
// arrives while U backs off: U's second GET must be let through, not held behind S's
// reservation while S waits for U (that wait ended only at the scarce-wait bound).
func TestScarceStartHoldsNoAdvertisedPull(t *testing.T) {
	h, err := newHostLimits([]HostRate{{Host: "hub.test", Kind: KindManifestGet, N: 5, Period: time.Hour}}, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	s := h.state("hub.test")
	s.pulls.spentAfter = time.Hour // only holding nothing, not the bound, may let U through
	waiting := make(chan struct{}, 1)
	s.pulls.waiting = func() {
		select {
		case waiting <- struct{}{}:
		default:
		}
	}
	s.mu.Lock()
	s.pull.known, s.pull.low, s.pull.probed, s.pull.window, s.pull.since = true, 1, true, time.Hour, time.Now()
	s.mu.Unlock()

	get := func(ctx context.Context, repo string) *http.Request {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://hub.test/v2/"+repo+"/manifests/1", nil)
		if err != nil {
			t.Fatal(err)
		}
		return req
	}
	image := func(req *http.Request) *http.Response {
		body := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}`
		return &http.Response{StatusCode: http.StatusOK, Request: req,
			Header: http.Header{"Content-Type": {"application/vnd.oci.image.manifest.v1+json"}},
			Body:   io.NopCloser(strings.NewReader(body))}
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a hang guard, not a bound
	defer cancel()
	ctxU, endU := WithPullGroup(ctx, 0)
	defer endU()
	done, _, err := h.wait(ctxU, get(ctxU, "u"))
	if err != nil {
		t.Fatalf("U's first pull: %v", err)
	}
	done(&http.Response{StatusCode: http.StatusTooManyRequests, Header: http.Header{}})

	ctxS, endS := WithPullGroup(ctx, 0)
	defer endS()
	sDone := make(chan error, 1)
	go func() {
		req := get(ctxS, "s")
		done, _, err := h.wait(ctxS, req)
		if err == nil {
			done(image(req))
		}
		sDone <- err
	}()
	select {
	case <-waiting:
	case err := <-sDone:
		t.Fatalf("S's first pull did not wait for U to learn its needs (err %v)", err)
	}

	req := get(ctxU, "u")
	done, _, err = h.wait(ctxU, req)
	if err != nil {
		t.Fatalf("U's second pull, with S waiting for U: %v", err)
	}
	resp := image(req)
	body, _ := io.ReadAll(resp.Body)
	if err := sizePulls(req, resp, body); err != nil {
		t.Fatalf("U learns its needs: %v", err)
	}
	done(resp)
	if err := <-sDone; err != nil {
		t.Fatalf("S's first pull after U learned its needs: %v", err)
	}
	s.pulls.mu.Lock()
	defer s.pulls.mu.Unlock()
	if s.pulls.unsized != 1 {
		t.Errorf("unsized images %d, want 1 (S, whose needs the test never reports)", s.pulls.unsized)
	}
}
