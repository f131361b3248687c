package stages

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
)

// FileDigest is the "sha256:…" digest of the file at path: the one file digest of the
// tool (chart cache, run cache, archives checked again).
func FileDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
