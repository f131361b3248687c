package registry

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// A missing image says so first, naming the mirror it was asked through, and names its
// digest once.
func TestCopyMissingImageThroughMirror(t *testing.T) {
	mirror, dst := registrytest.New(t), registrytest.New(t)
	c := newTestClient(t, ClientOptions{Mirrors: map[string]string{"registry.k8s.io": mirror.Host + "/registry.k8s.io"}})
	digest := "sha256:01038e7de14b78d702d2849c3aad72fd25903c4765af63cf16aa3398f5d5f2dd"
	src := MustParseImageRef("registry.k8s.io/ingress-nginx/kube-webhook-certgen:v1.6.9@" + digest)
	dref := MirrorLayout{Registry: dst.Host, Prefix: "p"}.Destination(src)
	_, err := c.Copy(context.Background(), src, dref, PlatformAuto)
	var nf *NotFoundError
	if !errors.As(err, &nf) {
		t.Fatalf("copy of a missing image: %v, want a NotFoundError", err)
	}
	msg := err.Error()
	want := src.String() + ": not found at the source (through mirror " + mirror.Host + "/registry.k8s.io)"
	if !strings.HasPrefix(msg, want) {
		t.Errorf("message:\n %s\nwant it to start with\n %s", msg, want)
	}
	if n := strings.Count(msg, digest); n != 1 {
		t.Errorf("the digest appears %d times in %q", n, msg)
	}

	// SourceDigest (a HEAD) says the same.
	plain := MustParseImageRef("registry.k8s.io/ingress-nginx/controller:v9.9.9")
	if _, err := c.SourceDigest(context.Background(), plain, PlatformAuto); !errors.As(err, &nf) ||
		!strings.HasPrefix(err.Error(), plain.String()+": not found at the source (through mirror ") {
		t.Errorf("source digest of a missing image: %v", err)
	}
}

func TestOncePerDigest(t *testing.T) {
	d := "sha256:" + strings.Repeat("ab", 32)
	e := "sha256:" + strings.Repeat("cd", 32)
	for in, want := range map[string]string{
		"copy a:1@" + d + " to b:1@" + d + ": GET /v2/a/manifests/" + d + ": " + e + " and " + e: "copy a:1@" + d + " to b:1: GET /v2/a/manifests/sha256:abababababab…: " + e + " and sha256:cdcdcdcdcdcd…",
		"no digest here": "no digest here",
	} {
		if got := oncePerDigest(in); got != want {
			t.Errorf("oncePerDigest:\n got %s\nwant %s", got, want)
		}
	}
}
