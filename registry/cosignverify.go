package registry

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// maxSignatureBytes bounds a signature payload or bundle read from a registry.
const maxSignatureBytes = 1 << 20

// SignatureVerifier checks cosign signatures of images against public keys (cosign.pub
// files): the legacy simple-signing signature (sha256-<hex>.sig) and sigstore bundles
// (v0.3, DSSE envelope) attached as referrers. An image verifies when one signature of it
// verifies against one key. Keys only: no certificate, transparency log or timestamp.
type SignatureVerifier struct{ keys []verifyKey }

type verifyKey struct {
	path string
	pem  []byte
	v    signature.Verifier
}

// LoadSignatureVerifier reads the public key files.
func LoadSignatureVerifier(paths []string) (*SignatureVerifier, error) {
	sv := &SignatureVerifier{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("--verify-signatures %s: %w", p, err)
		}
		pub, err := cryptoutils.UnmarshalPEMToPublicKey(data)
		if err != nil {
			return nil, fmt.Errorf("--verify-signatures %s: not a PEM public key: %w", p, err)
		}
		v, err := signature.LoadVerifier(pub, crypto.SHA256)
		if err != nil {
			return nil, fmt.Errorf("--verify-signatures %s: %w", p, err)
		}
		sv.keys = append(sv.keys, verifyKey{path: p, pem: data, v: v})
	}
	if len(sv.keys) == 0 {
		return nil, fmt.Errorf("--verify-signatures: no key given")
	}
	return sv, nil
}

// KeyPEMs are the keys as given, for a policy that checks the same signatures.
func (sv *SignatureVerifier) KeyPEMs() [][]byte {
	var out [][]byte
	for _, k := range sv.keys {
		out = append(out, k.pem)
	}
	return out
}

// verify returns the path of a key data's signature sig (base64) verifies against, or "".
func (sv *SignatureVerifier) verify(sig string, data []byte) string {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(sig))
	if err != nil {
		return ""
	}
	for _, k := range sv.keys {
		if k.v.VerifySignature(bytes.NewReader(raw), bytes.NewReader(data)) == nil {
			return k.path
		}
	}
	return ""
}

// Verification says how an image's signatures were checked.
type Verification struct {
	Digest string `json:"digest"`
	// By is the signature that verified: "cosign-tag sha256-….sig (key FILE)" or
	// "sigstore-bundle sha256:… (key FILE)".
	By string `json:"verified_by"`
	// Checked is the signatures looked at; Requests the discovery requests spent.
	Checked  int   `json:"checked"`
	Requests int64 `json:"discovery_requests"`
}

// VerifySignatures checks src's signatures (of the digest its reference resolves to at the
// source) against sv's keys; it fails, naming the image and why, when none verifies.
func (c *Client) VerifySignatures(ctx context.Context, src ImageRef, sv *SignatureVerifier) (Verification, error) {
	digest := src.Digest
	if digest == "" {
		d, err := c.SourceDigest(ctx, src, PlatformAuto)
		if err != nil {
			return Verification{}, fmt.Errorf("verify %s: %w", src, err)
		}
		digest = d
	}
	h, err := v1.NewHash(digest)
	if err != nil {
		return Verification{}, fmt.Errorf("verify %s: %w", src, err)
	}
	ref, err := c.pullRef(src)
	if err != nil {
		return Verification{}, err
	}
	repo := ref.Context()
	var cost atomic.Int64
	refs, err := c.discoverReferrers(ctx, repo, h, ReferrerOptions{Mode: ReferrersSignatures, MaxDepth: 1}, &cost)
	res := Verification{Digest: digest, Requests: cost.Load()}
	if err != nil {
		return res, fmt.Errorf("verify %s: %w", src, err)
	}
	var why []string
	for _, r := range refs {
		res.Checked++
		by, reason, err := c.verifyOne(ctx, repo, h, r, sv)
		if err != nil {
			return res, fmt.Errorf("verify %s: %w", src, err)
		}
		if by != "" {
			res.By = by
			return res, nil
		}
		why = append(why, reason)
	}
	if len(refs) == 0 {
		return res, fmt.Errorf("verify %s@%s: no cosign signature found (neither %s.sig nor a signature referrer)", src, digest, fallbackTag(h))
	}
	return res, fmt.Errorf("verify %s@%s: no signature verifies against the given keys: %s", src, digest, strings.Join(why, "; "))
}

// verifyOne checks one signature artifact; by names it when it verifies, else reason says
// why not. err is for what could not be read.
func (c *Client) verifyOne(ctx context.Context, repo name.Repository, subject v1.Hash, r Referrer, sv *SignatureVerifier) (by, reason string, err error) {
	got, err := c.puller.Get(ctx, repo.Digest(r.Descriptor.Digest.String()))
	if err != nil {
		return "", "", fmt.Errorf("pull signature %s: %w", r.Descriptor.Digest, err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(got.Manifest))
	if err != nil {
		return "", fmt.Sprintf("%s is not an image manifest", r.Descriptor.Digest), nil
	}
	for _, l := range m.Layers {
		switch {
		case l.MediaType == CosignSimpleSigning && l.Annotations[CosignSignatureAnnotation] != "":
			data, err := c.readSmallBlob(ctx, repo, l.Digest)
			if err != nil {
				return "", "", err
			}
			var p payload.SimpleContainerImage
			if err := json.Unmarshal(data, &p); err != nil || p.Critical.Image.DockerManifestDigest != subject.String() {
				reason = fmt.Sprintf("%s signs another digest (%q)", r.Tag, p.Critical.Image.DockerManifestDigest)
				continue
			}
			if key := sv.verify(l.Annotations[CosignSignatureAnnotation], data); key != "" {
				return fmt.Sprintf("cosign-tag %s (key %s)", r.Tag, key), "", nil
			}
			reason = fmt.Sprintf("%s: signature does not verify", r.Tag)
		case strings.HasPrefix(string(l.MediaType), "application/vnd.dev.sigstore.bundle"):
			data, err := c.readSmallBlob(ctx, repo, l.Digest)
			if err != nil {
				return "", "", err
			}
			key, why := verifyBundle(data, subject, sv)
			if key != "" {
				return fmt.Sprintf("sigstore-bundle %s (key %s)", r.Descriptor.Digest, key), "", nil
			}
			reason = fmt.Sprintf("bundle %s: %s", r.Descriptor.Digest, why)
		}
	}
	if reason == "" {
		reason = fmt.Sprintf("%s holds no signature this tool reads", r.Descriptor.Digest)
	}
	return "", reason, nil
}

// verifyBundle checks a sigstore bundle's DSSE envelope: an in-toto statement naming
// subject, signed with one of the keys.
func verifyBundle(data []byte, subject v1.Hash, sv *SignatureVerifier) (key, why string) {
	var b struct {
		DSSE *struct {
			Payload     string `json:"payload"`
			PayloadType string `json:"payloadType"`
			Signatures  []struct {
				Sig string `json:"sig"`
			} `json:"signatures"`
		} `json:"dsseEnvelope"`
	}
	if err := json.Unmarshal(data, &b); err != nil || b.DSSE == nil {
		return "", "not a bundle with a DSSE envelope (message signatures are not read)"
	}
	body, err := base64.StdEncoding.DecodeString(b.DSSE.Payload)
	if err != nil {
		return "", "envelope payload is not base64"
	}
	var st struct {
		Subject []struct {
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return "", "envelope payload is not an in-toto statement"
	}
	named := false
	for _, s := range st.Subject {
		if s.Digest[subject.Algorithm] == subject.Hex {
			named = true
		}
	}
	if !named {
		return "", "the statement does not name " + subject.String()
	}
	pae := dsse.PAE(b.DSSE.PayloadType, body)
	for _, s := range b.DSSE.Signatures {
		if k := sv.verify(s.Sig, pae); k != "" {
			return k, ""
		}
	}
	return "", "signature does not verify"
}

func (c *Client) readSmallBlob(ctx context.Context, repo name.Repository, d v1.Hash) ([]byte, error) {
	l, err := c.puller.Layer(ctx, repo.Digest(d.String()))
	if err != nil {
		return nil, fmt.Errorf("signature blob %s: %w", d, err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, fmt.Errorf("pull signature blob %s: %w", d, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxSignatureBytes+1))
	if err != nil {
		return nil, fmt.Errorf("pull signature blob %s: %w", d, err)
	}
	if len(data) > maxSignatureBytes {
		return nil, fmt.Errorf("signature blob %s is larger than %d bytes", d, maxSignatureBytes)
	}
	return data, nil
}
