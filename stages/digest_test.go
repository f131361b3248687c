package stages

import (
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// FileDigest is the sha256 of the whole file at every size around its buffer's.
func TestFileDigestEverySize(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 4095, digestBuffer - 1, digestBuffer, digestBuffer + 1, 3*digestBuffer + 7} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(r.UintN(256))
		}
		p := filepath.Join(dir, "f")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if got, err := FileDigest(p); err != nil || got != "sha256:"+hex.EncodeToString(sum[:]) {
			t.Errorf("%d bytes: %s %v, want sha256:%x", n, got, err, sum)
		}
	}
	if _, err := FileDigest(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file has a digest")
	}
}
