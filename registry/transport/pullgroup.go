package transport

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/types"
)

// pullGroup is the manifest pulls of one image copy against a --rate-limit budget
// (pullBucket): its first pull starts it, and once that manifest is read the pulls the
// rest of the image needs are reserved at once, so that a budget too small for the run
// completes whole images instead of starting many and finishing none.
type pullGroup struct {
	// children is how many children of an index the copy pulls: 0 for every one
	// (platform auto), else one per requested platform.
	children int

	mu       sync.Mutex
	state    int // groupNew, groupUnsized, groupSized
	bucket   *pullBucket
	reserved int   // pulls reserved and not yet sent
	doomed   error // the rest of the image could not be reserved
}

const (
	groupNew = iota
	groupUnsized
	groupSized
)

type pullGroupKey struct{}

// WithPullGroup makes the manifest GETs sent with ctx one image's pulls; end gives back
// what was reserved and not used. children is how many children of an index the copy
// pulls: 0 for every one, else one per requested platform.
func WithPullGroup(ctx context.Context, children int) (context.Context, func()) {
	g := &pullGroup{children: children}
	return context.WithValue(ctx, pullGroupKey{}, g), g.end
}

func pullGroupOf(ctx context.Context) *pullGroup {
	g, _ := ctx.Value(pullGroupKey{}).(*pullGroup)
	return g
}

func (g *pullGroup) end() {
	g.mu.Lock()
	b, state, left := g.bucket, g.state, g.reserved
	g.reserved = 0
	if state == groupUnsized {
		g.state = groupSized
	}
	g.mu.Unlock()
	if b == nil {
		return
	}
	if state == groupUnsized {
		b.endUnsized()
	}
	b.refund(left)
}

// takePull takes one pull from b for a manifest GET sent with ctx, first asked for since
// since; reserved says it came from its image's reservation (to give back there if the GET
// turns out not to be a pull). errScarce: the image's first pull must wait (awaitStart).
func (b *pullBucket) takePull(ctx context.Context, since time.Time) (reserved bool, err error) {
	g := pullGroupOf(ctx)
	if g == nil {
		return false, b.take(ctx, 1, takePlain, since)
	}
	g.mu.Lock()
	switch {
	case g.doomed != nil:
		err := g.doomed
		g.mu.Unlock()
		return false, err
	case g.bucket == b && g.reserved > 0:
		g.reserved--
		g.mu.Unlock()
		return true, nil
	case g.state == groupNew:
		g.state, g.bucket = groupUnsized, b
		g.mu.Unlock()
		if err := b.take(ctx, 1, takeStart, since); err != nil {
			g.mu.Lock()
			g.state, g.bucket = groupNew, nil
			g.mu.Unlock()
			return false, err
		}
		return false, nil
	}
	g.mu.Unlock()
	return false, b.take(ctx, 1, takePlain, since)
}

// giveBack returns a pull taken by takePull for a GET the registry did not count.
func (b *pullBucket) giveBack(ctx context.Context, reserved bool) {
	if g := pullGroupOf(ctx); reserved && g != nil {
		g.mu.Lock()
		g.reserved++
		g.mu.Unlock()
		return
	}
	b.refund(1)
}

// sizePulls reserves, once the first manifest of req's image group has been read
// (body), every pull the rest of the image needs. An error means the budget cannot
// complete the image: it is not started further.
func sizePulls(req *http.Request, resp *http.Response, body []byte) error {
	g := pullGroupOf(req.Context())
	if g == nil {
		return nil
	}
	g.mu.Lock()
	if g.state != groupUnsized {
		g.mu.Unlock()
		return nil
	}
	g.state = groupSized
	b := g.bucket
	g.mu.Unlock()
	need := pullsUnder(resp.Header.Get("Content-Type"), body, g.children)
	if err := b.take(req.Context(), need, takeSize, time.Now()); err != nil {
		g.mu.Lock()
		g.doomed = err
		g.mu.Unlock()
		return err
	}
	g.mu.Lock()
	g.reserved += need
	g.mu.Unlock()
	return nil
}

// pullsUnder is how many manifest pulls a copy makes after reading manifest body: one per
// child of an index it copies (children 0: every one; else at most children), none for
// an image.
func pullsUnder(contentType string, body []byte, children int) int {
	var m struct {
		MediaType types.MediaType `json:"mediaType"`
		Manifests []struct {
			MediaType types.MediaType `json:"mediaType"`
		} `json:"manifests"`
	}
	if json.Unmarshal(body, &m) != nil {
		return 0
	}
	mt := m.MediaType
	if mt == "" {
		mt = types.MediaType(contentType)
	}
	if !mt.IsIndex() && m.Manifests == nil {
		return 0
	}
	n := 0
	for _, c := range m.Manifests {
		if c.MediaType.IsIndex() || c.MediaType.IsImage() {
			n++
		}
	}
	if children > 0 {
		return min(n, children)
	}
	return n
}
