package registry

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/airgap-charts/airgap-charts/registry/referrertest"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// A legacy cosign signature or a sigstore bundle by the given key verifies; a signature by
// another key, a forged one or none fails, naming the image.
func TestVerifySignatures(t *testing.T) {
	src := registrytest.New(t)
	good, other := referrertest.NewSigner(t), referrertest.NewSigner(t)
	dir := t.TempDir()
	sv, err := LoadSignatureVerifier([]string{good.WriteKeyFile(t, dir, "cosign.pub")})
	if err != nil {
		t.Fatal(err)
	}
	c := newTestClient(t, ClientOptions{Insecure: []string{src.Host}})
	push := func(repo string) (ImageRef, name.Repository, v1.Descriptor) {
		img := randomImage(t)
		pushImage(t, src.Host+"/"+repo+":v1", img)
		r, _ := name.NewRepository(src.Host+"/"+repo, name.Insecure)
		d, _ := img.Digest()
		mt, _ := img.MediaType()
		return MustParseImageRef(src.Host + "/" + repo + ":v1"), r, v1.Descriptor{Digest: d, MediaType: mt}
	}
	ctx := context.Background()

	ref, repo, desc := push("legacy")
	referrertest.LegacySignature(t, repo, desc.Digest, good)
	if v, err := c.VerifySignatures(ctx, ref, sv); err != nil || !strings.Contains(v.By, "cosign-tag") {
		t.Errorf("legacy signature: %+v, %v", v, err)
	}
	ref, repo, desc = push("bundle")
	referrertest.Bundle(t, repo, desc, good)
	if v, err := c.VerifySignatures(ctx, ref, sv); err != nil || !strings.Contains(v.By, "sigstore-bundle") {
		t.Errorf("bundle: %+v, %v", v, err)
	}
	for _, tc := range []struct {
		repo string
		sign func(name.Repository, v1.Descriptor)
		want string
	}{
		{"otherkey", func(r name.Repository, d v1.Descriptor) { referrertest.LegacySignature(t, r, d.Digest, other) }, "does not verify"},
		{"forged", func(r name.Repository, d v1.Descriptor) { referrertest.Bundle(t, r, d, nil) }, "does not verify"},
		{"unsigned", func(name.Repository, v1.Descriptor) {}, "no cosign signature found"},
	} {
		ref, repo, desc := push(tc.repo)
		tc.sign(repo, desc)
		_, err := c.VerifySignatures(ctx, ref, sv)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.repo) {
			t.Errorf("%s: %v, want an error naming the image and %q", tc.repo, err, tc.want)
		}
	}
	if _, err := LoadSignatureVerifier([]string{dir + "/missing.pub"}); err == nil || !strings.Contains(err.Error(), "--verify-signatures") {
		t.Errorf("a missing key file: %v", err)
	}
}
