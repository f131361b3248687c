package engine

import "strings"

// readLockFast reads a lock in the block layout appendLock writes (yaml.v3's old layout
// too, when its scalars are plain in a narrow class or quoted on one line). ok is false
// on any line outside that layout (comments past the header, other indentation, flow
// style, anchors, tags, block scalars, other keys or order, a missing field), and the
// caller reads the file with yaml.v3 instead; what it returns is what yaml.v3 would.
func readLockFast(data []byte) (l *Lock, ok bool) {
	p := lockScan{rest: string(data)}
	for {
		line, ok := p.peek()
		if !ok || !strings.HasPrefix(line, "#") {
			break
		}
		if !lockTextSafe(line) {
			return nil, false
		}
		p.take(line)
	}
	line, _ := p.peek()
	const svKey = "schema_version: "
	if !strings.HasPrefix(line, svKey) {
		return nil, false
	}
	sv, ok := lockSchemaNumber(line[len(svKey):])
	if !ok {
		return nil, false
	}
	p.take(line)
	lk := &Lock{SchemaVersion: sv}
	lk.Inputs, _ = p.value("inputs: ")
	switch {
	case p.is("addons: []"):
		lk.Addons = []LockAddon{}
	case p.is("addons:"):
		lk.Addons = make([]LockAddon, 0, strings.Count(p.rest, "\n  - name: ")+1)
		p.images = make([]LockImage, 0, strings.Count(p.rest, "\n      - source: "))
		for !p.bad {
			a, has := p.addon()
			if !has {
				break
			}
			lk.Addons = append(lk.Addons, a)
		}
		if len(lk.Addons) == 0 {
			return nil, false
		}
	default:
		return nil, false
	}
	if p.bad || p.rest != "" {
		return nil, false
	}
	return lk, true
}

// addon reads one addon entry; has is false when the next line starts none.
func (p *lockScan) addon() (a LockAddon, has bool) {
	if a.Name, has = p.value("  - name: "); !has {
		return a, false
	}
	a.Chart = p.need("    chart: ")
	a.Repository = p.need("    repository: ")
	a.Version = p.need("    version: ")
	a.Digest = p.need("    digest: ")
	a.Inputs = p.need("    inputs: ")
	if !p.is("    images:") {
		return a, true
	}
	first := len(p.images)
	for !p.bad {
		var img LockImage
		if img.Source, has = p.value("      - source: "); !has {
			break
		}
		img.Digest = p.need("        digest: ")
		img.Platform, _ = p.value("        platform: ")
		img.PlatformDigest, _ = p.value("        platform_digest: ")
		img.Destination = p.need("        destination: ")
		p.images = append(p.images, img)
	}
	if len(p.images) == first {
		p.bad = true
	}
	a.Images = p.images[first:len(p.images):len(p.images)]
	return a, true
}

// lockScan walks the lines of a lock; bad is set on a line that starts as expected and
// then does not parse, or on a required line missing. images backs every addon's images
// (each capped to its own, so that appending to one does not write over the next).
type lockScan struct {
	rest   string
	bad    bool
	images []LockImage
}

// peek is the next line without its newline; ok is false at the end, or on a last line
// with no newline.
func (p *lockScan) peek() (string, bool) {
	i := strings.IndexByte(p.rest, '\n')
	if i < 0 {
		return "", false
	}
	return p.rest[:i], true
}

func (p *lockScan) take(line string) { p.rest = p.rest[len(line)+1:] }

// is takes the next line when it is exactly want.
func (p *lockScan) is(want string) bool {
	if line, ok := p.peek(); ok && line == want {
		p.take(line)
		return true
	}
	return false
}

// value takes the next line when it starts with key and reads its scalar; has is false
// when the next line is not key's.
func (p *lockScan) value(key string) (v string, has bool) {
	line, ok := p.peek()
	if !ok || !strings.HasPrefix(line, key) {
		return "", false
	}
	if v, ok = lockScalar(line[len(key):]); !ok {
		p.bad = true
		return "", false
	}
	p.take(line)
	return v, true
}

// need is value for a line that must be there.
func (p *lockScan) need(key string) string {
	v, has := p.value(key)
	if !has {
		p.bad = true
	}
	return v
}

// lockSchemaNumber is a decimal of up to 9 digits with no leading zero.
func lockSchemaNumber(s string) (int, bool) {
	if s == "" || len(s) > 9 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if !isASCIIDigit(s[i]) {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// lockScalar reads the scalar that is all of v: a plain one in a narrow class (taken
// literally, as yaml.v3 does into a string), a double-quoted or a single-quoted one.
func lockScalar(v string) (string, bool) {
	switch {
	case v == "":
		return "", false
	case v[0] == '"':
		return lockDoubleQuoted(v)
	case v[0] == '\'':
		return lockSingleQuoted(v)
	}
	return v, lockPlainReadable(v)
}

// lockPlainReadable: [A-Za-z0-9] then [A-Za-z0-9._/:@+-], not ending in ':', not null.
func lockPlainReadable(v string) bool {
	if !isASCIILetter(v[0]) && !isASCIIDigit(v[0]) || v[len(v)-1] == ':' || strings.EqualFold(v, "null") {
		return false
	}
	for i := 1; i < len(v); i++ {
		if c := v[i]; !isASCIILetter(c) && !isASCIIDigit(c) && !lockPlainPunct(c) {
			return false
		}
	}
	return true
}
