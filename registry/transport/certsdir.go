package transport

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// hostTLS is one host's TLS material from a certs directory (--certs-dir), laid out as
// docker's certs.d: DIR/HOST[:PORT]/*.crt are certificate authorities trusted for that
// host (besides the system's and --ca-file's), and each *.cert with the *.key of the same
// name is a client certificate presented to it (mutual TLS).
type hostTLS struct {
	roots *x509.CertPool // nil: the client's roots
	certs []tls.Certificate
}

// CheckCertsDir reads a certs directory (--certs-dir) as a run would, so that a missing
// directory, an unreadable file or a client certificate without its key is found before
// any work starts.
func CheckCertsDir(dir string) error {
	_, err := loadCertsDir(dir, nil)
	return err
}

// loadCertsDir reads every host directory of dir. base is the pool the host's CAs are
// added to (nil: the system's).
func loadCertsDir(dir string, base *x509.CertPool) (map[string]*hostTLS, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("--certs-dir: %w", err)
	}
	out := map[string]*hostTLS{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		h, err := loadHostCerts(filepath.Join(dir, e.Name()), base)
		if err != nil {
			return nil, err
		}
		if h != nil {
			out[strings.ToLower(e.Name())] = h
		}
	}
	return out, nil
}

func loadHostCerts(dir string, base *x509.CertPool) (*hostTLS, error) {
	names, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("--certs-dir: %w", err)
	}
	var files []string
	for _, n := range names {
		if !n.IsDir() {
			files = append(files, n.Name())
		}
	}
	sort.Strings(files)
	h := &hostTLS{}
	have := map[string]bool{}
	for _, f := range files {
		have[f] = true
	}
	for _, f := range files {
		path := filepath.Join(dir, f)
		switch filepath.Ext(f) {
		case ".crt":
			data, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("--certs-dir: %w", err)
			}
			if h.roots == nil {
				if h.roots, err = clonePool(base); err != nil {
					return nil, err
				}
			}
			if !h.roots.AppendCertsFromPEM(data) {
				return nil, fmt.Errorf("--certs-dir %s: no PEM certificate in it", path)
			}
		case ".cert":
			key := strings.TrimSuffix(f, ".cert") + ".key"
			if !have[key] {
				return nil, fmt.Errorf("--certs-dir %s: client certificate without its key %s", path, key)
			}
			pair, err := tls.LoadX509KeyPair(path, filepath.Join(dir, key))
			if err != nil {
				return nil, fmt.Errorf("--certs-dir %s with %s: %w", path, key, err)
			}
			h.certs = append(h.certs, pair)
		case ".key":
			if !have[strings.TrimSuffix(f, ".key")+".cert"] {
				return nil, fmt.Errorf("--certs-dir %s: key without its client certificate %s", path, strings.TrimSuffix(f, ".key")+".cert")
			}
		}
	}
	if h.roots == nil && h.certs == nil {
		return nil, nil
	}
	return h, nil
}

func clonePool(base *x509.CertPool) (*x509.CertPool, error) {
	if base != nil {
		return base.Clone(), nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		return x509.NewCertPool(), nil
	}
	return pool, nil
}

// tlsOf is the TLS material for host (host[:port]): its own directory, else that of its
// bare name; nil: none.
func tlsOf(certs map[string]*hostTLS, host string) *hostTLS {
	if len(certs) == 0 {
		return nil
	}
	h := strings.ToLower(host)
	if t := certs[h]; t != nil {
		return t
	}
	if bare, _, err := net.SplitHostPort(h); err == nil {
		return certs[bare]
	}
	return nil
}
