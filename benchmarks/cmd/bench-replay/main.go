// Command bench-replay sends a list of HTTP requests again, as fast as a plain client can,
// for the benchmark: the floor of a run that makes exactly those requests and nothing else
// (no chart work, no report, a process start with the standard library only). Each line of
// its input is one request, tab-separated: method, URL, the status the recorded run got,
// and the Accept header. Every response must have the recorded status: a replay that
// diverged from the run it stands for fails, naming the first request that did.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
)

type request struct {
	method, url, accept string
	status              int
	line                int
}

func main() {
	workers := flag.Int("c", 8, "requests in flight at once")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: bench-replay [-c N] REQUESTS")
		os.Exit(2)
	}
	reqs, err := read(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := replay(reqs, max(1, *workers)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func read(path string) ([]request, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []request
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		fields := strings.Split(sc.Text(), "\t")
		if len(fields) != 4 {
			return nil, fmt.Errorf("%s:%d: want 4 tab-separated fields, got %d", path, n, len(fields))
		}
		status, err := strconv.Atoi(fields[2])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: status %q: %w", path, n, fields[2], err)
		}
		out = append(out, request{method: fields[0], url: fields[1], status: status, accept: fields[3], line: n})
	}
	return out, sc.Err()
}

// replay sends reqs in order from workers goroutines sharing one keep-alive client.
func replay(reqs []request, workers int) error {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	next := make(chan request)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		bad   int
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if first == nil {
			first = err
		}
		bad++
	}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range next {
				if err := send(client, r); err != nil {
					fail(err)
				}
			}
		}()
	}
	for _, r := range reqs {
		next <- r
	}
	close(next)
	wg.Wait()
	if first != nil {
		return fmt.Errorf("%d of %d requests diverged from the recorded run, first: %w", bad, len(reqs), first)
	}
	return nil
}

func send(client *http.Client, r request) error {
	req, err := http.NewRequest(r.method, r.url, nil)
	if err != nil {
		return fmt.Errorf("line %d: %w", r.line, err)
	}
	if r.accept != "" {
		req.Header.Set("Accept", r.accept)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("line %d: %w", r.line, err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("line %d: %s %s: body: %w", r.line, r.method, r.url, err)
	}
	if resp.StatusCode != r.status {
		return fmt.Errorf("line %d: %s %s: status %d, the recorded run got %d", r.line, r.method, r.url, resp.StatusCode, r.status)
	}
	return nil
}
