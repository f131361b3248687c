package engine

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// awkwardLockStrings read as something else than themselves when written plain, or need
// escapes, or sit at the edge of what is written plain.
var awkwardLockStrings = []string{
	"", " ", "a", "y", "Y", "n", "N", "yes", "No", "ON", "off", "true", "False", "TRUE", "null", "Null", "NULL", "nULl", "~",
	"1", "0", "-1", "+1", "1.0", "1.0.3", "v1.0.3", "0x1f", "0o17", "017", "1e3", "1_000", ".inf", "-.INF", ".nan", "NaN", "Infinity",
	"2001-01-01", "2001-12-14t21:59:43.10-05:00", "1:20", "a:", "a:b", "a: b", "a :b", "a #b", "a#b", "#x", ":x", "-", "- x", "-x", "?", "? x",
	"@x", "`x", "!x", "&x", "*x", "|", ">", "[a]", "{a: b}", "a,b", "%x", "<<", "=",
	`it's`, `'`, `''`, `"`, `say "hi"`, `back\slash`, `\`, `\n`, `\x41`, "a\nb", "\n", "tab\there", "\t", "cr\r", "\r\n",
	" lead", "trail ", "  both  ", "ünï", "日本語", "😀", "\u0085x", "\u00a0", "x\u2028y", "\u2029", "\ufeff", "\ufffd", "\x00", "\x01", "\x1b", "\x7f", "\u0080",
	"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "quay.io/org/app:1.2.3", "https://charts.example.com/x", "oci://reg.example/charts",
	"reg.example:5000/a/b@sha256:aa", "linux/arm64/v8", "a_b+c-d.e",
}

// lockString is an awkward string, or a few run together, or random characters.
func lockString(r *rand.Rand) string {
	switch r.IntN(4) {
	case 0:
		return awkwardLockStrings[r.IntN(len(awkwardLockStrings))]
	case 1, 2:
		var b strings.Builder
		for n := r.IntN(3) + 1; n > 0; n-- {
			b.WriteString(awkwardLockStrings[r.IntN(len(awkwardLockStrings))])
		}
		return b.String()
	}
	const chars = "aZ09._/:@+- #'\"\\\n\t\r,[]{}!&*|>%?~`\x00\x1f\x7fé日😀\u0085\u2028\ufeff\u00a0"
	runes := []rune(chars)
	out := make([]rune, r.IntN(8))
	for i := range out {
		out[i] = runes[r.IntN(len(runes))]
	}
	return string(out)
}

// genLock is a lock of awkward strings: no addon, or a few with no image or a few, some
// with a platform.
func genLock(r *rand.Rand) *Lock {
	l := &Lock{SchemaVersion: LockSchemaVersion}
	for n := r.IntN(5); n > 0; n-- {
		a := LockAddon{Name: lockString(r), Chart: lockString(r), Repository: lockString(r), Version: lockString(r), Digest: lockString(r), Inputs: lockString(r)}
		for m := r.IntN(4); m > 0; m-- {
			img := LockImage{Source: lockString(r), Digest: lockString(r), Destination: lockString(r)}
			if r.IntN(2) == 0 {
				img.Platform, img.PlatformDigest = lockString(r), lockString(r)
			}
			a.Images = append(a.Images, img)
		}
		l.Addons = append(l.Addons, a)
	}
	uniqueLockKeys(l)
	return l
}

// uniqueLockKeys makes the addon names, and each addon's image source and destination
// pairs, unique (as a run's are), so that the written order is the same whatever the order
// given.
func uniqueLockKeys(l *Lock) {
	names := map[string]bool{}
	for i := range l.Addons {
		a := &l.Addons[i]
		for names[a.Name] {
			a.Name += "+"
		}
		names[a.Name] = true
		pairs := map[[2]string]bool{}
		for j := range a.Images {
			img := &a.Images[j]
			for pairs[[2]string{img.Source, img.Destination}] {
				img.Destination += "+"
			}
			pairs[[2]string{img.Source, img.Destination}] = true
		}
	}
}

// benchLock is a lock of addons addons with images images each, its strings as a real
// run's.
func benchLock(addons, images int) *Lock {
	l := &Lock{SchemaVersion: LockSchemaVersion}
	for i := range addons {
		a := LockAddon{Name: fmt.Sprintf("addon-%03d", i), Chart: fmt.Sprintf("chart-%03d", i), Repository: fmt.Sprintf("https://charts.example.com/team-%d", i%7),
			Version: fmt.Sprintf("1.%d.%d", i%13, i%5), Digest: fakeDigest("chart", i), Inputs: fakeDigest("inputs", i)}
		for j := range images {
			src := fmt.Sprintf("quay.io/org-%d/app-%03d-%d:v2.%d.0", i%9, i, j, j)
			a.Images = append(a.Images, LockImage{Source: src, Digest: fakeDigest(src, j),
				Destination: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mirror/" + src})
		}
		l.Addons = append(l.Addons, a)
	}
	return l
}

func fakeDigest(s string, i int) string {
	h := fmt.Sprintf("%x", []byte(fmt.Sprintf("%s/%d", s, i)))
	for len(h) < 64 {
		h += h
	}
	return "sha256:" + h[:64]
}

// yamlV3Lock is l sorted as written, in yaml.v3's layout (the format before the block
// writer): header, then yaml.v3 with the given indent.
func yamlV3Lock(t testing.TB, l *Lock, indent int) []byte {
	t.Helper()
	c := l.sorted()
	var b bytes.Buffer
	b.WriteString(lockHeader)
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(indent)
	if err := enc.Encode(c); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// readLockTwoParses is ReadLock as it was before the fast reader: the head parsed for the
// schema, then the whole lock decoded refusing unknown fields.
func readLockTwoParses(path string, data []byte) (*Lock, error) {
	var head struct {
		SchemaVersion int `yaml:"schema_version"`
	}
	if err := yaml.Unmarshal(data, &head); err != nil {
		return nil, (&LockError{Path: path, Msg: fmt.Sprintf("not a lock file: %v", err)}).inputError()
	}
	if err := checkLockSchema(path, head.SchemaVersion); err != nil {
		return nil, err
	}
	var l Lock
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&l); err != nil {
		return nil, (&LockError{Path: path, Msg: fmt.Sprintf("not a lock file: %v", err)}).inputError()
	}
	return &l, nil
}

// decodeLockV3 is data decoded by yaml.v3 refusing unknown fields.
func decodeLockV3(data []byte) (*Lock, error) {
	var l Lock
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&l); err != nil {
		return nil, err
	}
	return &l, nil
}

func writeLockBytes(t testing.TB, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), LockFileName)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
