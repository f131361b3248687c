package registry

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/airgap-charts/airgap-charts/registry/referrertest"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// plainCopy pushes a multi-arch image without referrers to src/plain:v1, copies it with a
// client of its own and returns what CopyReferrers needs.
func plainCopy(t *testing.T, src *registrytest.Registry, dst *refPeer) (ReferrerCopy, name.Repository, v1.Hash) {
	t.Helper()
	idx, _, _ := multiArch(t)
	pushIndex(t, src.Host+"/src/plain:v1", idx)
	s := MustParseImageRef(src.Host + "/src/plain:v1")
	d := MustParseImageRef(dst.host + "/mirror/src/plain:v1")
	cr, err := referrerClient(t, &refPeer{host: src.Host}, dst).Copy(context.Background(), s, d, PlatformAuto)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := idx.Digest()
	repo, err := name.NewRepository(s.Name(), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return ReferrerCopy{Source: s, Destination: d, Subjects: cr.Manifests}, repo, h
}

// A repository's tags are listed once per run: an image without referrers costs one
// listing and the API probe, no HEAD; a cosign signature pushed onto the same digest
// afterwards is listed by the next run's client, and copied.
func TestReferrerTagListingFindsLaterSignature(t *testing.T) {
	src := registrytest.New(t)
	dst := distributionPeer(t)
	rc, repo, index := plainCopy(t, src, dst)
	ctx := context.Background()
	src.Reset()
	rr, err := referrerClient(t, &refPeer{host: src.Host}, dst).CopyReferrers(ctx, rc, ReferrerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := src.Counts()
	if c[registrytest.ManifestHead] != 0 || c[registrytest.TagsList] != 1 || c[registrytest.ManifestGet] != 0 || len(rr.Copied) != 0 {
		t.Fatalf("first run: %v, copied %v; want 1 tag listing, no HEAD or GET, nothing copied", c, rr.Copied)
	}
	sig := referrertest.LegacySignature(t, repo, index, nil)
	src.Reset()
	rr, err = referrerClient(t, &refPeer{host: src.Host}, dst).CopyReferrers(ctx, rc, ReferrerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rr.Copied) != 1 || rr.Copied[0] != sig.String() {
		t.Fatalf("after a signature was added: copied %v, want %s", rr.Copied, sig)
	}
	if n := src.Count(registrytest.TagsList); n != 1 {
		t.Errorf("second run listed the repository %d times, want once", n)
	}
}

// A listing the source refuses, or one longer than maxTagListPages pages, is not used:
// every referrer tag is asked with a HEAD, as without listings, and a signature is found.
func TestReferrerTagListingFallsBackToHeads(t *testing.T) {
	for name, answer := range map[string]func(w http.ResponseWriter, r *http.Request){
		"refused": func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusForbidden) },
		"endless": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", fmt.Sprintf(`<%s?n=1&last=x%s>; rel="next"`, r.URL.Path, r.URL.Query().Get("last")))
			fmt.Fprintf(w, `{"name":"src/plain","tags":["v1"]}`)
		},
		"not json": func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "<html>") },
	} {
		t.Run(name, func(t *testing.T) {
			src := registrytest.New(t)
			dst := distributionPeer(t)
			rc, repo, index := plainCopy(t, src, dst)
			sig := referrertest.LegacySignature(t, repo, index, nil)
			src.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
				if !strings.HasSuffix(r.URL.Path, "/tags/list") {
					return false
				}
				answer(w, r)
				return true
			})
			src.Reset()
			rr, err := referrerClient(t, &refPeer{host: src.Host}, dst).CopyReferrers(context.Background(), rc, ReferrerOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(rr.Copied) != 1 || rr.Copied[0] != sig.String() {
				t.Fatalf("copied %v, want the signature %s", rr.Copied, sig)
			}
			lists := src.Count(registrytest.TagsList)
			if heads := src.Count(registrytest.ManifestHead); heads != 17 || lists < 1 || lists > maxTagListPages {
				t.Errorf("%d HEADs and %d listing pages, want 17 HEADs (3 manifests × 4 tags, the signature by digest and its own 4 tags) and 1 to %d pages", heads, lists, maxTagListPages)
			}
		})
	}
}

// copyThroughMirror copies a signed image from a mirror of origin.example (the mirror
// declared complete or not), then its referrers: the mirror's requests are counted from the
// referrer copy on. listing, when set, is what the mirror answers to a tag listing.
func copyThroughMirror(t *testing.T, complete bool, listing string) (*registrytest.Registry, ReferrersResult, string) {
	t.Helper()
	mirror := registrytest.New(t)
	dst := distributionPeer(t)
	idx, _, _ := multiArch(t)
	pushIndex(t, mirror.Host+"/src/plain:v1", idx)
	index, _ := idx.Digest()
	repo, err := name.NewRepository(mirror.Host+"/src/plain", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	sig := referrertest.LegacySignature(t, repo, index, nil)
	if listing != "" {
		mirror.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.HasSuffix(r.URL.Path, "/tags/list") {
				return false
			}
			fmt.Fprint(w, listing)
			return true
		})
	}
	opts := ClientOptions{Insecure: []string{mirror.Host, dst.host}, Mirrors: map[string]string{"origin.example": mirror.Host}}
	if complete {
		opts.CompleteMirrors = []string{"origin.example"}
	}
	c := newTestClient(t, opts)
	ctx := context.Background()
	s, d := MustParseImageRef("origin.example/src/plain:v1"), MustParseImageRef(dst.host+"/mirror/src/plain:v1")
	cr, err := c.Copy(ctx, s, d, PlatformAuto)
	if err != nil {
		t.Fatal(err)
	}
	mirror.Reset()
	rr, err := c.CopyReferrers(ctx, ReferrerCopy{Source: s, Destination: d, Subjects: cr.Manifests}, ReferrerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return mirror, rr, sig.String()
}

// A source pulled through a --registry-mirror is not listed: a pull-through cache may list
// only what it has cached, so its referrer tags are asked one by one (it fetches those
// upstream). Here the mirror lists the image's tag alone, and the signature is still found.
func TestReferrerTagsOfAMirrorAreAskedNotListed(t *testing.T) {
	mirror, rr, sig := copyThroughMirror(t, false, `{"name":"src/plain","tags":["v1"]}`) // what a cache holds: not the signature
	if len(rr.Copied) != 1 || rr.Copied[0] != sig {
		t.Fatalf("copied %v, want the signature %s", rr.Copied, sig)
	}
	if n := mirror.Count(registrytest.TagsList); n != 0 {
		t.Errorf("the mirror was listed %d times, want never", n)
	}
}

// A mirror declared complete (a replica, not a pull-through cache) is listed as its
// source would be: one listing, the signature it holds found through it.
func TestReferrerTagsOfACompleteMirrorAreListed(t *testing.T) {
	mirror, rr, sig := copyThroughMirror(t, true, "")
	if len(rr.Copied) != 1 || rr.Copied[0] != sig {
		t.Fatalf("copied %v, want the signature %s", rr.Copied, sig)
	}
	if n := mirror.Count(registrytest.TagsList); n != 1 {
		t.Errorf("the complete mirror was listed %d times, want once", n)
	}
	if _, err := NewClient(ClientOptions{Mirrors: map[string]string{"origin.example": mirror.Host}, CompleteMirrors: []string{"other.example"}}); err == nil {
		t.Error("a complete mirror without a registry mirror was accepted")
	}
}
