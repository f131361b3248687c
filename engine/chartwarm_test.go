package engine

import "testing"

// A chart reference names the tag Helm pushes it under: "+" of the version as "_"; a
// reference without a tag, or with a digest, names none.
func TestChartTagRef(t *testing.T) {
	ref, ok := chartTagRef("oci://127.0.0.1:5000/mirror/charts/app:1.2.3+build.4")
	if !ok || ref.Registry != "127.0.0.1:5000" || ref.Repository != "mirror/charts/app" || ref.Tag != "1.2.3_build.4" || ref.Digest != "" {
		t.Fatalf("got %+v, %t", ref, ok)
	}
	for _, bad := range []string{"oci://127.0.0.1:5000/mirror/app", "oci://host/app@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", ""} {
		if r, ok := chartTagRef(bad); ok {
			t.Errorf("%q: got %+v", bad, r)
		}
	}
}
