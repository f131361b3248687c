package main

import (
	"io"
	"log"
	"net/http/httptest"
	"net/url"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
)

// demoRegistry is an OCI registry held in memory (go-containerregistry's), served on a
// loopback port for the length of the demo.
type demoRegistry struct {
	server *httptest.Server
	// Host is host:port, as image references name it.
	Host string
}

func startDemoRegistry() *demoRegistry {
	s := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	u, _ := url.Parse(s.URL)
	return &demoRegistry{server: s, Host: u.Host}
}

func (r *demoRegistry) Close() { r.server.Close() }
