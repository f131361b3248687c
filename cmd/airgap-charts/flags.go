package main

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/engine"
)

// parseRateLimit reads --rate-limit HOST=N/PERIOD, e.g. docker.io=100/6h.
func parseRateLimit(s string) (engine.RateLimit, error) {
	return parseHostRate("--rate-limit", "docker.io=100/6h", s)
}

// parseHostRate reads HOST=N/PERIOD for flag; example is shown in errors.
func parseHostRate(flag, example, s string) (engine.RateLimit, error) {
	bad := func(why string) error {
		return usagef("%s %q: %s (want HOST=N/PERIOD, e.g. %s)", flag, s, why, example)
	}
	host, budget, ok := strings.Cut(s, "=")
	host = strings.TrimSpace(host)
	if !ok || host == "" {
		return engine.RateLimit{}, bad("missing HOST=")
	}
	if msg := checkHost(host); msg != "" {
		return engine.RateLimit{}, bad(msg)
	}
	count, period, ok := strings.Cut(budget, "/")
	if !ok {
		return engine.RateLimit{}, bad("missing /PERIOD")
	}
	n, err := strconv.Atoi(strings.TrimSpace(count))
	if err != nil || n < 1 {
		return engine.RateLimit{}, bad(fmt.Sprintf("N must be a positive whole number, not %q", count))
	}
	d, err := parsePeriod(strings.TrimSpace(period))
	if err != nil {
		return engine.RateLimit{}, bad(err.Error())
	}
	return engine.RateLimit{Host: host, N: n, Period: d}, nil
}

// parsePeriod reads a Go duration (90s, 6h, 1h30m), a number of days (1d, 7d), or a bare
// unit meaning one of it (s, m, h, d).
func parsePeriod(p string) (time.Duration, error) {
	units := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}
	if d, ok := units[p]; ok {
		return d, nil
	}
	if days, ok := strings.CutSuffix(p, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 1 {
			return 0, fmt.Errorf("PERIOD %q is not a duration", p)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(p)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("PERIOD %q is not a duration (e.g. 1s, 6h, 1d)", p)
	}
	return d, nil
}

// parseRegistryMirrors reads --registry-mirror HOST=MIRROR[/path] entries.
func parseRegistryMirrors(entries []string) (map[string]string, error) {
	out := map[string]string{}
	for _, s := range entries {
		host, mirror, ok := strings.Cut(s, "=")
		host, mirror = strings.TrimSpace(host), strings.TrimRight(strings.TrimSpace(mirror), "/")
		bad := func(why string) error {
			return usagef("--registry-mirror %q: %s (want HOST=MIRROR[/path], e.g. docker.io=127.0.0.1:5001/docker.io)", s, why)
		}
		switch {
		case !ok || host == "":
			return nil, bad("missing HOST=")
		case mirror == "":
			return nil, bad("missing MIRROR")
		case strings.Contains(mirror, "://"):
			return nil, bad("MIRROR is a registry host[:port][/path], without a scheme")
		}
		if msg := checkHost(host); msg != "" {
			return nil, bad(msg)
		}
		if msg := checkHost(strings.SplitN(mirror, "/", 2)[0]); msg != "" {
			return nil, bad("MIRROR: " + msg)
		}
		if _, dup := out[host]; dup {
			return nil, bad("HOST " + host + " is given twice")
		}
		out[host] = mirror
	}
	return out, nil
}

// parseRepoMirrors reads --repo-mirror URL=URL entries: chart repository → its mirror.
// user:pass@ of a mirror URL is taken out of it into creds, by mirror URL.
func parseRepoMirrors(entries []string) (mirrors map[string]string, creds map[string]engine.Credential, err error) {
	out := map[string]string{}
	for _, s := range entries {
		bad := func(why string) error {
			return usagef("--repo-mirror %q: %s (want URL=URL, e.g. https://charts.example.com=http://127.0.0.1:8080/charts)", config.RedactURLs(s), why)
		}
		from, to, ok := cutBeforeURL(s)
		if !ok {
			return nil, nil, bad("missing =URL")
		}
		from, _, _, _ = config.SplitUserinfo(from) // the chart names it: its credentials are the addon's
		to, user, pass, hasCreds := config.SplitUserinfo(to)
		if hasCreds {
			if creds == nil {
				creds = map[string]engine.Credential{}
			}
			creds[strings.TrimRight(to, "/")] = engine.Credential{Username: user, Password: pass}
		}
		if msg := config.CheckRepository(from); msg != "" {
			return nil, nil, bad(msg)
		}
		if msg := config.CheckRepository(to); msg != "" {
			return nil, nil, bad(msg)
		}
		if _, dup := out[from]; dup {
			return nil, nil, bad("URL " + from + " is given twice")
		}
		out[from] = to
	}
	return out, creds, nil
}

// cutBeforeURL splits s at the first '=' followed by a URL scheme, so that an '=' inside
// the first URL's query does not split it.
func cutBeforeURL(s string) (from, to string, ok bool) {
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			continue
		}
		rest := strings.ToLower(s[i+1:])
		for _, scheme := range []string{"http://", "https://", "oci://"} {
			if strings.HasPrefix(rest, scheme) {
				return strings.TrimRight(strings.TrimSpace(s[:i]), "/"), strings.TrimRight(strings.TrimSpace(s[i+1:]), "/"), true
			}
		}
	}
	if i := strings.Index(s, "="); i >= 0 { // let the URL check explain what is wrong
		return strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1:]), true
	}
	return "", "", false
}

// checkHost describes what is wrong with a registry host[:port], or "".
func checkHost(host string) string {
	switch {
	case host == "":
		return "empty host"
	case strings.Contains(host, "://"):
		return fmt.Sprintf("%q: give a host[:port] without a scheme", host)
	case strings.ContainsAny(host, "/ \t"):
		return fmt.Sprintf("%q is not a host[:port]", host)
	}
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") { // IPv6 literal, no port
		return ""
	}
	if strings.Contains(host, ":") {
		h, port, err := net.SplitHostPort(host)
		if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 1 || n > 65535 || h == "" {
			return fmt.Sprintf("%q is not a host[:port]", host)
		}
	}
	return ""
}
