package main

import (
	"fmt"
	"strconv"
	"strings"
)

// parseMaxPerHost reads --max-per-host values: N (every host without its own) or HOST=N,
// repeatable; a later value for the same host replaces an earlier one. nil: none given.
func parseMaxPerHost(values []string) (map[string]int, error) {
	if len(values) == 0 {
		return nil, nil
	}
	out := map[string]int{}
	for _, s := range values {
		bad := func(why string) error {
			return usagef("--max-per-host %q: %s (want N or HOST=N, e.g. docker.io=4)", s, why)
		}
		host, count, ok := strings.Cut(s, "=")
		if !ok {
			host, count = "", s
		} else if host = strings.TrimSpace(host); host == "" {
			return nil, bad("empty HOST")
		} else if msg := checkHost(host); msg != "" {
			return nil, bad(msg)
		}
		n, err := strconv.Atoi(strings.TrimSpace(count))
		if err != nil || n < 1 {
			return nil, bad(fmt.Sprintf("N must be a positive whole number, not %q", count))
		}
		out[strings.ToLower(host)] = n
	}
	return out, nil
}
