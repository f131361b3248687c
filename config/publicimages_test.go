package config

import (
	"path/filepath"
	"reflect"
	"testing"
)

func TestLoadChartOverridesPublicImages(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "chart-overrides.yaml", `overrides:
  karpenter:
    settings:
      clusterName: my-eks
public_images:
  karpenter:
    - quay.io/org/img
    - nginx:1.27
    - index.docker.io/bitnami/redis:7.2@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
  empty:
`)
	got, err := LoadChartOverrides(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Overrides{"karpenter": {"settings": map[string]any{"clusterName": "my-eks"}}}); !reflect.DeepEqual(got.Values, want) {
		t.Errorf("values %#v, want %#v", got.Values, want)
	}
	digest := "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	want := []PublicImage{
		{Ref: "quay.io/org/img", Name: "quay.io/org/img", Pos: Position{File: p, Line: 7}},
		{Ref: "nginx:1.27", Name: "docker.io/library/nginx", Tag: "1.27", Pos: Position{File: p, Line: 8}},
		{Ref: "index.docker.io/bitnami/redis:7.2@" + digest, Name: "docker.io/bitnami/redis", Tag: "7.2", Digest: digest, Pos: Position{File: p, Line: 9}},
	}
	if !reflect.DeepEqual(got.PublicImages["karpenter"], want) {
		t.Errorf("public images\n got %#v\nwant %#v", got.PublicImages["karpenter"], want)
	}
	if _, ok := got.PublicImages["empty"]; ok {
		t.Errorf("an empty list yields an entry: %#v", got.PublicImages)
	}
}

func TestPublicImagesAllows(t *testing.T) {
	ps := PublicImages{"c": {
		mustPublicImage(t, "quay.io/org/img"),
		mustPublicImage(t, "docker.io/nginx:1.27"),
		mustPublicImage(t, "ghcr.io/x/y@sha256:0123456789abcdef0123456789abcdef"),
	}}
	cases := []struct {
		chart, name, tag, digest string
		want                     bool
	}{
		{"c", "quay.io/org/img", "1.0", "", true},                                 // any tag
		{"c", "quay.io/org/img", "", "sha256:0123456789abcdef0123456789ab", true}, // any digest
		{"c", "quay.io/org/img2", "1.0", "", false},                               // another repository
		{"c", "quay.io/org", "1.0", "", false},                                    // a parent path
		{"c", "docker.io/library/nginx", "1.27", "", true},                        // docker.io forms folded
		{"c", "docker.io/library/nginx", "1.28", "", false},                       // another tag
		{"c", "docker.io/library/nginx", "1.27", "sha256:0123456789abcdef0123456789abcdef", false},
		{"c", "ghcr.io/x/y", "", "sha256:0123456789abcdef0123456789abcdef", true},
		{"c", "ghcr.io/x/y", "v1", "sha256:0123456789abcdef0123456789abcdef", false},
		{"other", "quay.io/org/img", "1.0", "", false}, // another chart's list
	}
	for _, tc := range cases {
		if got := ps.Allows(tc.chart, tc.name, tc.tag, tc.digest); got != tc.want {
			t.Errorf("Allows(%s, %s:%s@%s) = %v, want %v", tc.chart, tc.name, tc.tag, tc.digest, got, tc.want)
		}
	}
}

func mustPublicImage(t *testing.T, s string) PublicImage {
	t.Helper()
	p, err := parsePublicImage(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadChartOverridesPublicImagesInputErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct{ name, content, want string }{
		{"not-a-map", "public_images:\n  - quay.io/a/b\n", "not-a-map.yaml:2: public_images must map chart names to lists of image references"},
		{"not-a-list", "public_images:\n  karpenter: quay.io/a/b\n", `not-a-list.yaml:2: public_images for chart "karpenter" must be a list of image references`},
		{"entry-map", "public_images:\n  karpenter:\n    - quay.io/a/b\n    - {image: x}\n", `entry-map.yaml:4: public_images for chart "karpenter": each entry is an image reference string (e.g. quay.io/org/img:1.0)`},
		{"uppercase", "public_images:\n  karpenter:\n    - quay.io/Org/img:1\n", `uppercase.yaml:3: public_images for chart "karpenter": image reference "quay.io/Org/img:1": bad repository path component "Org" (lowercase letters, digits and . _ - separators)`},
		{"bad-tag", "public_images:\n  c:\n\n    - \"quay.io/a/b:v1+x\"\n", `bad-tag.yaml:4: public_images for chart "c": image reference "quay.io/a/b:v1+x": bad tag "v1+x"`},
		{"bad-digest", "public_images:\n  c:\n    - quay.io/a/b@sha256:xyz\n", `bad-digest.yaml:3: public_images for chart "c": image reference "quay.io/a/b@sha256:xyz": bad digest "sha256:xyz" (want sha256:<hex>)`},
		{"scheme", "public_images:\n  c:\n    - https://quay.io/a/b\n", `scheme.yaml:3: public_images for chart "c": image reference "https://quay.io/a/b": give host/repository[:tag], without a scheme`},
		{"empty", "public_images:\n  c:\n    - \"\"\n", `empty.yaml:3: public_images for chart "c": empty image reference`},
		{"unknown-key", "overrides: {}\npublic_image:\n  c: []\n", `unknown-key.yaml:2: unknown key "public_image" (chart-overrides.yaml holds ` + "`overrides:` and `public_images:`)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadChartOverrides(writeFile(t, dir, tc.name+".yaml", tc.content))
			want := dir + string(filepath.Separator) + tc.want
			if err == nil || err.Error() != want || !IsInputError(err) {
				t.Fatalf("error %v\n want InputError %s", err, want)
			}
		})
	}
}
