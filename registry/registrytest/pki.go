package registrytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// PKI is a private certificate authority with a server certificate for 127.0.0.1 and
// localhost and a client certificate, for tests of private CAs and mutual TLS.
type PKI struct {
	CAPEM                 []byte // the CA certificate
	ClientCert, ClientKey []byte // PEM of the client certificate and its key
	serverCert            tls.Certificate
	caPool                *x509.CertPool
	OtherClient, OtherKey []byte // a client certificate of another CA: refused
}

// NewPKI makes a CA, a server certificate and client certificates.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	ca, caKey, caPEM := newCA(t, "airgap-charts test CA")
	p := &PKI{CAPEM: caPEM, caPool: x509.NewCertPool()}
	p.caPool.AddCert(ca)
	srvPEM, srvKey := issue(t, ca, caKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "registry"},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	var err error
	if p.serverCert, err = tls.X509KeyPair(srvPEM, srvKey); err != nil {
		t.Fatal(err)
	}
	p.ClientCert, p.ClientKey = issue(t, ca, caKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "airgap-charts client"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	other, otherKey, _ := newCA(t, "another CA")
	p.OtherClient, p.OtherKey = issue(t, other, otherKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "stranger"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	return p
}

// ServerTLS is a server configuration with the PKI's server certificate that requires
// and verifies a client certificate signed by the PKI's CA.
func (p *PKI) ServerTLS() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{p.serverCert}, ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs: p.caPool, MinVersion: tls.VersionTLS12}
}

// WriteCertsDir writes host's directory of a docker certs.d layout under dir: ca.crt,
// and unless client is false, client.cert and client.key. It returns dir.
func (p *PKI) WriteCertsDir(t testing.TB, dir, host string, client bool) string {
	t.Helper()
	hd := filepath.Join(dir, host)
	if err := os.MkdirAll(hd, 0o700); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"ca.crt": p.CAPEM}
	if client {
		files["client.cert"], files["client.key"] = p.ClientCert, p.ClientKey
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(hd, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func newCA(t testing.TB, cn string) (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: serial(t), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func issue(t testing.TB, ca *x509.Certificate, caKey *ecdsa.PrivateKey, tmpl *x509.Certificate) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = serial(t)
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

func serial(t testing.TB) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}
