package stages

import (
	"strings"
	"unicode"
)

// keyRole is what a key says about its value, as far as images go.
type keyRole int

const (
	roleNone keyRole = iota
	// roleImage: the value is an image reference ("image", "sidecarImage", FOO_IMAGE,
	// --consul-image, imageName).
	roleImage
	// Parts of a reference kept apart: x.repository, X_IMAGE_TAG, imageRegistry, …
	roleRepository
	roleRegistry
	roleTag
	roleVersion
	roleDigest
	// roleLabel: the key is about labels, selectors, annotations, taints, tolerations or
	// affinity; its value is never taken for an image ("app.kubernetes.io/component:x").
	roleLabel
)

// labelWords are key words that make a key roleLabel.
var labelWords = map[string]bool{
	"label": true, "labels": true, "selector": true, "selectors": true, "annotation": true,
	"annotations": true, "taint": true, "taints": true, "toleration": true, "tolerations": true,
	"affinity": true, "topology": true,
}

// partRoles are the last words naming one part of a reference kept apart.
var partRoles = map[string]keyRole{
	"repository": roleRepository, "registry": roleRegistry, "tag": roleTag,
	"version": roleVersion, "digest": roleDigest,
}

// keyClass is a classified key.
type keyClass struct {
	role keyRole
	// prefix groups the parts of one reference: the words before the role ("sidecar" for
	// sidecar.repository, SIDECAR_IMAGE_TAG and sidecarTag alike), "" for image.tag.
	prefix string
	// mentionsImage: a word of the key is "image" or "images".
	mentionsImage bool
}

// classifyKey reads a key (a YAML/JSON key, an env name, a ConfigMap data key, a
// command-line flag) as words, split at '.', '_', '-', '/' and camel-case boundaries and
// lower-cased: "--consul-dataplane-image" is consul dataplane image, SIDECAR_IMAGE_TAG is
// sidecar image tag. The last word gives the role: image (also "images", and "image name"
// or "image ref"), or repository, registry, tag, version, digest (an "image" right before
// them is dropped from the prefix: X_IMAGE_REPOSITORY and X_REPOSITORY group alike); a key
// whose first word is "image" and whose last is not about pulling (imageK8S,
// imageConsulDataplane; not imagePullPolicy) is an image too.
func classifyKey(key string) keyClass {
	if !mayHaveRole(key) {
		return keyClass{}
	}
	words := keyWords(key)
	var kc keyClass
	for _, w := range words {
		if labelWords[w] {
			return keyClass{role: roleLabel}
		}
		if w == "image" || w == "images" {
			kc.mentionsImage = true
		}
	}
	n := len(words)
	if n == 0 {
		return kc
	}
	last := words[n-1]
	switch {
	case last == "image" || last == "images":
		kc.role, n = roleImage, n-1
	case (last == "name" || last == "ref" || last == "reference") && n >= 2 && words[n-2] == "image":
		kc.role, n = roleImage, n-2
	case partRoles[last] != roleNone:
		kc.role, n = partRoles[last], n-1
		if n > 0 && words[n-1] == "image" {
			n--
		}
	case words[0] == "image" && n >= 2 && !imageAttributes[last]:
		// imageK8S, imageConsulDataplane: an image named after the word "image".
		kc.role = roleImage
		kc.prefix = strings.Join(words[1:], "_")
		return kc
	default:
		return kc
	}
	kc.prefix = strings.Join(words[:n], "_")
	return kc
}

// imageAttributes are last words of keys starting with "image" that are about pulling
// images, not an image (imagePullPolicy, imagePullSecrets, imageCredentials).
var imageAttributes = map[string]bool{
	"policy": true, "pull": true, "secret": true, "secrets": true, "credential": true, "credentials": true,
}

// mayHaveRole is a cheap filter, one pass and no allocation: a key that holds no "image"
// nor a label word and does not end in a part word is roleNone and mentions no image.
func mayHaveRole(key string) bool {
	for _, suffix := range [...]string{"repository", "registry", "tag", "version", "digest"} {
		if n := len(key) - len(suffix); n >= 0 && strings.EqualFold(key[n:], suffix) {
			return true
		}
	}
	for i := 0; i < len(key); i++ {
		var stems []string
		switch key[i] | 0x20 {
		case 'i':
			stems = []string{"image"}
		case 'l':
			stems = []string{"label"}
		case 's':
			stems = []string{"selector"}
		case 'a':
			stems = []string{"annotation", "affinity"}
		case 't':
			stems = []string{"taint", "toleration", "topology"}
		default:
			continue
		}
		for _, st := range stems {
			if len(key)-i >= len(st) && strings.EqualFold(key[i:i+len(st)], st) {
				return true
			}
		}
	}
	return false
}

// keyWords splits a key into lower-case words (see classifyKey); leading dashes of a flag
// are dropped.
func keyWords(key string) []string {
	key = strings.TrimLeft(key, "-")
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	rs := []rune(key)
	for i, r := range rs {
		switch {
		case r == '.' || r == '_' || r == '-' || r == '/' || r == ' ':
			flush()
			continue
		case unicode.IsUpper(r) && len(cur) > 0:
			prev := cur[len(cur)-1]
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
			if unicode.IsLower(prev) || unicode.IsDigit(prev) && !unicode.IsUpper(firstRune(cur)) || unicode.IsUpper(prev) && nextLower {
				flush()
			}
		}
		cur = append(cur, r)
	}
	flush()
	return words
}

func firstRune(rs []rune) rune {
	if len(rs) == 0 {
		return 0
	}
	return rs[0]
}

// refParts gathers the parts of one reference kept apart under one prefix of one
// mapping (an env list, a ConfigMap's data, a YAML mapping, a custom resource's map).
type refParts struct {
	// marked: the enclosing key or one of the parts' keys names an image; only then does a
	// "version" count as the tag.
	marked                                      bool
	image, repository, registry, tag, version   string
	digest                                      string
	imageLoc, repositoryLoc                     Location
	hasImage, hasRepository, hasTag, hasVersion bool
}

func (p *refParts) set(kc keyClass, value string, loc Location) {
	value = unquote(strings.TrimSpace(value))
	if value == "" {
		return
	}
	p.marked = p.marked || kc.mentionsImage
	switch kc.role {
	case roleImage:
		if !p.hasImage {
			p.image, p.imageLoc, p.hasImage = value, loc, true
		}
	case roleRepository:
		if !p.hasRepository {
			p.repository, p.repositoryLoc, p.hasRepository = value, loc, true
		}
	case roleRegistry:
		p.registry = value
	case roleTag:
		p.tag, p.hasTag = value, true
	case roleVersion:
		p.version, p.hasVersion = value, true
	case roleDigest:
		p.digest = value
	}
}

// compose builds the reference the parts describe, or reports false:
//   - repository + image + version (or tag): repository is a registry/namespace and image
//     a name, as operators' policy resources write them: repository/image:version;
//   - repository + tag (or version when marked), optional digest: repository:tag@digest;
//   - an image without tag + tag or version: image:tag;
//
// a registry part is put in front unless the result already starts with a host. The
// result must pass keyedImageRef with a tag; a repository that is a URL or a git
// repository ("….git") composes nothing.
func (p *refParts) compose() (string, Location, bool) {
	tag := p.tag
	if tag == "" && (p.marked || p.hasImage) {
		tag = p.version
	}
	var base string
	var loc Location
	switch {
	case p.hasRepository && p.hasImage && !hasTagOrDigest(p.image) && !hasRegistryHost(p.image):
		base, loc = strings.TrimSuffix(p.repository, "/")+"/"+p.image, p.repositoryLoc
	case p.hasRepository:
		base, loc = p.repository, p.repositoryLoc
	case p.hasImage && !hasTagOrDigest(p.image):
		base, loc = p.image, p.imageLoc
	default:
		return "", Location{}, false
	}
	if tag == "" && p.digest == "" || hasTagOrDigest(base) || strings.HasSuffix(base, ".git") {
		return "", Location{}, false
	}
	if p.registry != "" && !hasRegistryHost(base) {
		base = strings.TrimSuffix(p.registry, "/") + "/" + base
	}
	raw := base
	if tag != "" {
		raw += ":" + tag
	}
	if p.digest != "" {
		raw += "@" + p.digest
	}
	if _, ok := keyedImageRef(raw, true); !ok {
		return "", Location{}, false
	}
	return raw, loc, true
}

// partGroups holds the refParts of one mapping by prefix, in first-seen order.
type partGroups struct {
	byPrefix map[string]*refParts
	order    []string
	marked   bool
}

func (g *partGroups) add(kc keyClass, value string, loc Location) {
	if g.byPrefix == nil {
		g.byPrefix = map[string]*refParts{}
	}
	p, ok := g.byPrefix[kc.prefix]
	if !ok {
		p = &refParts{marked: g.marked}
		g.byPrefix[kc.prefix] = p
		g.order = append(g.order, kc.prefix)
	}
	p.set(kc, value, loc)
}

// composed returns every reference the groups compose, with the location of the part
// that names the repository (else the image). A group with an untagged image and no tag
// of its own borrows the mapping's unprefixed tag or version (baseImage + version). With
// untagged, an untagged image that composes nothing is returned as it is.
func (g *partGroups) composed(untagged bool) []composedRef {
	var out []composedRef
	for _, prefix := range g.order {
		p := g.byPrefix[prefix]
		if root := g.byPrefix[""]; prefix != "" && root != nil && !p.hasTag && !p.hasVersion && !p.hasRepository {
			q := *p
			q.tag, q.version, q.hasTag, q.hasVersion = root.tag, root.version, root.hasTag, root.hasVersion
			p = &q
		}
		if raw, loc, ok := p.compose(); ok {
			out = append(out, composedRef{raw: raw, loc: loc})
		} else if untagged && p.hasImage && !hasTagOrDigest(p.image) {
			out = append(out, composedRef{raw: p.image, loc: p.imageLoc})
		}
	}
	return out
}

type composedRef struct {
	raw string
	loc Location
}
