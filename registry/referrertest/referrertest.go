// Package referrertest makes what refers to images in test registries: cosign-style
// signatures (the legacy sha256-<hex>.sig tag with a simple-signing payload, and a sigstore
// bundle referrer), SBOM referrers, and listings of a subject's referrers by every route
// (referrers API, referrers tag schema, cosign tags) for tests to compare.
package referrertest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Media and artifact types (as cosign and the sigstore bundle use them).
const (
	SimpleSigning      = "application/vnd.dev.cosign.simplesigning.v1+json"
	SignatureKey       = "dev.cosignproject.cosign/signature"
	BundleArtifactType = "application/vnd.dev.sigstore.bundle.v0.3+json"
	SBOMArtifactType   = "application/spdx+json"
	emptyConfig        = "application/vnd.oci.empty.v1+json"
)

// Signer holds an ECDSA P-256 key, as `cosign generate-key-pair` makes.
type Signer struct{ Key *ecdsa.PrivateKey }

// NewSigner makes a fresh key.
func NewSigner(t testing.TB) *Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &Signer{Key: k}
}

// PublicKeyPEM is the public key as cosign.pub holds it.
func (s *Signer) PublicKeyPEM(t testing.TB) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&s.Key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// WriteKeyFile writes the public key to dir/name and returns its path.
func (s *Signer) WriteKeyFile(t testing.TB, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, s.PublicKeyPEM(t), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Sign signs data (SHA-256, ASN.1) and returns the signature in base64.
func (s *Signer) Sign(t testing.TB, data []byte) string {
	t.Helper()
	sum := sha256.Sum256(data)
	sig, err := ecdsa.SignASN1(rand.Reader, s.Key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

var _ crypto.Signer = (*ecdsa.PrivateKey)(nil)

// Payload is cosign's simple-signing payload for the image repo@digest.
func Payload(repo string, digest v1.Hash) []byte {
	b, _ := json.Marshal(map[string]any{
		"critical": map[string]any{
			"identity": map[string]string{"docker-reference": repo},
			"image":    map[string]string{"docker-manifest-digest": digest.String()},
			"type":     "cosign container image signature",
		},
		"optional": nil,
	})
	return b
}

// LegacySignature pushes repo:sha256-<hex>.sig holding a signature of subject by s (or,
// with a nil signer, a signature by nobody's key: random bytes). It returns its digest.
func LegacySignature(t testing.TB, repo name.Repository, subject v1.Hash, s *Signer) v1.Hash {
	t.Helper()
	payload := Payload(repo.String(), subject)
	sig := base64.StdEncoding.EncodeToString([]byte("not a signature"))
	if s != nil {
		sig = s.Sign(t, payload)
	}
	img, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1), mutate.Addendum{
		Layer:       static.NewLayer(payload, SimpleSigning),
		Annotations: map[string]string{SignatureKey: sig},
	})
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	tag := repo.Tag(subject.Algorithm + "-" + subject.Hex + ".sig")
	if err := remote.Write(tag, img); err != nil {
		t.Fatalf("push %s: %v", tag, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Referrer pushes an artifact with one layer of content, artifactType at and subject, by
// digest (go-containerregistry keeps the referrers tag schema where the registry has no
// referrers API). It returns its descriptor.
func Referrer(t testing.TB, repo name.Repository, subject v1.Descriptor, at, layerType string, content []byte, annotations map[string]string) v1.Descriptor {
	t.Helper()
	ctx := context.Background()
	cfg := static.NewLayer([]byte("{}"), emptyConfig)
	layer := static.NewLayer(content, types.MediaType(layerType))
	for _, l := range []v1.Layer{cfg, layer} {
		if err := remote.WriteLayer(repo, l, remote.WithContext(ctx)); err != nil {
			t.Fatalf("push blob to %s: %v", repo, err)
		}
	}
	ld, _ := layer.Digest()
	cd, _ := cfg.Digest()
	subject = v1.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}
	m := map[string]any{
		"schemaVersion": 2,
		"mediaType":     types.OCIManifestSchema1,
		"artifactType":  at,
		"config":        v1.Descriptor{MediaType: emptyConfig, Digest: cd, Size: 2, Data: []byte("{}")},
		"layers":        []v1.Descriptor{{MediaType: types.MediaType(layerType), Digest: ld, Size: int64(len(content))}},
		"subject":       subject,
	}
	if len(annotations) > 0 {
		m["annotations"] = annotations
	}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	h, size, _ := v1.SHA256(bytes.NewReader(raw))
	if err := remote.Put(repo.Digest(h.String()), rawManifest{raw: raw, mt: types.OCIManifestSchema1}, remote.WithContext(ctx)); err != nil {
		t.Fatalf("push referrer to %s: %v", repo, err)
	}
	return v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: h, Size: size, ArtifactType: at}
}

type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.raw, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

// Bundle pushes a sigstore bundle (v0.3, a DSSE envelope over an in-toto statement naming
// subject) signed by s (nil: a signature by no key) as a referrer of subject.
func Bundle(t testing.TB, repo name.Repository, subject v1.Descriptor, s *Signer) v1.Descriptor {
	t.Helper()
	stmt, _ := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": repo.String(), "digest": map[string]string{"sha256": subject.Digest.Hex}}},
		"predicateType": "https://sigstore.dev/cosign/sign/v1",
		"predicate":     map[string]any{},
	})
	pt := "application/vnd.in-toto+json"
	sig := base64.StdEncoding.EncodeToString([]byte("not a signature"))
	if s != nil {
		sig = s.Sign(t, PAE(pt, stmt))
	}
	bundle, _ := json.Marshal(map[string]any{
		"mediaType":            "application/vnd.dev.sigstore.bundle.v0.3+json",
		"verificationMaterial": map[string]any{"publicKey": map[string]string{"hint": "test"}},
		"dsseEnvelope": map[string]any{
			"payload": base64.StdEncoding.EncodeToString(stmt), "payloadType": pt,
			"signatures": []any{map[string]string{"sig": sig}},
		},
	})
	return Referrer(t, repo, subject, BundleArtifactType, "application/vnd.dev.sigstore.bundle.v0.3+json", bundle,
		map[string]string{"dev.sigstore.bundle.content": "dsse-envelope", "dev.sigstore.bundle.predicateType": "https://sigstore.dev/cosign/sign/v1"})
}

// PAE is DSSE's pre-authentication encoding.
func PAE(payloadType string, payload []byte) []byte {
	return []byte(fmt.Sprintf("DSSEv1 %d %s %d %s", len(payloadType), payloadType, len(payload), payload))
}

// SBOM pushes a small SPDX document as a referrer of subject.
func SBOM(t testing.TB, repo name.Repository, subject v1.Descriptor) v1.Descriptor {
	t.Helper()
	doc := fmt.Sprintf(`{"spdxVersion":"SPDX-2.3","name":"%s"}`, subject.Digest)
	return Referrer(t, repo, subject, SBOMArtifactType, SBOMArtifactType, []byte(doc), nil)
}

// List returns the digests of every referrer of subject in repo, by every route: the
// referrers API (where served), the referrers tag schema and cosign's tags. Sorted.
// auth (nil: anonymous) is a Basic login (the ECR simulator's).
func List(t testing.TB, repo name.Repository, subject v1.Hash, auth authn.Authenticator) []string {
	t.Helper()
	if auth == nil {
		auth = authn.Anonymous
	}
	seen := map[string]bool{}
	u := fmt.Sprintf("%s://%s/v2/%s/referrers/%s", repo.Scheme(), repo.RegistryStr(), repo.RepositoryStr(), subject)
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if cfg, err := auth.Authorization(); err == nil && cfg.Username != "" {
		req.SetBasicAuth(cfg.Username, cfg.Password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == http.StatusOK && strings.HasPrefix(resp.Header.Get("Content-Type"), string(types.OCIImageIndex)) {
		var idx v1.IndexManifest
		if err := json.NewDecoder(resp.Body).Decode(&idx); err != nil {
			t.Fatalf("referrers of %s in %s: %v", subject, repo, err)
		}
		for _, m := range idx.Manifests {
			seen[m.Digest.String()] = true
		}
	}
	resp.Body.Close()
	tag := subject.Algorithm + "-" + subject.Hex
	if d, err := remote.Get(repo.Tag(tag), remote.WithAuth(auth)); err == nil && d.MediaType.IsIndex() && d.Digest != subject {
		idx, err := v1.ParseIndexManifest(bytes.NewReader(d.Manifest))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range idx.Manifests {
			seen[m.Digest.String()] = true
		}
	} else if err != nil && !notFound(err) {
		t.Fatalf("referrers tag %s:%s: %v", repo, tag, err)
	}
	for _, s := range []string{"sig", "att", "sbom"} {
		d, err := remote.Head(repo.Tag(tag+"."+s), remote.WithAuth(auth))
		if err == nil {
			seen[d.Digest.String()] = true
		} else if !notFound(err) {
			t.Fatalf("cosign tag %s: %v", tag+"."+s, err)
		}
	}
	var out []string
	for d := range seen {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

func notFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}
