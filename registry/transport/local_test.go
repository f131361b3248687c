package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"testing"
)

// TestLocalTransportAnswersInProcess: a handler's answer comes back as a response whose
// body streams what it writes, with its status and headers; HEAD has no body; a handler
// that writes nothing answers 200 with an empty body; a panic before answering is the round
// trip's error, after it the body's.
func TestLocalTransportAnswersInProcess(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789"), 100_000)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			w.Header().Set("Content-Length", strconv.Itoa(len(big)))
			w.Header().Set("Docker-Content-Digest", "sha256:x")
			if r.Method != http.MethodHead {
				_, _ = w.Write(big)
			}
		case "/missing":
			http.Error(w, "no such blob", http.StatusNotFound)
		case "/nothing":
		case "/panic-first":
			panic("before")
		case "/panic-later":
			_, _ = w.Write([]byte("part"))
			panic("after")
		}
	})
	rt := localTransport{h}
	do := func(method, path string) (*http.Response, error) {
		req, _ := http.NewRequest(method, "http://bundle.local:1"+path, nil)
		return rt.RoundTrip(req)
	}
	resp, err := do(http.MethodGet, "/big")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !bytes.Equal(body, big) || resp.StatusCode != 200 || resp.ContentLength != int64(len(big)) || resp.Header.Get("Docker-Content-Digest") != "sha256:x" {
		t.Fatalf("GET: %d, %d bytes (want %d), length %d, %v", resp.StatusCode, len(body), len(big), resp.ContentLength, err)
	}
	resp, err = do(http.MethodHead, "/big")
	if err != nil || resp.Body != http.NoBody || resp.ContentLength != int64(len(big)) {
		t.Fatalf("HEAD: %+v, %v", resp, err)
	}
	resp, err = do(http.MethodGet, "/missing")
	if err != nil || resp.StatusCode != http.StatusNotFound || resp.Status != "404 Not Found" {
		t.Fatalf("missing: %+v, %v", resp, err)
	}
	body, _ = io.ReadAll(resp.Body)
	if !bytes.Contains(body, []byte("no such blob")) {
		t.Errorf("missing: body %q", body)
	}
	resp, err = do(http.MethodGet, "/nothing")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("nothing written: %+v, %v", resp, err)
	}
	if body, err := io.ReadAll(resp.Body); err != nil || len(body) != 0 {
		t.Fatalf("nothing written: body %q, %v", body, err)
	}
	if _, err := do(http.MethodGet, "/panic-first"); err == nil {
		t.Fatal("a handler that panicked before answering gave no error")
	}
	resp, err = do(http.MethodGet, "/panic-later")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Fatal("the body of a handler that panicked while writing read to its end without an error")
	}
}

// TestLocalTransportStops: closing the body stops a handler still writing; a context that
// ends before the answer ends the round trip, and one that ends during the body ends its
// reads.
func TestLocalTransportStops(t *testing.T) {
	stopped := make(chan error, 1)
	answer := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-answer
		}
		chunk := make([]byte, 32<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				stopped <- err
				return
			}
		}
	})
	rt := localTransport{h}
	req, _ := http.NewRequest(http.MethodGet, "http://bundle.local:1/endless", nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 100<<10)); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := <-stopped; err == nil {
		t.Fatal("the handler's write did not fail once the body was closed")
	}

	ctx, cancel := context.WithCancel(context.Background())
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, "http://bundle.local:1/slow", nil)
	errc := make(chan error, 1)
	go func() {
		_, err := rt.RoundTrip(req)
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("round trip whose context ended before the answer: %v", err)
	}
	close(answer) // the abandoned handler writes into a closed pipe and ends
	if err := <-stopped; err == nil {
		t.Fatal("the abandoned handler's write did not fail")
	}

	ctx, cancel = context.WithCancel(context.Background())
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, "http://bundle.local:1/endless", nil)
	resp, err = rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := io.Copy(io.Discard, resp.Body); !errors.Is(err, context.Canceled) {
		t.Fatalf("read after the context ended: %v", err)
	}
	resp.Body.Close()
	if err := <-stopped; err == nil {
		t.Fatal("the handler's write did not fail once the context ended")
	}
}
