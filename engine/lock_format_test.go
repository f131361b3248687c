package engine

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLockFormatSortedAndRoundTrips: the same lock in any order marshals to the same
// bytes, schema first; it reads back equal; a field this schema does not know is refused.
func TestLockFormatSortedAndRoundTrips(t *testing.T) {
	a := LockAddon{Name: "a", Chart: "a", Repository: "https://r", Version: "1.0.0", Digest: "sha256:aa", Inputs: "sha256:in-a", Images: []LockImage{
		{Source: "quay.io/x:2", Digest: "sha256:x2", Destination: "reg/x:2"},
		{Source: "quay.io/x:1", Digest: "sha256:x1", Destination: "reg/x:1"},
	}}
	b := LockAddon{Name: "b", Chart: "b", Repository: "https://r", Version: "2.0.0", Digest: "sha256:bb", Inputs: "sha256:in-b"}
	one, err := (&Lock{Addons: []LockAddon{b, a}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	a.Images[0], a.Images[1] = a.Images[1], a.Images[0]
	two, err := (&Lock{Addons: []LockAddon{a, b}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(one, two) {
		t.Fatalf("the order of addons or images changed the bytes:\n%s\n---\n%s", one, two)
	}
	body := string(one)
	if i, j, k := strings.Index(body, "schema_version: 2"), strings.Index(body, "- name: a"), strings.Index(body, "- name: b"); i < 0 || i > j || j > k {
		t.Errorf("not schema first, addons sorted:\n%s", body)
	}
	if strings.Index(body, "quay.io/x:1") > strings.Index(body, "quay.io/x:2") {
		t.Errorf("images not sorted:\n%s", body)
	}
	path := filepath.Join(t.TempDir(), LockFileName)
	if err := WriteLock(path, &Lock{Addons: []LockAddon{a, b}}); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("lock file mode: %v %v", st.Mode(), err)
	}
	back := mustReadLock(t, path)
	if back.addon("b").Inputs != "sha256:in-b" || len(back.Addons) != 2 || back.addon("a").image("quay.io/x:1", "reg/x:1") == nil {
		t.Errorf("read back %+v", back)
	}
	if err := os.WriteFile(path, append(one, []byte("extra: field\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadLock(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("a lock with an unknown field: %v", err)
	}
}
