package transport

import "testing"

// A pull budget reserves, after an index, one pull per child the copy pulls: every child
// (0), or one per platform asked for.
func TestPullsUnderPlatformChoice(t *testing.T) {
	body := []byte(`{"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[` +
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json"},{"mediaType":"application/vnd.oci.image.manifest.v1+json"},` +
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json"}]}`)
	for _, tc := range []struct{ children, want int }{{0, 3}, {1, 1}, {2, 2}} {
		if got := pullsUnder("", body, tc.children); got != tc.want {
			t.Errorf("%d children asked: %d pulls reserved, want %d", tc.children, got, tc.want)
		}
	}
}
