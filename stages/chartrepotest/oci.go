package chartrepotest

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/registry"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// PushOCI packages each chart directory and pushes it to reg as a Helm OCI artifact at
// reg.Host/namespace/NAME:VERSION with Helm's registry client over plain HTTP. It returns
// the references pushed (a "+" in a version is "_" in its tag); the repository to resolve from is "oci://"+reg.Host+"/"+namespace.
func PushOCI(t testing.TB, reg *registrytest.Registry, namespace string, chartDirs ...string) []string {
	t.Helper()
	client := ociClient(t)
	var refs []string
	for _, dir := range chartDirs {
		path, md := Package(t, dir)
		refs = append(refs, pushFile(t, client, reg, namespace, path, md))
	}
	return refs
}

// PushOCIChart packages an in-memory chart (one a test changed) and pushes it as PushOCI
// does, returning the reference.
func PushOCIChart(t testing.TB, reg *registrytest.Registry, namespace string, ch *chart.Chart) string {
	t.Helper()
	path, err := chartutil.Save(ch, t.TempDir())
	if err != nil {
		t.Fatalf("package chart %s: %v", ch.Name(), err)
	}
	return pushFile(t, ociClient(t), reg, namespace, path, ch.Metadata)
}

func pushFile(t testing.TB, client *registry.Client, reg *registrytest.Registry, namespace, path string, md *chart.Metadata) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ref := strings.Trim(strings.Join([]string{reg.Host, strings.Trim(namespace, "/"), md.Name}, "/"), "/")
	ref = strings.ReplaceAll(ref, "//", "/") + ":" + md.Version // Helm turns "+" into "_"
	res, err := client.Push(data, ref)
	if err != nil {
		t.Fatalf("push %s as %s: %v", md.Name, ref, err)
	}
	return res.Ref
}

// ociClient is a Helm registry client that never reads the user's credentials.
func ociClient(t testing.TB) *registry.Client {
	t.Helper()
	httpClient := &http.Client{}
	client, err := registry.NewClient(
		registry.ClientOptPlainHTTP(),
		registry.ClientOptHTTPClient(httpClient),
		registry.ClientOptCredentialsFile(filepath.Join(t.TempDir(), "config.json")),
		registry.ClientOptAuthorizer(auth.Client{
			Client: httpClient,
			Credential: func(context.Context, string) (auth.Credential, error) {
				return auth.EmptyCredential, nil
			},
		}),
	)
	if err != nil {
		t.Fatalf("helm registry client: %v", err)
	}
	return client
}
