package transport

import (
	"crypto/x509"
	"fmt"
	"os"
)

// LoadCAFile is the system's certificate pool plus the PEM certificates of path
// (--ca-file): for a private CA that signs registries and chart repositories.
func LoadCAFile(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--ca-file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("--ca-file %s: no PEM certificate in it", path)
	}
	return pool, nil
}
