package ecr

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/airgap-charts/airgap-charts/registry/ecrsim"
)

// clock is a test clock the ECR token cache reads.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func resolve(t *testing.T, kc authn.Keychain, host string) authn.Authenticator {
	t.Helper()
	reg, err := name.NewRegistry(host)
	if err != nil {
		t.Fatal(err)
	}
	a, err := authn.Resolve(context.Background(), kc, reg)
	if err != nil {
		t.Fatalf("resolve %s: %v", host, err)
	}
	return a
}

func password(t *testing.T, a authn.Authenticator) string {
	t.Helper()
	cfg, err := authn.Authorization(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Username != "AWS" || cfg.Password == "" {
		t.Fatalf("ECR credentials user %q, want AWS with a token", cfg.Username)
	}
	return cfg.Password
}

func TestECRKeychainRefreshesTokenBeforeExpiry(t *testing.T) {
	sim := ecrsim.New(t) // tokens live 12 h, as on ECR
	e := newECR(t, sim, func(o *Options) { o.CreateRepositories = true })
	clk := &clock{t: time.Now()}
	e.now = clk.now

	a := resolve(t, e.Keychain(), sim.Host)
	first := password(t, a)
	for range 5 {
		if password(t, a) != first {
			t.Fatal("token changed without expiring")
		}
	}
	if n := sim.Calls("GetAuthorizationToken"); n != 1 {
		t.Fatalf("GetAuthorizationToken calls = %d, want 1 (cached)", n)
	}
	clk.advance(10*time.Hour + 59*time.Minute) // 61 minutes left: keep it
	if password(t, a) != first || sim.Calls("GetAuthorizationToken") != 1 {
		t.Fatal("token refreshed with more than an hour left")
	}
	clk.advance(2 * time.Minute) // 59 minutes left: replace it
	var wg sync.WaitGroup
	got := make([]string, 20)
	for i := range got {
		wg.Go(func() { got[i] = password(t, a) })
	}
	wg.Wait()
	for _, p := range got {
		if p == first || p != got[0] {
			t.Fatal("token not refreshed, or refreshed to different tokens")
		}
	}
	if n := sim.Calls("GetAuthorizationToken"); n != 2 {
		t.Fatalf("GetAuthorizationToken calls = %d, want 2 (one refresh shared by 20 callers)", n)
	}
	// The refreshed token opens the data plane.
	if err := e.EnsureRepository(context.Background(), "app"); err != nil {
		t.Fatal(err)
	}
	if err := push(e, sim.Host+"/app:v1", randomImage(t)); err != nil {
		t.Fatalf("push with the refreshed token: %v", err)
	}
}

func TestECRKeychainHosts(t *testing.T) {
	sim := ecrsim.New(t)
	e := newECR(t, sim, nil)
	if resolve(t, e.Keychain(), "docker.io") != authn.Anonymous {
		t.Fatal("docker.io answered by the ECR keychain")
	}
	if resolve(t, e.Keychain(), "111122223333.dkr.ecr.eu-west-1.amazonaws.com") != authn.Anonymous {
		t.Fatal("an ECR registry of another region answered with this region's token")
	}
	// ECR Public: a token from ecr-public GetAuthorizationToken when credentials exist.
	password(t, resolve(t, e.Keychain(), "public.ecr.aws"))
	if sim.Calls("ecrpublic.GetAuthorizationToken") != 1 {
		t.Fatalf("ecr-public GetAuthorizationToken calls = %d, want 1", sim.Calls("ecrpublic.GetAuthorizationToken"))
	}
	anon := newECR(t, sim, func(o *Options) { o.AWSConfig.Credentials = aws.AnonymousCredentials{} })
	if resolve(t, anon.Keychain(), "public.ecr.aws") != authn.Anonymous || sim.Calls("ecrpublic.GetAuthorizationToken") != 1 {
		t.Fatal("public.ecr.aws without AWS credentials: want anonymous and no token call")
	}
}
