package engine

import "unicode/utf8"

// lockTextSafe: every character of a comment or quoted scalar is one lockLiteralRune
// takes (no tab, no carriage return, no byte order mark, valid UTF-8).
func lockTextSafe(s string) bool {
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7F {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if n == 1 || !lockLiteralRune(r) {
			return false
		}
		i += n
	}
	return true
}

// lockSingleQuoted reads a single-quoted scalar, where two quotes stand for one.
func lockSingleQuoted(v string) (string, bool) {
	if !lockTextSafe(v) {
		return "", false
	}
	var b []byte
	esc, start := false, 1
	for i := 1; i < len(v); i++ {
		if v[i] != '\'' {
			continue
		}
		if i == len(v)-1 {
			if !esc {
				return v[1:i], true
			}
			return string(append(b, v[start:i]...)), true
		}
		if v[i+1] != '\'' {
			return "", false
		}
		if !esc {
			b, esc = make([]byte, 0, len(v)), true
		}
		b = append(b, v[start:i+1]...)
		i++
		start = i + 1
	}
	return "", false
}

// lockDoubleQuoted reads "…" with YAML's escapes (JSON's are a subset); an escape yaml.v3
// refuses makes it fail, for yaml.v3 to report.
func lockDoubleQuoted(v string) (string, bool) {
	if !lockTextSafe(v) {
		return "", false
	}
	var b []byte
	esc, start := false, 1
	for i := 1; i < len(v); i++ {
		switch v[i] {
		case '"':
			if i != len(v)-1 {
				return "", false
			}
			if !esc {
				return v[1:i], true
			}
			return string(append(b, v[start:i]...)), true
		case '\\':
			if !esc {
				b, esc = make([]byte, 0, len(v)), true
			}
			b = append(b, v[start:i]...)
			n, ok := lockEscape(&b, v[i+1:])
			if !ok {
				return "", false
			}
			i += n
			start = i + 1
		}
	}
	return "", false
}

// lockEscape appends what the escape at the start of s (after its backslash) stands for;
// n is the bytes it takes.
func lockEscape(b *[]byte, s string) (n int, ok bool) {
	if s == "" {
		return 0, false
	}
	digits := 0
	switch s[0] {
	case 'x':
		digits = 2
	case 'u':
		digits = 4
	case 'U':
		digits = 8
	default:
		r, ok := lockSimpleEscape(s[0])
		if ok {
			*b = utf8.AppendRune(*b, r)
		}
		return 1, ok
	}
	if len(s) < 1+digits {
		return 0, false
	}
	var r uint32
	for i := 1; i <= digits; i++ {
		c := s[i]
		switch {
		case isASCIIDigit(c):
			r = r<<4 | uint32(c-'0')
		case c|0x20 >= 'a' && c|0x20 <= 'f':
			r = r<<4 | uint32(c|0x20-'a'+10)
		default:
			return 0, false
		}
	}
	if r >= 0xD800 && r <= 0xDFFF || r > utf8.MaxRune {
		return 0, false
	}
	*b = utf8.AppendRune(*b, rune(r))
	return 1 + digits, true
}

// lockSimpleEscape is the character a one-letter YAML escape stands for.
func lockSimpleEscape(c byte) (rune, bool) {
	switch c {
	case '0':
		return 0, true
	case 'a':
		return 7, true
	case 'b':
		return 8, true
	case 't':
		return 9, true
	case 'n':
		return 10, true
	case 'v':
		return 11, true
	case 'f':
		return 12, true
	case 'r':
		return 13, true
	case 'e':
		return 0x1B, true
	case ' ', '"', '\\':
		return rune(c), true
	case 'N':
		return 0x85, true
	case '_':
		return 0xA0, true
	case 'L':
		return 0x2028, true
	case 'P':
		return 0x2029, true
	}
	return 0, false
}
