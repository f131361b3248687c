package engine

import (
	"os"
	"testing"
)

// BenchmarkLockMarshal: a 200-addon × 3-image lock marshalled by the block writer, and by
// yaml.v3 as before it (the same sort, then yaml.v3's encoder).
func BenchmarkLockMarshal(b *testing.B) {
	l := benchLock(200, 3)
	b.Run("block", func(b *testing.B) {
		out, _ := l.Marshal()
		b.SetBytes(int64(len(out)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := l.Marshal(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("yaml.v3", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c := l.sorted()
			if _, err := marshalLockYAML(&c); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkLockRead: that lock read by ReadLock (the fast reader), ReadLock of the file
// yaml.v3 wrote before, and that file read as before (the head parsed, then the whole
// lock decoded).
func BenchmarkLockRead(b *testing.B) {
	l := benchLock(200, 3)
	out, err := l.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	path, oldPath := writeLockBytes(b, out), writeLockBytes(b, yamlV3Lock(b, l, 2))
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(len(out)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ReadLock(path); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fast-old-file", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ReadLock(oldPath); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("yaml.v3-two-parses", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			data, err := os.ReadFile(oldPath)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := readLockTwoParses(oldPath, data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("yaml.v3-one-decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			data, err := os.ReadFile(oldPath)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := readLockYAML(oldPath, data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
