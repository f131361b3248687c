package stages

import (
	"bytes"
	"sort"
	"text/template/parse"

	"helm.sh/helm/v3/pkg/chart"
)

// Some template functions make key material or password hashes: an RSA key for each
// genCA, genSignedCert or genSelfSignedCert (tens to hundreds of milliseconds of CPU each),
// a bcrypt hash for htpasswd. A chart generating its webhook certificates pays that on
// every render, and a run renders a chart several times (the render, the verification of
// the rewrite, the consumer-overrides check). What they make is never an image reference,
// so the renders of a run call cheap stand-ins instead, which give what the templates read
// of the real ones (a .Cert and a .Key, a string) in the same shape. The packaged chart is
// not touched: only the render's copy of a template is.
//
// keyStubs maps each such function to the expression that replaces its name in a call:
// the call's own arguments follow it, and are evaluated and ignored. A name used as an
// argument (a call without arguments) is replaced by the expression in parentheses.
var keyStubs = map[string]string{
	"genCA":                    stubCertificate,
	"genCAWithKey":             stubCertificate,
	"genSelfSignedCert":        stubCertificate,
	"genSelfSignedCertWithKey": stubCertificate,
	"genSignedCert":            stubCertificate,
	"genSignedCertWithKey":     stubCertificate,
	"buildCustomCert":          stubCertificate, // given a stand-in's certificate, it would fail
	"genPrivateKey":            stubString,
	"bcrypt":                   stubString,
	"htpasswd":                 stubString,
	"derivePassword":           stubString,
}

// stubCertificate is a dict with the fields of Sprig's certificate; the call's arguments
// become more keys and values of it. stubString is a string; the arguments are printed
// after it.
const (
	stubCertificate = `dict "Cert" "airgap-charts-placeholder-certificate" "Key" "airgap-charts-placeholder-key" "airgap-charts-ignored"`
	stubString      = `print "airgap-charts-placeholder-"`
)

// keyCall is a keyStubs name in a template: head when it is the function of its command
// (its arguments follow), not when it is an argument itself.
type keyCall struct {
	id   *parse.IdentifierNode
	head bool
}

// stubKeyFunctions replaces, in c (a render's copy) and its subcharts, each template that
// calls one of keyStubs' functions by a copy calling the stand-ins. A template that does
// not parse is left as it is, for Helm to report.
func stubKeyFunctions(c *chart.Chart) {
	var out []*chart.File
	for i, f := range c.Templates {
		data, ok := stubbedTemplate(f)
		if !ok {
			continue
		}
		if out == nil {
			out = append([]*chart.File(nil), c.Templates...)
		}
		out[i] = &chart.File{Name: f.Name, Data: data}
	}
	if out != nil {
		c.Templates = out
	}
	for _, d := range c.Dependencies() {
		stubKeyFunctions(d)
	}
}

// stubbedTemplate is f's text with every call of a keyStubs function replaced; ok is false
// when f calls none (or does not parse).
func stubbedTemplate(f *chart.File) (data []byte, ok bool) {
	if !mentionsKeyFunction(f.Data) {
		return nil, false
	}
	t := parse.New(f.Name)
	t.Mode = parse.SkipFuncCheck
	trees := map[string]*parse.Tree{}
	if _, err := t.Parse(string(f.Data), "", "", trees); err != nil {
		return nil, false
	}
	// trees holds the file's defines and, unless it is empty, the file's own tree.
	trees[""] = t
	var calls []keyCall
	seen := map[*parse.Tree]bool{}
	for _, tr := range trees {
		if !seen[tr] && tr.Root != nil {
			seen[tr] = true
			calls = appendKeyCalls(calls, tr.Root)
		}
	}
	if len(calls) == 0 {
		return nil, false
	}
	sort.Slice(calls, func(i, j int) bool { return calls[i].id.Pos < calls[j].id.Pos })
	var b bytes.Buffer
	last := 0
	for _, c := range calls {
		name, at := c.id.Ident, int(c.id.Pos)
		if at < last || at+len(name) > len(f.Data) || string(f.Data[at:at+len(name)]) != name {
			return nil, false // not where the parser says: leave the template alone
		}
		b.Write(f.Data[last:at])
		if c.head {
			b.WriteString(keyStubs[name])
		} else {
			b.WriteString("(" + keyStubs[name] + ")")
		}
		last = at + len(name)
	}
	b.Write(f.Data[last:])
	return b.Bytes(), true
}

// mentionsKeyFunction is a quick look for any keyStubs name in a template's text.
func mentionsKeyFunction(data []byte) bool {
	for name := range keyStubs {
		if bytes.Contains(data, []byte(name)) {
			return true
		}
	}
	return false
}

// appendKeyCalls appends the identifiers of n's tree that name a keyStubs function.
func appendKeyCalls(out []keyCall, n parse.Node) []keyCall {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return out
		}
		for _, c := range n.Nodes {
			out = appendKeyCalls(out, c)
		}
	case *parse.ActionNode:
		out = appendKeyCalls(out, n.Pipe)
	case *parse.PipeNode:
		if n == nil {
			return out
		}
		for _, c := range n.Cmds {
			out = appendKeyCalls(out, c)
		}
	case *parse.CommandNode:
		for i, a := range n.Args {
			if id, ok := a.(*parse.IdentifierNode); ok && i == 0 {
				if _, stub := keyStubs[id.Ident]; stub {
					out = append(out, keyCall{id: id, head: true})
				}
				continue
			}
			out = appendKeyCalls(out, a)
		}
	case *parse.ChainNode:
		out = appendKeyCalls(out, n.Node)
	case *parse.IfNode:
		out = appendBranch(out, &n.BranchNode)
	case *parse.RangeNode:
		out = appendBranch(out, &n.BranchNode)
	case *parse.WithNode:
		out = appendBranch(out, &n.BranchNode)
	case *parse.TemplateNode:
		out = appendKeyCalls(out, n.Pipe)
	case *parse.IdentifierNode:
		if _, ok := keyStubs[n.Ident]; ok {
			out = append(out, keyCall{id: n})
		}
	}
	return out
}

func appendBranch(out []keyCall, b *parse.BranchNode) []keyCall {
	out = appendKeyCalls(out, b.Pipe)
	out = appendKeyCalls(out, b.List)
	return appendKeyCalls(out, b.ElseList)
}
