package main

import (
	"bytes"
	"io"
	"strings"
	"sync"

	"github.com/airgap-charts/airgap-charts/config"
)

// secretFlags are the flags whose values are secrets, with their environment variables.
var secretFlags = map[string][]string{
	"--public-ecr-password":  {"AIRGAP_CHARTS_PUBLIC_ECR_PASSWORD", "ECR_PUBLIC_PASSWORD"},
	"--private-ecr-password": {"AIRGAP_CHARTS_PRIVATE_ECR_PASSWORD", "ECR_PRIVATE_PASSWORD"},
	"--dockerhub-token":      {"AIRGAP_CHARTS_DOCKERHUB_TOKEN", "DOCKERHUB_TOKEN"},
}

// minSecretLen: shorter values are not redacted (they would blank out ordinary text).
const minSecretLen = 4

// redactor replaces known secrets in everything written through it, so that no password
// or token reaches the terminal even when a library echoes a flag value in an error; the
// user information of any URL (user:pass@) is cut too.
type redactor struct {
	mu      sync.Mutex
	secrets []string
}

// add registers secrets to hide from then on.
func (r *redactor) add(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range secrets {
		if len(s) >= minSecretLen {
			r.secrets = append(r.secrets, s)
		}
	}
}

// addFromArgs registers the values of secret flags in args (`--flag value` and
// `--flag=value`) and of their environment fallbacks.
func (r *redactor) addFromArgs(args []string, env func(string) string) {
	for flag, names := range secretFlags {
		for _, name := range names {
			r.add(env(name))
		}
		for i, arg := range args {
			if arg == flag && i+1 < len(args) {
				r.add(args[i+1])
			}
			if v, ok := strings.CutPrefix(arg, flag+"="); ok {
				r.add(v)
			}
		}
	}
}

// redact is p with the secrets and the user information of URLs replaced.
func (r *redactor) redact(p []byte) []byte {
	r.mu.Lock()
	secrets := r.secrets
	r.mu.Unlock()
	out := p
	if bytes.Contains(out, []byte("@")) {
		out = []byte(config.RedactURLs(string(out)))
	}
	for _, s := range secrets {
		if bytes.Contains(out, []byte(s)) {
			out = bytes.ReplaceAll(out, []byte(s), []byte("[redacted]"))
		}
	}
	return out
}

// commandLine is args as the report records them: the value of every secret flag
// replaced by [redacted] whatever its length, and any known secret or URL password too.
func (r *redactor) commandLine(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if _, secret := secretFlags[arg]; secret && i+1 < len(args) {
			out = append(out, arg, "[redacted]")
			i++
			continue
		}
		if flag, _, ok := strings.Cut(arg, "="); ok {
			if _, secret := secretFlags[flag]; secret {
				out = append(out, flag+"=[redacted]")
				continue
			}
		}
		out = append(out, string(r.redact([]byte(arg))))
	}
	return out
}

// writer wraps w so that every write has the secrets replaced.
func (r *redactor) writer(w io.Writer) io.Writer { return &redactingWriter{r: r, w: w} }

type redactingWriter struct {
	r *redactor
	w io.Writer
}

func (rw *redactingWriter) Write(p []byte) (int, error) {
	if _, err := rw.w.Write(rw.r.redact(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Fd exposes the wrapped file's descriptor so that terminal detection still works.
func (rw *redactingWriter) Fd() uintptr {
	if f, ok := rw.w.(interface{ Fd() uintptr }); ok {
		return f.Fd()
	}
	return ^uintptr(0)
}
