package main

import (
	"testing"
	"time"
)

func TestParsePeriod(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"6h": 6 * time.Hour, "1h30m": 90 * time.Minute, "500ms": 500 * time.Millisecond,
		"1d": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour,
	} {
		got, err := parsePeriod(in)
		if err != nil || got != want {
			t.Errorf("parsePeriod(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0s", "-1h", "1.5d", "0d", "6y", "h6"} {
		if got, err := parsePeriod(in); err == nil {
			t.Errorf("parsePeriod(%q) = %v; want an error", in, got)
		}
	}
}

func TestCheckHost(t *testing.T) {
	for _, ok := range []string{"docker.io", "127.0.0.1:5001", "localhost:5000", "[::1]:5000", "[::1]"} {
		if msg := checkHost(ok); msg != "" {
			t.Errorf("checkHost(%q) = %q; want ok", ok, msg)
		}
	}
	for _, bad := range []string{"", "https://docker.io", "docker.io/library", "host:", "host:0", "host:abc", ":5000"} {
		if msg := checkHost(bad); msg == "" {
			t.Errorf("checkHost(%q) accepted", bad)
		}
	}
}
