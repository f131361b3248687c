package stages

import (
	"fmt"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/registry"
)

// imageLiteral is one way a source image can be written literally, and its replacement.
type imageLiteral struct {
	old, new string
	// nameOnly is a host-qualified name without tag or digest (the template adds them).
	nameOnly bool
}

// imageLiterals lists the spellings of m.Source, longest first: full and, for Docker Hub,
// short names, each with tag and digest, tag, or digest.
func imageLiterals(m ImageMapping) []imageLiteral {
	src, dst := m.Source, m.Destination
	names := []string{src.Name()}
	if src.Registry == config.DockerHub {
		short := strings.TrimPrefix(src.Repository, "library/")
		for _, alias := range config.DockerHubAliases() {
			names = append(names, alias+"/"+src.Repository)
		}
		names = append(names, config.DockerHub+"/"+short, src.Repository, short)
	}
	dstTag, dstDigest := dst.Tag, dst.Digest
	if dstTag == "" {
		dstTag = src.Tag
	}
	if dstDigest == "" {
		dstDigest = src.Digest
	}
	type suffix struct{ old, new string }
	var suffixes []suffix
	if src.Tag != "" && src.Digest != "" {
		suffixes = append(suffixes, suffix{":" + src.Tag + "@" + src.Digest, ":" + dstTag + "@" + dstDigest})
	}
	if src.Tag != "" {
		to := ":" + dstTag
		if pinning(src, dst) {
			to += "@" + dst.Digest
		}
		suffixes = append(suffixes, suffix{":" + src.Tag, to})
	}
	if src.Digest != "" {
		suffixes = append(suffixes, suffix{"@" + src.Digest, "@" + dstDigest})
	}
	seen := map[string]bool{}
	var out []imageLiteral
	for _, n := range names {
		for _, s := range suffixes {
			if !seen[n+s.old] {
				seen[n+s.old] = true
				out = append(out, imageLiteral{old: n + s.old, new: dst.Name() + s.new})
			}
		}
		if hasExplicitHost(n) && !seen[n] {
			seen[n] = true
			out = append(out, imageLiteral{old: n, new: dst.Name(), nameOnly: true})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i].old) > len(out[j].old) })
	return out
}

// literalCore is the text every spelling imageLiterals lists for src holds: the short
// repository for Docker Hub (every alias, "library/" or not, ends in it), else the name.
func literalCore(src registry.ImageRef) string {
	if src.Registry == config.DockerHub {
		return strings.TrimPrefix(src.Repository, "library/")
	}
	return src.Name()
}

// replaceImageLiterals replaces every literal spelling in literals (one source's); with
// withSuffixOnly, bare names are left alone.
func replaceImageLiterals(s string, literals []imageLiteral, withSuffixOnly bool) (string, int) {
	if !strings.Contains(s, "/") && !strings.Contains(s, ":") && !strings.Contains(s, "@") {
		return s, 0
	}
	total := 0
	for _, l := range literals {
		if withSuffixOnly && l.nameOnly {
			continue
		}
		var n int
		s, n = replaceLiteral(s, l.old, l.new)
		total += n
	}
	return s, total
}

// replaceLiteral replaces old by new where old stands as a whole image reference: not
// preceded by a name character, not followed by one, nor by ":x" or "@x" that would make
// it part of a longer reference (":{{" is fine: the template adds the tag).
func replaceLiteral(s, old, new string) (string, int) {
	if old == "" {
		return s, 0
	}
	var b strings.Builder
	n, i := 0, 0
	for {
		j := strings.Index(s[i:], old)
		if j < 0 {
			break
		}
		start, end := i+j, i+j+len(old)
		if literalBounded(s, start, end) {
			b.WriteString(s[i:start])
			b.WriteString(new)
			n++
		} else {
			b.WriteString(s[i : start+1])
			end = start + 1
		}
		i = end
	}
	if n == 0 {
		return s, 0
	}
	b.WriteString(s[i:])
	return b.String(), n
}

func literalBounded(s string, start, end int) bool {
	if start > 0 && isNameChar(s[start-1]) {
		return false
	}
	if end < len(s) {
		c := s[end]
		if isNameChar(c) {
			return false
		}
		if (c == ':' || c == '@') && end+1 < len(s) && isAlnum(s[end+1]) {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isNameChar(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '-' || c == '/'
}

// planTemplateLiterals plans a template edit for every literal source image in the
// templates (and the files templates may read, documentation aside) of c (chart path
// cpath) and its subcharts.
func (p *planner) planTemplateLiterals(c *chart.Chart, cpath string) {
	files := append([]*chart.File{}, c.Templates...)
	for _, f := range c.Files {
		if !strings.HasSuffix(strings.ToLower(f.Name), ".md") && !strings.HasPrefix(f.Name, "charts/") {
			files = append(files, f)
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	cores := make([]string, len(p.mappings))
	for i, m := range p.mappings {
		cores[i] = literalCore(m.Source)
	}
	for _, f := range files {
		text := string(f.Data)
		for i := range p.mappings {
			if !strings.Contains(text, cores[i]) {
				continue // no spelling of this source can be in the file
			}
			for _, l := range p.literals[i] {
				var n int
				if l.nameOnly {
					if old, pinned, ok := p.composedTagLiteral(text, l.old, i); ok {
						l.old, l.new = old, pinned
					}
				}
				text, n = replaceLiteral(text, l.old, l.new)
				if n > 0 {
					p.matched[i] = true
					p.templateEdits = append(p.templateEdits, TemplateEdit{Chart: cpath, File: f.Name, Old: l.old, New: l.new})
				}
			}
		}
	}
	for _, sub := range c.Dependencies() {
		subPath := sub.Name()
		if cpath != "" {
			subPath = cpath + "/" + sub.Name()
		}
		p.planTemplateLiterals(sub, subPath)
	}
}

// templatesQuote reports whether a template of c holds a quoted name of src, the sign
// of a default the template supplies when the value is empty.
func templatesQuote(c *chart.Chart, src registry.ImageRef) bool {
	short := strings.TrimPrefix(src.Repository, "library/")
	names := []string{src.Name(), src.Repository, short}
	if src.Registry == config.DockerHub {
		names = append(names, config.DockerHub+"/"+short)
	}
	for _, f := range c.Templates {
		for _, n := range names {
			for _, q := range []string{`"`, `'`} {
				if strings.Contains(string(f.Data), q+n+q) {
					return true
				}
			}
		}
	}
	return false
}

// findSubchart returns the chart at path ("" root, "a/b" by chart names).
func findSubchart(root *chart.Chart, path string) (*chart.Chart, error) {
	c := root
	if path == "" {
		return c, nil
	}
	for _, n := range strings.Split(path, "/") {
		var next *chart.Chart
		for _, d := range c.Dependencies() {
			if d.Name() == n {
				next = d
				break
			}
		}
		if next == nil {
			return nil, fmt.Errorf("chart %s has no subchart %s", root.Name(), path)
		}
		c = next
	}
	return c, nil
}

// applyTemplateEdit edits one template (or file) of c, and its raw copy alike.
func applyTemplateEdit(c *chart.Chart, e TemplateEdit) error {
	found := false
	for _, group := range [][]*chart.File{c.Templates, c.Files} {
		for _, f := range group {
			if f.Name != e.File {
				continue
			}
			out, n := replaceLiteral(string(f.Data), e.Old, e.New)
			if n == 0 {
				return fmt.Errorf("template %s of chart %s: %q not found", e.File, c.Name(), e.Old)
			}
			f.Data = []byte(out)
			found = true
		}
	}
	if !found {
		return fmt.Errorf("chart %s has no template %s", c.Name(), e.File)
	}
	for _, f := range c.Raw {
		if f.Name == e.File {
			out, _ := replaceLiteral(string(f.Data), e.Old, e.New)
			f.Data = []byte(out)
		}
	}
	return nil
}
