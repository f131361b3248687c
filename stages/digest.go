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
	// A buffer the size of a small file (charts and values files are a few KiB), not
	// io.Copy's 32 KiB for each of the hundreds of files a rerun checks.
	size := int64(digestBuffer)
	if st, err := f.Stat(); err == nil && st.Size() < size {
		size = st.Size() + 1 // +1: the read that sees the end
	}
	if _, err := io.CopyBuffer(h, struct{ io.Reader }{f}, make([]byte, size)); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// digestBuffer is the largest read buffer FileDigest uses.
const digestBuffer = 32 << 10
