package engine

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// appendLock writes c (sorted, schema set) in the lock's block layout: the header, then
// two-space indented mappings and sequences, one scalar a line. readLockFast reads exactly
// this layout back; yaml.v3 reads it to the same Lock.
func appendLock(b []byte, c *Lock) []byte {
	b = append(b, lockHeader...)
	b = append(b, "schema_version: "...)
	b = strconv.AppendInt(b, int64(c.SchemaVersion), 10)
	if len(c.Addons) == 0 {
		return append(b, "\naddons: []\n"...)
	}
	b = append(b, "\naddons:\n"...)
	for i := range c.Addons {
		a := &c.Addons[i]
		b = appendLockField(b, "  - name: ", a.Name)
		b = appendLockField(b, "    chart: ", a.Chart)
		b = appendLockField(b, "    repository: ", a.Repository)
		b = appendLockField(b, "    version: ", a.Version)
		b = appendLockField(b, "    digest: ", a.Digest)
		b = appendLockField(b, "    inputs: ", a.Inputs)
		if len(a.Images) == 0 {
			continue
		}
		b = append(b, "    images:\n"...)
		for j := range a.Images {
			img := &a.Images[j]
			b = appendLockField(b, "      - source: ", img.Source)
			b = appendLockField(b, "        digest: ", img.Digest)
			if img.Platform != "" {
				b = appendLockField(b, "        platform: ", img.Platform)
			}
			if img.PlatformDigest != "" {
				b = appendLockField(b, "        platform_digest: ", img.PlatformDigest)
			}
			b = appendLockField(b, "        destination: ", img.Destination)
		}
	}
	return b
}

func appendLockField(b []byte, key, v string) []byte {
	b = append(b, key...)
	return append(appendLockScalar(b, v), '\n')
}

// lockSize is about the bytes appendLock writes, to allocate once.
func lockSize(c *Lock) int {
	n := len(lockHeader) + 40
	for i := range c.Addons {
		a := &c.Addons[i]
		n += 100 + len(a.Name) + len(a.Chart) + len(a.Repository) + len(a.Version) + len(a.Digest) + len(a.Inputs)
		for j := range a.Images {
			img := &a.Images[j]
			n += 100 + len(img.Source) + len(img.Digest) + len(img.Platform) + len(img.PlatformDigest) + len(img.Destination)
		}
	}
	return n
}

// lockStringsUTF8 is whether every string of c is valid UTF-8 (appendLock writes text;
// anything else goes through yaml.v3, which writes it as !!binary).
func lockStringsUTF8(c *Lock) bool {
	for i := range c.Addons {
		a := &c.Addons[i]
		for _, s := range [...]string{a.Name, a.Chart, a.Repository, a.Version, a.Digest, a.Inputs} {
			if !utf8.ValidString(s) {
				return false
			}
		}
		for j := range a.Images {
			img := &a.Images[j]
			for _, s := range [...]string{img.Source, img.Digest, img.Platform, img.PlatformDigest, img.Destination} {
				if !utf8.ValidString(s) {
					return false
				}
			}
		}
	}
	return true
}

// appendLockScalar writes s plain when every YAML 1.1 or 1.2 reader reads that plain
// scalar back as the string s (lockPlainSafe), double-quoted otherwise.
func appendLockScalar(b []byte, s string) []byte {
	if lockPlainSafe(s) {
		return append(b, s...)
	}
	const hex = "0123456789ABCDEF"
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r == '\n':
			b = append(b, '\\', 'n')
		case r == '\t':
			b = append(b, '\\', 't')
		case r == '\r':
			b = append(b, '\\', 'r')
		case lockLiteralRune(r):
			b = utf8.AppendRune(b, r)
		case r <= 0xFF:
			b = append(b, '\\', 'x', hex[r>>4], hex[r&0xF])
		default:
			b = append(b, '\\', 'u', hex[r>>12&0xF], hex[r>>8&0xF], hex[r>>4&0xF], hex[r&0xF])
		}
	}
	return append(b, '"')
}

// lockLiteralRune is a character a YAML reader takes as itself inside a quoted scalar: no
// control character, line break (NEL, LS, PS), byte order mark or non-character.
func lockLiteralRune(r rune) bool {
	switch {
	case r >= 0x20 && r <= 0x7E:
		return true
	case r == 0x2028 || r == 0x2029 || r == 0xFEFF:
		return false
	case r >= 0xA0 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= utf8.MaxRune:
		return true
	}
	return false
}

// lockPlainSafe: s starts with a letter, holds only [A-Za-z0-9._/:@+-], does not end in
// ':' (a mapping indicator) and is no YAML 1.1 boolean or null word. A letter first rules
// out numbers, dates, .inf and indicators; the class rules out spaces, '#', quotes and
// flow characters.
func lockPlainSafe(s string) bool {
	if s == "" || s[len(s)-1] == ':' || !isASCIILetter(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isASCIILetter(c) && !isASCIIDigit(c) && !lockPlainPunct(c) {
			return false
		}
	}
	if len(s) <= 5 {
		for _, w := range [...]string{"y", "n", "yes", "no", "true", "false", "on", "off", "null"} {
			if strings.EqualFold(s, w) {
				return false
			}
		}
	}
	return true
}

func lockPlainPunct(c byte) bool {
	switch c {
	case '.', '_', '/', ':', '@', '+', '-':
		return true
	}
	return false
}

func isASCIILetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isASCIIDigit(c byte) bool  { return c >= '0' && c <= '9' }
