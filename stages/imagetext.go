package stages

import (
	"regexp"
	"strings"
)

// textPair matches one key and its value inside a line of text: YAML ("image: nats:2.10"),
// JSON (`"image": "nats:2.10"`), ini/TOML/properties/env ("image = nats:2.10",
// FOO_IMAGE=nats:2.10) and flags ("--consul-image=hashicorp/consul:1.22.7",
// `-consul-image="…"`). Groups: 1 opening quote of the key, 2 key, 3 separator, 4 blanks
// after it, 5 value (quoted, or up to a blank or punctuation).
var textPair = regexp.MustCompile(`(?:^|[\s{,;(\[])-{0,2}(["']?)([A-Za-z_][A-Za-z0-9_.\-]*)["']?[ \t]*([:=])([ \t]*)("[^"\n]*"|'[^'\n]*'|[^\s"',;}\])]*)`)

// spacedFlag matches a flag and its value separated by blanks ("--image nats:2.10").
var spacedFlag = regexp.MustCompile(`(?:^|\s)--?([A-Za-z][A-Za-z0-9_.\-]*)[ \t]+("[^"\n]*"|'[^'\n]*'|[^\s"'\\-][^\s"'\\]*)`)

// keyedValue is a key and its value found in text, with the scope (mapping) it sits in.
type keyedValue struct {
	scope       int
	scopeMarked bool
	key         string
	value       string
}

// textScope is one mapping of indented text: the keys at one indentation under one parent.
type textScope struct {
	indent, id int
	// marked: the parent key names an image ("image:", "sidecarImage:", "[image]").
	marked bool
	// lastKeyImage: the last key seen in this scope names an image (a child scope opened
	// under it is marked).
	lastKeyImage bool
}

// keyedValuesInText finds the keyed values of a text whose keys have an image role (see
// classifyKey), tracking YAML and pretty-printed JSON nesting by indentation (list items
// start a new mapping), ini sections, and comment lines (skipped). It is a line scanner,
// not a parser: it needs no valid document, so config files, shell scripts and prose
// alike are read; values are only ever accepted by the strict checks after it.
func keyedValuesInText(s string) []keyedValue {
	var out []keyedValue
	stack := []textScope{{indent: -1}}
	nextID := 1
	for len(s) > 0 {
		line, rest, _ := strings.Cut(s, "\n")
		s = rest
		t := strings.TrimLeft(strings.TrimRight(line, " \t\r"), " \t")
		if t == "" || t[0] == '#' || t[0] == ';' || strings.HasPrefix(t, "//") {
			continue
		}
		if i := strings.Index(t, " #"); i >= 0 {
			t = t[:i]
		}
		indent := len(line) - len(strings.TrimLeft(line, " \t"))
		item := false
		for t == "-" || strings.HasPrefix(t, "- ") {
			nt := strings.TrimLeft(t[1:], " ")
			indent += len(t) - len(nt)
			t, item = nt, true
		}
		if len(t) > 2 && t[0] == '[' && t[len(t)-1] == ']' && !strings.ContainsAny(t, " ,\"'") {
			stack = append(stack[:1], textScope{indent: 0, id: nextID, marked: classifyKey(t[1 : len(t)-1]).mentionsImage})
			nextID++
			continue
		}
		roleLine := lineMayHaveRole(t)
		var matches [][]int
		if roleLine {
			matches = textPair.FindAllStringSubmatchIndex(t, -1)
		}
		if roleLine && len(matches) > 0 && matches[0][0] == 0 || !roleLine && startsWithKey(t) {
			for len(stack) > 1 && stack[len(stack)-1].indent > indent {
				stack = stack[:len(stack)-1]
			}
			top := stack[len(stack)-1]
			if top.indent != indent || item {
				if top.indent == indent && len(stack) > 1 {
					stack = stack[:len(stack)-1]
				}
				parent := stack[len(stack)-1]
				stack = append(stack, textScope{indent: indent, id: nextID, marked: parent.lastKeyImage || parent.marked})
				nextID++
			}
		}
		scope := &stack[len(stack)-1]
		if !roleLine {
			scope.lastKeyImage = false
			continue
		}
		for _, m := range matches {
			quoted := m[3] > m[2]
			key := t[m[4]:m[5]]
			sep := t[m[6]:m[7]]
			blankAfter := m[9] > m[8]
			value := t[m[10]:m[11]]
			if sep == ":" && !quoted && !blankAfter && value != "" {
				continue // "nats:2.10", "host:8080": not a YAML key
			}
			kc := classifyKey(key)
			scope.lastKeyImage = kc.role == roleImage
			if kc.role == roleNone || kc.role == roleLabel || value == "" || strings.ContainsAny(value[:1], "{[|>&*!") {
				continue // an opener ("image:", `"image": {`, "config: |"), an anchor or a tag
			}
			out = append(out, keyedValue{scope: scope.id, scopeMarked: scope.marked, key: key, value: unquote(value)})
		}
		if strings.Contains(t, "mage") || strings.Contains(t, "MAGE") {
			for _, m := range spacedFlag.FindAllStringSubmatch(t, -1) {
				if classifyKey(m[1]).role == roleImage {
					out = append(out, keyedValue{scope: scope.id, scopeMarked: scope.marked, key: m[1], value: unquote(m[2])})
				}
			}
		}
	}
	return out
}

// mentionsImageOrRepository is the cheap test for whether keyedValuesInText can find
// anything in s: every role it acts on needs a key naming an image or a repository.
func mentionsImageOrRepository(s string) bool {
	for _, stem := range []string{"mage", "MAGE", "epositor", "EPOSITOR"} {
		if strings.Contains(s, stem) {
			return true
		}
	}
	return false
}

// lineMayHaveRole: a line holding none of the words a role needs (image, repository,
// registry, tag, version, digest, in any case) yields no keyed value; only its
// indentation matters.
func lineMayHaveRole(t string) bool {
	for i := 0; i < len(t); i++ {
		var words []string
		switch t[i] | 0x20 {
		case 'i':
			words = []string{"image"}
		case 'r':
			words = []string{"repository", "registry"}
		case 't':
			words = []string{"tag"}
		case 'v':
			words = []string{"version"}
		case 'd':
			words = []string{"digest"}
		default:
			continue
		}
		for _, w := range words {
			if len(t)-i >= len(w) && strings.EqualFold(t[i:i+len(w)], w) {
				return true
			}
		}
	}
	return false
}

// startsWithKey reports whether a line starts the way textPair's first match at the
// line's start does: an optional opening punctuation, up to two dashes, an optionally
// quoted key, blanks, then ':' or '='.
func startsWithKey(t string) bool {
	i := 0
	if i < len(t) && strings.IndexByte("{,;([", t[i]) >= 0 {
		i++
	}
	for d := 0; d < 2 && i < len(t) && t[i] == '-'; d++ {
		i++
	}
	if i < len(t) && (t[i] == '"' || t[i] == '\'') {
		i++
	}
	if i >= len(t) || !(t[i] == '_' || 'a' <= t[i]|0x20 && t[i]|0x20 <= 'z') {
		return false
	}
	for i < len(t) && (t[i] == '_' || t[i] == '.' || t[i] == '-' || '0' <= t[i] && t[i] <= '9' || 'a' <= t[i]|0x20 && t[i]|0x20 <= 'z') {
		i++
	}
	if i < len(t) && (t[i] == '"' || t[i] == '\'') {
		i++
	}
	for i < len(t) && (t[i] == ' ' || t[i] == '\t') {
		i++
	}
	return i < len(t) && (t[i] == ':' || t[i] == '=')
}
