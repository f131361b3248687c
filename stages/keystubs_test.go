package stages

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"

	"github.com/airgap-charts/airgap-charts/stages/chartrepotest"
)

// webhookChart generates its webhook's certificates and a password hash when rendered, as
// admission-webhook charts do, and names one of its images only when the generated CA has
// a certificate.
func webhookChart() *chart.Chart {
	return newTestChart("webhook", map[string]any{"password": "s3cret", "genCA": "a value, not a call"}, map[string]string{
		"templates/_certs.tpl": `{{- define "webhook.certs" -}}
{{- $ca := genCA "webhook-ca" 365 -}}
{{- $cert := genSignedCert "webhook" nil (list "webhook.ns.svc") 365 $ca -}}
ca.crt: {{ $ca.Cert | b64enc }}
tls.key: {{ $cert.Key | b64enc }}
{{- end -}}`,
		"templates/secret.yaml": `apiVersion: v1
kind: Secret
metadata:
  name: webhook-certs
data:
{{ include "webhook.certs" . | indent 2 }}
  auth: {{ htpasswd "admin" .Values.password | b64enc }}
  key: {{ genPrivateKey "rsa" | b64enc }}
  piped: {{ 30 | genSelfSignedCert "self" nil nil | toJson | b64enc }}
`,
		"templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: webhook
  annotations:
    note: {{ "genCA is only text here" | quote }}
    value: {{ .Values.genCA | quote }}
spec:
  template:
    spec:
      containers:
        - name: main
          image: example.com/webhook/server:1.2.3
{{- if (genCA "probe" 1).Cert }}
        - name: certs
          image: example.com/webhook/cert-init:0.4.0
{{- end }}
`,
	})
}

// TestRenderStubsKeyGeneration: a chart generating certificates, keys and a bcrypt hash
// renders with placeholders where they would be (no key is generated), its images found,
// text that only spells a function's name left as it is, and the chart's own templates
// unchanged.
func TestRenderStubsKeyGeneration(t *testing.T) {
	ch := webhookChart()
	before := map[string]string{}
	for _, f := range ch.Templates {
		before[f.Name] = string(f.Data)
	}
	r := mustRender(t, ch, RenderOptions{})

	secret := manifestWith(r, "kind: Secret")
	if secret == nil {
		t.Fatal("no Secret rendered")
	}
	fields := map[string]string{}
	_, data, _ := strings.Cut(secret.Content, "\ndata:\n")
	for _, m := range regexp.MustCompile(`(?m)^  ([a-z.]+): (\S+)$`).FindAllStringSubmatch(data, -1) {
		raw, err := base64.StdEncoding.DecodeString(m[2])
		if err != nil {
			t.Fatalf("%s: %q is not base64: %v", m[1], m[2], err)
		}
		fields[m[1]] = string(raw)
	}
	for key, want := range map[string]string{
		"ca.crt":  "airgap-charts-placeholder-certificate",
		"tls.key": "airgap-charts-placeholder-key",
		"auth":    "airgap-charts-placeholder-admins3cret",
		"key":     "airgap-charts-placeholder-rsa",
	} {
		if fields[key] != want {
			t.Errorf("secret %s = %q, want %q (the stand-in, not generated material)", key, fields[key], want)
		}
	}
	if !strings.Contains(fields["piped"], `"Cert":"airgap-charts-placeholder-certificate"`) {
		t.Errorf("piped call: %q, want the stand-in certificate", fields["piped"])
	}

	dep := manifestWith(r, "kind: Deployment")
	if dep == nil {
		t.Fatal("no Deployment rendered")
	}
	for _, want := range []string{`note: "genCA is only text here"`, `value: "a value, not a call"`} {
		if !strings.Contains(dep.Content, want) {
			t.Errorf("deployment lost %q:\n%s", want, dep.Content)
		}
	}
	images, err := Extract(r, ch)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, img := range images {
		got = append(got, img.Ref.String())
	}
	if strings.Join(got, " ") != "example.com/webhook/cert-init:0.4.0 example.com/webhook/server:1.2.3" {
		t.Errorf("images %v: want both, the one behind the certificate's test included", got)
	}
	for _, f := range ch.Templates {
		if string(f.Data) != before[f.Name] {
			t.Errorf("template %s of the chart was changed by the render:\n%s", f.Name, f.Data)
		}
	}
}

// TestStubbedTemplate: calls are replaced where the parser finds them (a name used as an
// argument in parentheses), other templates are left alone.
func TestStubbedTemplate(t *testing.T) {
	for _, c := range []struct {
		name, in, want string
		ok             bool
	}{
		{"argument", `{{ default genPrivateKey .Values.k }}`, `{{ default (print "airgap-charts-placeholder-") .Values.k }}`, true},
		{"head", `{{ bcrypt "x" }}`, `{{ print "airgap-charts-placeholder-" "x" }}`, true},
		{"none", `{{ .Values.genCA }} {{ "bcrypt" }}`, "", false},
		{"unparsable", `{{ genCA "x" 1 `, "", false},
		{"no mention", `{{ .Values.image }}`, "", false},
	} {
		got, ok := stubbedTemplate(&chart.File{Name: c.name, Data: []byte(c.in)})
		if ok != c.ok || string(got) != c.want {
			t.Errorf("%s: %q, %t; want %q, %t", c.name, got, ok, c.want, c.ok)
		}
	}
}

// TestCorpusKeyStubsKeepImages renders every chart of the real-chart corpus that loads on
// its own (dependencies vendored) and calls a key function, with the stand-ins and with the
// real functions: the same documents and the same images, and no PEM block left in the
// stand-ins' render. At least one chart must have generated key material with the real
// functions, or the test proves nothing.
func TestCorpusKeyStubsKeepImages(t *testing.T) {
	dir := chartrepotest.CorpusDir(t)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	const pem = "LS0tLS1CRUdJTi" // "-----BEGIN" in base64, as Secrets carry it
	kube, err := chartutil.ParseKubeVersion(DefaultKubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	exercised := 0
	for _, e := range entries {
		ch, err := loader.Load(filepath.Join(dir, e.Name()))
		if err != nil || action.CheckDependencies(ch, ch.Metadata.Dependencies) != nil || !callsKeyFunction(ch) {
			continue
		}
		stubbed, withStubs := renderCorpusChart(t, ch, nil)
		vals := map[string]any{}
		applyFallbacks(ch, vals)
		plain, err := renderChart(copyChart(ch), vals, RenderOptions{Release: "rel", Namespace: "ns"}, kube)
		if err != nil {
			t.Fatalf("%s with the real functions: %v", e.Name(), err)
		}
		withReal, err := Extract(plain, ch)
		if err != nil {
			t.Fatal(err)
		}
		a, b := refStrings(withStubs), refStrings(withReal)
		sort.Strings(a)
		sort.Strings(b)
		if strings.Join(a, " ") != strings.Join(b, " ") || len(stubbed.Manifests) != len(plain.Manifests) {
			t.Errorf("%s: stand-ins %d documents, images %v; real functions %d documents, images %v", e.Name(), len(stubbed.Manifests), a, len(plain.Manifests), b)
		}
		for _, m := range stubbed.Manifests {
			if strings.Contains(m.Content, pem) {
				t.Errorf("%s: %s holds a PEM block: a key function was not replaced", e.Name(), m.Template)
			}
		}
		for _, m := range plain.Manifests {
			if strings.Contains(m.Content, pem) {
				exercised++
				break
			}
		}
	}
	if exercised == 0 {
		t.Fatal("no corpus chart generated key material with its default values")
	}
	t.Logf("%d corpus charts generate key material with their defaults; the stand-ins keep their images", exercised)
}

// callsKeyFunction reports whether a template of ch or of a subchart names a key function.
func callsKeyFunction(ch *chart.Chart) bool {
	for _, f := range ch.Templates {
		if mentionsKeyFunction(f.Data) {
			return true
		}
	}
	for _, d := range ch.Dependencies() {
		if callsKeyFunction(d) {
			return true
		}
	}
	return false
}
