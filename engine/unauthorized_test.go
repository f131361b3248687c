package engine

import (
	"net/http"
	"path/filepath"
	"testing"
)

// TestDestinationRefusingCredentialsIsCouldNotRun: a destination that answers every
// request 401 and no credentials anywhere for it: every image fails naming it, the report
// counts them under unauthorized_hosts, and the run could not run (exit code 3), as with a
// destination that is down.
func TestDestinationRefusingCredentialsIsCouldNotRun(t *testing.T) {
	empty := t.TempDir()
	t.Setenv("DOCKER_CONFIG", empty)
	t.Setenv("REGISTRY_AUTH_FILE", filepath.Join(empty, "none.json"))
	t.Setenv("HELM_REGISTRY_CONFIG", filepath.Join(empty, "none-helm.json"))
	w := newLockWorld(t)
	w.dst.Intercept(func(rw http.ResponseWriter, r *http.Request) bool {
		rw.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		rw.WriteHeader(http.StatusUnauthorized)
		return true
	})
	rep, a := w.run(t, w.options(t))
	if a.Status != StatusError {
		t.Fatalf("addon %s, want ERROR: %s", a.Status, a.Error)
	}
	if !rep.CouldNotRun() || rep.Unauthorized[w.dst.Host] != len(lockImages) {
		t.Errorf("could not run %v, unauthorized %v: want %d images for %s", rep.CouldNotRun(), rep.Unauthorized, len(lockImages), w.dst.Host)
	}
	for _, img := range a.Images {
		if img.Result != OutcomeFailed {
			t.Errorf("%s: %s, want failed", img.Source, img.Result)
		}
	}
}
