package engine

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestLockYAMLRoundTrips: a lock of awkward strings marshals to bytes yaml.v3 decodes to
// the very lock (sorted), that the fast reader takes and reads to it too, that ReadLock
// reads to it, and that do not depend on the order of addons or images.
func TestLockYAMLRoundTrips(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 400 {
		l := genLock(r)
		want := l.sorted()
		out, err := l.Marshal()
		if err != nil {
			t.Fatalf("lock %d: %v", i, err)
		}
		v3, err := decodeLockV3(out)
		if err != nil || !reflect.DeepEqual(*v3, want) {
			t.Fatalf("lock %d: yaml.v3 reads\n%+v (%v)\nwant\n%+v\nfrom\n%s", i, v3, err, want, out)
		}
		fast, ok := readLockFast(out)
		if !ok || !reflect.DeepEqual(*fast, want) {
			t.Fatalf("lock %d: the fast reader reads (taken %v)\n%+v\nwant\n%+v\nfrom\n%s", i, ok, fast, want, out)
		}
		if got := mustReadLock(t, writeLockBytes(t, out)); !reflect.DeepEqual(*got, want) {
			t.Fatalf("lock %d: ReadLock reads %+v, want %+v", i, got, want)
		}
		r.Shuffle(len(l.Addons), func(a, b int) { l.Addons[a], l.Addons[b] = l.Addons[b], l.Addons[a] })
		if again, _ := l.Marshal(); !bytes.Equal(again, out) {
			t.Fatalf("lock %d: the order of addons changed the bytes:\n%s\n---\n%s", i, out, again)
		}
		if again, _ := fast.Marshal(); !bytes.Equal(again, out) {
			t.Fatalf("lock %d: marshalled again after reading:\n%s\n---\n%s", i, out, again)
		}
	}
}

// TestLockYAMLPlainOnlyWhenAString: a string written plain is read as that very string
// (not a number, boolean, null or date) by yaml.v3 into an untyped value; numbers, YAML 1.1
// booleans, dates and indicators are quoted.
func TestLockYAMLPlainOnlyWhenAString(t *testing.T) {
	for _, s := range []string{"1.0.3", "0x1f", "1e3", ".inf", "2001-01-01", "yes", "No", "ON", "y", "N", "null", "~", "a:", "a b", "a#b", "", "-x", "1:20"} {
		if lockPlainSafe(s) {
			t.Errorf("%q would be written plain", s)
		}
	}
	for _, s := range []string{"sha256:9f86d0", "quay.io/org/app:1.2.3", "https://charts.example.com", "v1.0.3", "linux/arm64", "a_b+c-d.e", "nully", "yess"} {
		if !lockPlainSafe(s) {
			t.Errorf("%q would be quoted", s)
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 5000 {
		s := lockString(r)
		if !lockPlainSafe(s) {
			continue
		}
		var m map[string]any
		if err := yaml.Unmarshal([]byte("k: "+s+"\n"), &m); err != nil || m["k"] != s {
			t.Errorf("plain %q reads as %#v (%v)", s, m["k"], err)
		}
	}
}

// TestLockYAMLReadsTheOldFormat: a lock yaml.v3 wrote (the format before this writer)
// reads to the same lock; one of plain digests, versions and references takes the fast
// reader.
func TestLockYAMLReadsTheOldFormat(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	same := 0
	for i := range 300 {
		l := genLock(r)
		old := yamlV3Lock(t, l, 2)
		// What the old file means is what yaml.v3 reads from it: for a few strings (a line
		// separator, a trailing no-break space) that is not what yaml.v3 was given.
		// Some (a tab after a line break) it wrote and cannot read: no such lock was used.
		want, err := decodeLockV3(old)
		if err != nil {
			continue
		}
		if got := mustReadLock(t, writeLockBytes(t, old)); !reflect.DeepEqual(got, want) {
			t.Fatalf("lock %d: ReadLock reads %+v, yaml.v3 %+v from\n%s", i, got, want, old)
		}
		if reflect.DeepEqual(*want, l.sorted()) {
			same++
		}
	}
	if same < 200 {
		t.Errorf("only %d of 300 old locks read back as written", same)
	}
	l := benchLock(20, 3)
	l.Addons[3].Images[1].Platform, l.Addons[3].Images[1].PlatformDigest = "linux/arm64", fakeDigest("child", 1)
	l.Addons[5].Images = nil
	want := l.sorted()
	old := yamlV3Lock(t, l, 2)
	if got, ok := readLockFast(old); !ok || !reflect.DeepEqual(*got, want) {
		t.Errorf("the fast reader took %v an old lock to %+v", ok, got)
	}
	if !bytes.Contains(old, []byte("version: 1.3.3\n")) {
		t.Errorf("yaml.v3 no longer writes a version plain:\n%s", old)
	}
	schema1 := append([]byte(lockHeader), "schema_version: 1\ninputs: sha256:all\naddons: []\n"...)
	if got, ok := readLockFast(schema1); !ok || got.Inputs != "sha256:all" || got.SchemaVersion != 1 || got.Addons == nil {
		t.Errorf("schema 1 lock read %v as %+v", ok, got)
	}
}

// TestLockYAMLHandEdited: a lock edited by hand out of the written layout (a comment
// inside, another indent, flow style, CRLF, quoting yaml.v3 takes) is left to yaml.v3 by
// the fast reader and still reads to the same lock.
func TestLockYAMLHandEdited(t *testing.T) {
	l := benchLock(3, 2)
	l.Addons[1].Images[0].Platform = "linux/arm64"
	want := l.sorted()
	out, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	body := string(out)
	flow := lockHeader + "schema_version: 2\naddons: ["
	for i, a := range want.Addons {
		if i > 0 {
			flow += ", "
		}
		flow += "{name: " + a.Name + ", chart: " + a.Chart + ", repository: '" + a.Repository + "', version: \"" + a.Version + "\", digest: " + a.Digest + ", inputs: " + a.Inputs + ", images: ["
		for j, img := range a.Images {
			if j > 0 {
				flow += ", "
			}
			flow += "{source: " + img.Source + ", digest: " + img.Digest
			if img.Platform != "" {
				flow += ", platform: " + img.Platform
			}
			flow += ", destination: " + img.Destination + "}"
		}
		flow += "]}"
	}
	flow += "]\n"
	for name, edited := range map[string]string{
		"comment inside":   strings.Replace(body, "  - name: addon-001\n", "  # the second addon\n  - name: addon-001\n", 1),
		"trailing comment": strings.Replace(body, "    chart: chart-001\n", "    chart: chart-001 # pinned\n", 1),
		"blank line":       strings.Replace(body, "addons:\n", "addons:\n\n", 1),
		"4-space indent":   string(yamlV3Lock(t, l, 4)),
		"flow style":       flow,
		"CRLF":             strings.ReplaceAll(body, "\n", "\r\n"),
		"no last newline":  strings.TrimSuffix(body, "\n"),
		"document marker":  "---\n" + body,
		"fields reordered": strings.Replace(body, "    chart: chart-001\n    repository: https://charts.example.com/team-1\n", "    repository: https://charts.example.com/team-1\n    chart: chart-001\n", 1),
		"single-quoted":    strings.Replace(body, "    chart: chart-001\n", "    chart: 'chart-001'\n", 1),
		"tab in quotes":    strings.Replace(body, "    chart: chart-001\n", "    chart: \"chart-\t001\"\n", 1),
	} {
		t.Run(name, func(t *testing.T) {
			if edited == body {
				t.Fatal("the edit did not apply")
			}
			_, fast := readLockFast([]byte(edited))
			if fast != (name == "single-quoted") {
				t.Errorf("fast reader taken: %v", fast)
			}
			got := mustReadLock(t, writeLockBytes(t, []byte(edited)))
			w := want
			if name == "tab in quotes" {
				w = l.sorted()
				w.Addons[1].Chart = "chart-\t001"
			}
			if !reflect.DeepEqual(*got, w) {
				t.Errorf("read %+v, want %+v from\n%s", got, w, edited)
			}
		})
	}
}

// TestLockYAMLRefusesAsBefore: a lock refused (newer schema, with or without fields this
// build does not know; no schema_version; an unknown field; a duplicate key; no YAML) is
// refused with the same message as when the head was parsed first, naming the file; what
// was read is read the same.
func TestLockYAMLRefusesAsBefore(t *testing.T) {
	good, err := benchLock(2, 1).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	body := string(good)
	for name, data := range map[string]string{
		"newer schema":               strings.Replace(body, "schema_version: 2", "schema_version: 7", 1),
		"newer schema, new field":    strings.Replace(body, "schema_version: 2", "schema_version: 7\nsigned_by: x", 1),
		"newer schema, flow":         "{schema_version: 3, addons: []}\n",
		"no schema_version":          strings.Replace(body, "schema_version: 2\n", "", 1),
		"schema 0":                   strings.Replace(body, "schema_version: 2", "schema_version: 0", 1),
		"unknown field":              body + "extra: field\n",
		"unknown addon field":        strings.Replace(body, "    chart: chart-001\n", "    chart: chart-001\n    owner: me\n", 1),
		"duplicate key":              strings.Replace(body, "    chart: chart-001\n", "    chart: chart-001\n    chart: chart-002\n", 1),
		"bad escape":                 strings.Replace(body, "    chart: chart-001\n", "    chart: \"a\\qb\"\n", 1),
		"surrogate":                  strings.Replace(body, "    chart: chart-001\n", "    chart: \"\\ud800\"\n", 1),
		"not yaml":                   "addons: [\n",
		"schema a string":            strings.Replace(body, "schema_version: 2", "schema_version: two", 1),
		"empty":                      "",
		"addons null":                lockHeader + "schema_version: 2\naddons:\n",
		"escapes":                    strings.Replace(body, "    chart: chart-001\n", "    chart: \"\\x41\\u00e9\\U0001F600\\N\\_\\0\\e\\\"\\\\\\/\"\n", 1),
		"null chart":                 strings.Replace(body, "    chart: chart-001\n", "    chart: null\n", 1),
		"anchor and alias":           strings.Replace(strings.Replace(body, "    chart: chart-001\n", "    chart: &c chart-001\n", 1), "    version: 1.1.1\n", "    version: *c\n", 1),
		"schema 1 with inputs":       strings.Replace(body, "schema_version: 2\n", "schema_version: 1\ninputs: sha256:all\n", 1),
		"good":                       body,
		"good, single-quoted escape": strings.Replace(body, "    chart: chart-001\n", "    chart: 'it''s'\n", 1),
	} {
		t.Run(name, func(t *testing.T) {
			path := writeLockBytes(t, []byte(data))
			got, err := ReadLock(path)
			was, wasErr := readLockTwoParses(path, []byte(data))
			if (err == nil) != (wasErr == nil) || err != nil && err.Error() != wasErr.Error() {
				t.Fatalf("error\n%v\nwas\n%v", err, wasErr)
			}
			if err != nil && !strings.Contains(err.Error(), path) {
				t.Errorf("error %v does not name the file", err)
			}
			if !reflect.DeepEqual(got, was) {
				t.Errorf("read %+v, was %+v", got, was)
			}
		})
	}
}

// TestLockYAMLFastReaderAgreesWithYAMLv3: a written lock mutated line by line (lines
// dropped, doubled, swapped, reindented, characters changed) is either left to yaml.v3 by
// the fast reader or read by it to what yaml.v3 reads.
func TestLockYAMLFastReaderAgreesWithYAMLv3(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	taken := 0
	for range 3000 {
		out, err := genLock(r).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		data := mutateLock(r, out)
		fast, ok := readLockFast(data)
		if !ok {
			continue
		}
		taken++
		v3, err := decodeLockV3(data)
		if err != nil || !reflect.DeepEqual(fast, v3) {
			t.Fatalf("the fast reader read\n%+v\nyaml.v3\n%+v (%v)\nfrom\n%s", fast, v3, err, data)
		}
	}
	if taken == 0 {
		t.Error("the fast reader took no mutated lock")
	}
}

// mutateLock changes one line of data: drops, doubles or reindents it, swaps it with the
// next, or puts a character into it.
func mutateLock(r *rand.Rand, data []byte) []byte {
	lines := strings.SplitAfter(string(data), "\n")
	i := r.IntN(len(lines))
	switch r.IntN(5) {
	case 0:
		lines = append(lines[:i], lines[i+1:]...)
	case 1:
		lines = append(lines[:i+1], lines[i:]...)
	case 2:
		lines[i] = strings.Repeat(" ", r.IntN(3)) + strings.TrimLeft(lines[i], " "[:r.IntN(2)])
	case 3:
		if i+1 < len(lines) {
			lines[i], lines[i+1] = lines[i+1], lines[i]
		}
	default:
		const chars = " #:'\"\\-[]{}&*!|>\tx0"
		if l := lines[i]; l != "" {
			j := r.IntN(len(l))
			lines[i] = l[:j] + string(chars[r.IntN(len(chars))]) + l[j:]
		}
	}
	return []byte(strings.Join(lines, ""))
}

// FuzzLockFastReader: whatever the fast reader takes, yaml.v3 reads to the same lock.
func FuzzLockFastReader(f *testing.F) {
	r := rand.New(rand.NewPCG(9, 10))
	for range 20 {
		out, _ := genLock(r).Marshal()
		f.Add(out)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ok := readLockFast(data)
		if !ok {
			return
		}
		if v3, err := decodeLockV3(data); err != nil || !reflect.DeepEqual(fast, v3) {
			t.Fatalf("the fast reader read %+v, yaml.v3 %+v (%v)", fast, v3, err)
		}
	})
}

// TestLockYAMLScalarsAgree: a value the fast reader takes it reads as yaml.v3 does; the
// ones yaml.v3 reads otherwise than literally, or refuses, it leaves to yaml.v3.
func TestLockYAMLScalarsAgree(t *testing.T) {
	good, err := benchLock(2, 1).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	taken := map[string]string{
		`1.0`: "1.0", `0x1f`: "0x1f", `true`: "true", `a:b`: "a:b", `"null"`: "null", `""`: "", `''`: "",
		`"a\x41\u00e9\U0001F600\N\_\0\e\"\\\ \t\n\r\L\P"`: "aAé😀\u0085\u00a0\x00\x1b\"\\ \t\n\r\u2028\u2029",
		`"\U0010FFFF"`: "\U0010FFFF", `'it''s'`: "it's", `''''`: "'", `'a "b" \n'`: `a "b" \n`, `"#x: y"`: "#x: y", `" x "`: " x ",
	}
	left := []string{
		`chart-001:`, `null`, `nULl`, `NULL`, `Null`, `~`, `"\U00110000"`, `"\ud800"`, `"\x4"`, `"\/"`, `"a\"`, `"a"b"`, `'a'b'`, `"open`, `'open`,
		`&a x`, `*a`, `!!str x`, `[a]`, `{a: b}`, `|`, `>`, `x # c`, `x #c`, `"x" # c`, `-x`, `- x`, `?x`, `@x`, `%x`, "`x", `x `, ` x`,
		`"a` + "\t" + `b"`, `'` + "\u2028" + `'`, `"é` + "\u0085" + `"`,
	}
	read := func(v string) (fast *Lock, ok bool, v3 *Lock, err error) {
		data := []byte(strings.Replace(string(good), "    chart: chart-001\n", "    chart: "+v+"\n", 1))
		fast, ok = readLockFast(data)
		v3, err = decodeLockV3(data)
		return
	}
	for v, want := range taken {
		fast, ok, v3, err := read(v)
		if !ok {
			t.Errorf("%s: the fast reader left it; yaml.v3 reads %+v (%v)", v, v3.addon("addon-001"), err)
		} else if got := fast.addon("addon-001").Chart; got != want || err != nil || !reflect.DeepEqual(fast, v3) {
			t.Errorf("%s: the fast reader read %q, want %q; yaml.v3 %+v (%v)", v, got, want, v3.addon("addon-001"), err)
		}
	}
	for _, v := range left {
		if _, ok, v3, err := read(v); ok {
			t.Errorf("%s: the fast reader took it; yaml.v3 reads %+v (%v)", v, v3.addon("addon-001"), err)
		}
	}
}

// TestLockYAMLNotUTF8: a string that is not UTF-8 is written by yaml.v3 (as !!binary) and
// reads back as itself.
func TestLockYAMLNotUTF8(t *testing.T) {
	l := benchLock(2, 1)
	l.Addons[1].Images[0].Digest = "sha256:\xff\xfe"
	out, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte("!!binary")) {
		t.Errorf("not written as binary:\n%s", out)
	}
	if got := mustReadLock(t, writeLockBytes(t, out)); !reflect.DeepEqual(*got, l.sorted()) {
		t.Errorf("read back %+v", got)
	}
}
