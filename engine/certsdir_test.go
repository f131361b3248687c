package engine

import (
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
	"github.com/airgap-charts/airgap-charts/stages/chartrepotest"
)

// TestCertsDirMutualTLS: the chart repository and the destination registry both require a
// client certificate from a private CA. With CertsDir holding each host's ca.crt,
// client.cert and client.key the run fetches the chart, copies its image and publishes the
// chart; without the client certificates it fails naming the TLS handshake, and nothing
// reaches the destination.
func TestCertsDirMutualTLS(t *testing.T) {
	pki := registrytest.NewPKI(t)
	src := registrytest.New(t)
	seedImage(t, src.Host, mustRef(t, gateApp))
	dst := registrytest.New(t, registrytest.WithServerTLS(pki.ServerTLS()))
	charts := chartrepotest.NewHTTPRepo(t)
	charts.SetArchiveBase(chartrepotest.Relative)
	charts.AddChart(t, gateChart(false))
	repo := httptest.NewUnstartedServer(charts.Server.Config.Handler)
	repo.TLS = pki.ServerTLS()
	repo.Config.ErrorLog = log.New(io.Discard, "", 0)
	repo.StartTLS()
	t.Cleanup(repo.Close)
	repoHost := strings.TrimPrefix(repo.URL, "https://")

	options := func(certs string) Options {
		out := t.TempDir()
		return Options{
			Addons: []config.Addon{{Chart: "gate", Repository: repo.URL, Version: "1.0.0", Release: "gate", Namespace: "ns",
				Source: config.Position{File: "values.yaml", Line: 1}}},
			TargetRegistry: dst.Host, TargetPrefix: "mirror", TargetKind: "oci",
			IncludeDeps: true, Platform: registry.PlatformAuto, SkipExisting: true, Concurrency: 2, ChartConcurrency: 1,
			RegistryMirrors:  map[string]string{"quay.io": src.Host + "/quay.io"},
			InsecureRegistry: []string{src.Host}, // the mTLS hosts are verified against the private CA
			CertsDir:         certs, Retries: -1,
			OutputDir: out, ReportFile: filepath.Join(out, "report.json"),
		}
	}
	run := func(opts Options) *AddonReport {
		rep, err := runChecked(t, t.Context(), opts, e2eLogger(t))
		if err != nil {
			t.Fatalf("run could not start: %v", err)
		}
		return rep.Addons[0]
	}

	caOnly := t.TempDir()
	pki.WriteCertsDir(t, caOnly, dst.Host, false)
	pki.WriteCertsDir(t, caOnly, repoHost, false)
	a := run(options(caOnly))
	if a.Status == StatusSuccess || !strings.Contains(a.Error, "certificate") {
		t.Fatalf("without client certificates: %s: %s; want a failure naming the TLS handshake", a.Status, a.Error)
	}
	if n := dst.Count(registrytest.ManifestPut); n != 0 {
		t.Fatalf("%d manifest PUTs reached the destination without a client certificate", n)
	}

	certs := t.TempDir()
	pki.WriteCertsDir(t, certs, dst.Host, true)
	pki.WriteCertsDir(t, certs, repoHost, true)
	a = run(options(certs))
	if a.Status != StatusSuccess {
		t.Fatalf("with the certs directory: %s at %s: %s", a.Status, a.Stage, a.Error)
	}
	checkImagesCopied(t, a, gateApp)
	if chartPushes(dst, "gate") == 0 {
		t.Fatalf("the chart was not published to the mTLS destination (requests %v)", dst.Counts())
	}
}
