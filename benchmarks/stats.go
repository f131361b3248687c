package benchmarks

import (
	"net/http"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// Counts summarises the requests a proxy saw.
type Counts struct {
	Total        int
	Kinds        map[registrytest.Kind]int // every request by kind, any status
	OK           map[registrytest.Kind]int // requests by kind answered 2xx
	Mounted      int                       // cross-repository mounts answered 201
	Throttled    int                       // 429s, whoever answered them
	Injected     map[string]int            // answers the proxy made itself: hub, ecr, fault
	BlobGetBytes int64                     // body bytes of successful blob GETs
	BytesOut     int64
	BytesIn      int64
	Connections  int64
	Handshakes   int64
}

// Counts summarises the requests that keep accepts (nil: all), with the connection and
// handshake counts since the last Reset.
func (p *Proxy) Counts(keep func(ProxyRequest) bool) Counts {
	c := Counts{Kinds: map[registrytest.Kind]int{}, OK: map[registrytest.Kind]int{}, Injected: map[string]int{}}
	for _, q := range p.Requests() {
		if keep != nil && !keep(q) {
			continue
		}
		c.Total++
		c.Kinds[q.Kind]++
		if q.Status >= 200 && q.Status < 300 {
			c.OK[q.Kind]++
			if q.Kind == registrytest.BlobGet {
				c.BlobGetBytes += q.BytesOut
			}
		}
		if q.Kind == registrytest.Mount && q.Status == http.StatusCreated {
			c.Mounted++
		}
		if q.Status == http.StatusTooManyRequests {
			c.Throttled++
		}
		if q.Injected != "" {
			c.Injected[q.Injected]++
		}
		c.BytesOut += q.BytesOut
		c.BytesIn += q.BytesIn
	}
	c.Connections, c.Handshakes = p.Connections(), p.TLSHandshakes()
	return c
}
