package registrytest

import (
	"sync"
	"time"
)

// overlapWait bounds how long Overlap.Enter holds a caller alone: a failing test ends, it is
// not a wait the test relies on.
const overlapWait = 5 * time.Second

// Overlap tells a test whether things it starts (requests, reads) run at the same time,
// without measuring any time: each one that enters is held until a second one is in (or
// overlapWait passes), and Most says how many were in at once.
type Overlap struct {
	mu       sync.Mutex
	in, most int
	both     chan struct{}
	once     sync.Once
}

// NewOverlap is an Overlap nothing has entered yet.
func NewOverlap() *Overlap { return &Overlap{both: make(chan struct{})} }

// Enter counts one more in, then holds the caller until a second one is in.
func (o *Overlap) Enter() {
	o.mu.Lock()
	o.in++
	o.most = max(o.most, o.in)
	if o.in >= 2 {
		o.once.Do(func() { close(o.both) })
	}
	o.mu.Unlock()
	select {
	case <-o.both:
	case <-time.After(overlapWait):
	}
}

// Leave counts one out.
func (o *Overlap) Leave() {
	o.mu.Lock()
	o.in--
	o.mu.Unlock()
}

// Most is how many were in at once, at most.
func (o *Overlap) Most() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.most
}
