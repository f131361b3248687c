package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// authLog is what an auth front of a registrytest registry saw.
type authLog struct {
	mu         sync.Mutex
	pings      int            // GET /v2/
	challenges map[string]int // 401 answers by repository ("" for /v2/)
	tokens     map[string]int // token requests by scope
	authorized int            // requests let through with valid credentials
}

func (l *authLog) count(m *map[string]int, k string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if *m == nil {
		*m = map[string]int{}
	}
	(*m)[k]++
}

func (l *authLog) total(m map[string]int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// requiredScope is the repository:NAME:ACTION a request to reg needs.
func requiredScope(r *http.Request) (repo, action string) {
	kind, repo := registrytest.Classify(r)
	action = "pull"
	switch kind {
	case registrytest.ManifestPut, registrytest.UploadStart, registrytest.UploadChunk, registrytest.UploadEnd, registrytest.Mount, registrytest.ManifestDel:
		action = "push"
	}
	return repo, action
}

// bearerFront makes reg demand Bearer tokens from its own /token endpoint, as Docker Hub
// and distribution's token auth do: a token names the scopes it grants.
func bearerFront(reg *registrytest.Registry) *authLog {
	l := &authLog{}
	reg.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/token" {
			scopes := r.URL.Query()["scope"]
			l.count(&l.tokens, strings.Join(scopes, " "))
			_ = json.NewEncoder(w).Encode(map[string]string{"token": url.QueryEscape(strings.Join(scopes, " "))})
			return true
		}
		if r.URL.Path == "/v2/" {
			l.mu.Lock()
			l.pings++
			l.mu.Unlock()
		}
		repo, action := requiredScope(r)
		granted, _ := url.QueryUnescape(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		ok := repo != "" && strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ")
		if ok {
			ok = false
			for _, s := range strings.Fields(granted) {
				if s == "repository:"+repo+":pull" && action == "pull" || s == "repository:"+repo+":push,pull" {
					ok = true
				}
			}
		}
		if ok {
			l.mu.Lock()
			l.authorized++
			l.mu.Unlock()
			return false
		}
		l.count(&l.challenges, repo)
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="test",scope="repository:%s:%s"`, reg.Host, repo, action))
		w.WriteHeader(http.StatusUnauthorized)
		return true
	})
	return l
}

// basicFront makes reg demand Basic user:pass on every request.
func basicFront(reg *registrytest.Registry, user, pass string) *authLog {
	l := &authLog{}
	reg.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/v2/" {
			l.mu.Lock()
			l.pings++
			l.mu.Unlock()
		}
		if u, p, ok := r.BasicAuth(); ok && u == user && p == pass {
			l.mu.Lock()
			l.authorized++
			l.mu.Unlock()
			return false
		}
		_, repo := registrytest.Classify(r)
		l.count(&l.challenges, repo)
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		w.WriteHeader(http.StatusUnauthorized)
		return true
	})
	return l
}

type staticKeychain struct{ host, user, pass string }

func (k staticKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if r.RegistryStr() == k.host {
		return authn.FromConfig(authn.AuthConfig{Username: k.user, Password: k.pass}), nil
	}
	return authn.Anonymous, nil
}

// A Bearer source and a Basic destination: no GET /v2/ ping on either side, one 401 per
// host (the first request teaches the challenge), one token per repository and action.
func TestAuthRouterLearnsChallengeOncePerHost(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	repos := []string{"a", "b", "c"}
	for _, r := range repos {
		pushImage(t, src.Host+"/lib/"+r+":1", platformImage(t, "linux", "amd64"))
	}
	srcAuth := bearerFront(src)
	dstAuth := basicFront(dst, "robot", "s3cret")
	c := newTestClient(t, ClientOptions{Concurrency: 3, Keychains: []authn.Keychain{staticKeychain{dst.Host, "robot", "s3cret"}}})
	ctx := context.Background()
	var wg sync.WaitGroup
	for _, r := range repos {
		wg.Go(func() {
			if _, err := c.Copy(ctx, MustParseImageRef(src.Host+"/lib/"+r+":1"), MustParseImageRef(dst.Host+"/m/lib/"+r+":1"), PlatformAuto); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	dst.Intercept(nil)
	for _, r := range repos {
		if remoteDigest(t, dst.Host+"/m/lib/"+r+":1") == "" {
			t.Fatalf("%s not copied", r)
		}
	}
	if srcAuth.pings != 0 || dstAuth.pings != 0 {
		t.Fatalf("GET /v2/ pings: source %d, destination %d, want none", srcAuth.pings, dstAuth.pings)
	}
	if n := srcAuth.total(srcAuth.challenges); n != 1 {
		t.Fatalf("source 401s = %d (%v), want 1", n, srcAuth.challenges)
	}
	if n := dstAuth.total(dstAuth.challenges); n != 1 {
		t.Fatalf("destination 401s = %d (%v), want 1", n, dstAuth.challenges)
	}
	for _, r := range repos {
		if n := srcAuth.tokens["repository:lib/"+r+":pull"]; n != 1 {
			t.Fatalf("pull tokens for lib/%s = %d, want 1 (%v)", r, n, srcAuth.tokens)
		}
	}
	if len(srcAuth.tokens) != len(repos) {
		t.Fatalf("token scopes %v, want one pull scope per repository", srcAuth.tokens)
	}
	if srcAuth.authorized == 0 || dstAuth.authorized == 0 {
		t.Fatal("no authorized request seen")
	}
}

// A registry that reads anonymously and asks for credentials on writes: the first 401
// on a write teaches the challenge and the write is sent again with credentials.
func TestAuthRouterChallengeOnWriteAfterAnonymousReads(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	pushImage(t, src.Host+"/a:1", platformImage(t, "linux", "amd64"))
	var mu sync.Mutex
	challenged := 0
	dst.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			return false
		}
		if u, p, ok := r.BasicAuth(); ok && u == "w" && p == "pw" {
			return false
		}
		mu.Lock()
		challenged++
		mu.Unlock()
		w.Header().Set("WWW-Authenticate", `Basic realm="writes"`)
		w.WriteHeader(http.StatusUnauthorized)
		return true
	})
	c := newTestClient(t, ClientOptions{Keychains: []authn.Keychain{staticKeychain{dst.Host, "w", "pw"}}})
	ctx := context.Background()
	if _, _, err := c.HeadManifest(ctx, MustParseImageRef(dst.Host+"/a:1")); err != nil {
		t.Fatal(err) // an anonymous read: the host asks for nothing so far
	}
	if _, err := c.Copy(ctx, MustParseImageRef(src.Host+"/a:1"), MustParseImageRef(dst.Host+"/a:1"), PlatformAuto); err != nil {
		t.Fatal(err)
	}
	if challenged != 1 {
		t.Fatalf("401s = %d, want 1", challenged)
	}
	if remoteDigest(t, dst.Host+"/a:1") == "" {
		t.Fatal("not copied")
	}
}
