package transport

import (
	"net/http"
	"testing"
	"time"
)

func TestParseHeaders(t *testing.T) {
	n, w, ok := parseRateLimitRemaining("76;w=21600")
	if !ok || n != 76 || w != 6*time.Hour {
		t.Fatalf("ratelimit-remaining parsed as %d %s %v", n, w, ok)
	}
	if _, _, ok := parseRateLimitRemaining(""); ok {
		t.Fatal("empty header parsed")
	}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	if d, ok := retryAfter("7", now); !ok || d != 7*time.Second {
		t.Fatalf("Retry-After 7 = %s %v", d, ok)
	}
	if d, ok := retryAfter(now.Add(30*time.Second).Format(http.TimeFormat), now); !ok || d != 30*time.Second {
		t.Fatalf("Retry-After date = %s %v", d, ok)
	}
}
