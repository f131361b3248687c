package transport

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
)

// localTransport answers a host's requests with an in-process handler (an import's
// bundle): no connection, no HTTP written or parsed; the body streams from the handler as
// it writes it. The requests still pass the layers above (limits, retries, the stall
// watchdog, the manifest check), as a remote host's do.
type localTransport struct{ h http.Handler }

func (t localTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	pr, pw := io.Pipe()
	w := &localResponse{header: http.Header{}, body: pw, ready: make(chan struct{})}
	go func() {
		defer func() {
			if req.Body != nil {
				req.Body.Close() // the handler may read it until it returns
			}
			if p := recover(); p != nil {
				w.fail(fmt.Errorf("%s %s: handler panicked: %v", req.Method, req.URL.Path, p))
				return
			}
			w.WriteHeader(http.StatusOK) // no-op when the handler wrote one
			pw.Close()
		}()
		t.h.ServeHTTP(w, req)
	}()
	ctx := req.Context()
	select {
	case <-w.ready:
	case <-ctx.Done():
		pr.CloseWithError(ctx.Err())
		return nil, ctx.Err()
	}
	if w.err != nil {
		pr.Close()
		return nil, w.err
	}
	resp := &http.Response{
		Status: strconv.Itoa(w.code) + " " + http.StatusText(w.code), StatusCode: w.code,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: w.sent, Body: &localBody{PipeReader: pr, stop: context.AfterFunc(ctx, func() { pw.CloseWithError(ctx.Err()) })},
		ContentLength: -1, Request: req,
	}
	if n, err := strconv.ParseInt(w.sent.Get("Content-Length"), 10, 64); err == nil {
		resp.ContentLength = n
	}
	if req.Method == http.MethodHead {
		resp.Body.Close()
		resp.Body = http.NoBody
	}
	return resp, nil
}

// localBody is a local response's body: closing it stops the handler's writes; the request's
// context ending makes its reads fail with the context's error (and stops the writes too).
type localBody struct {
	*io.PipeReader
	stop func() bool
}

func (b *localBody) Close() error {
	b.stop()
	return b.PipeReader.Close()
}

// localResponse is the handler's side: the header is taken when it is written (or at the
// first byte of the body), the body goes through the pipe.
type localResponse struct {
	header http.Header
	body   *io.PipeWriter
	once   sync.Once
	ready  chan struct{}
	code   int
	sent   http.Header
	err    error // set before ready closes: the handler failed before answering
}

func (w *localResponse) Header() http.Header { return w.header }

func (w *localResponse) WriteHeader(code int) {
	w.once.Do(func() {
		w.code, w.sent = code, w.header.Clone()
		close(w.ready)
	})
}

func (w *localResponse) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(p)
}

// fail ends the response with err: as the round trip's error when nothing was answered yet,
// else as the body's.
func (w *localResponse) fail(err error) {
	w.once.Do(func() {
		w.err = err
		close(w.ready)
	})
	w.body.CloseWithError(err)
}
