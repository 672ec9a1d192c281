package entra

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// File names under Config.Dir. The CA and the token signing keys are kept;
// the server certificate is cheap and is issued afresh on every start.
const (
	caCertFile = "ca.pem"
	caKeyFile  = "ca-key.pem"
)

// systemRootFiles are where Linux distributions keep the system trust store,
// in the order Go's crypto/x509 looks for them.
var systemRootFiles = []string{
	"/etc/ssl/certs/ca-certificates.crt",
	"/etc/pki/tls/certs/ca-bundle.crt",
	"/etc/ssl/ca-bundle.pem",
	"/etc/pki/tls/cacert.pem",
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
	"/etc/ssl/cert.pem",
}

// authority is the emulator's private certificate authority and the server
// certificate it issued for the loopback names.
type authority struct {
	caCert *x509.Certificate
	caPEM  []byte
	server tls.Certificate
}

// loadOrCreateAuthority loads the CA from dir, or creates one (and saves it
// when dir is not empty), then issues a server certificate for 127.0.0.1,
// ::1 and localhost.
func loadOrCreateAuthority(dir string, now time.Time) (*authority, error) {
	caCert, caKey, caPEM, err := loadCA(dir)
	if errors.Is(err, fs.ErrNotExist) {
		caCert, caKey, caPEM, err = createCA(now)
		if err == nil && dir != "" {
			err = saveCA(dir, caPEM, caKey)
		}
	}
	if err != nil {
		return nil, err
	}
	server, err := issueServerCert(caCert, caKey, now)
	if err != nil {
		return nil, err
	}
	return &authority{caCert: caCert, caPEM: caPEM, server: server}, nil
}

func loadCA(dir string) (*x509.Certificate, crypto.Signer, []byte, error) {
	if dir == "" {
		return nil, nil, nil, fs.ErrNotExist
	}
	certPEM, err := os.ReadFile(filepath.Join(dir, caCertFile))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read emulator CA: %w", err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, caKeyFile))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read emulator CA key: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("load emulator CA from %s: %w", dir, err)
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, nil, nil, fmt.Errorf("emulator CA key in %s cannot sign", dir)
	}
	return pair.Leaf, signer, certPEM, nil
}

func createCA(now time.Time) (*x509.Certificate, crypto.Signer, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("generate CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "Entra emulator local CA", Organization: []string{"ocpro local stack"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	return cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

func saveCA(dir string, certPEM []byte, key crypto.Signer) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encode CA key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create emulator dir: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	// The key goes first so that a crash between the two writes leaves no
	// certificate without its key.
	if err := writeFileAtomic(filepath.Join(dir, caKeyFile), keyPEM, 0o600); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, caCertFile), certPEM, 0o644)
}

func issueServerCert(ca *x509.Certificate, caKey crypto.Signer, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate server key: %w", err)
	}
	notAfter := now.AddDate(1, 0, 0)
	if notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("issue server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("parse server certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

// writeCABundle writes the first readable system root file followed by
// caPEM to path, so that one SSL_CERT_FILE trusts both the public internet
// and the emulator.
func writeCABundle(path string, caPEM []byte, systemFiles []string) error {
	var buf bytes.Buffer
	for _, f := range systemFiles {
		roots, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		buf.Write(roots)
		if !bytes.HasSuffix(roots, []byte("\n")) {
			buf.WriteByte('\n')
		}
		break
	}
	buf.WriteString("# Entra emulator local CA\n")
	buf.Write(caPEM)
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create CA bundle dir: %w", err)
		}
	}
	return writeFileAtomic(path, buf.Bytes(), 0o644)
}

// writeFileAtomic replaces path in one rename, so that a process reading
// the file never sees half of it.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // No-op once renamed.
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func randomSerial() *big.Int {
	// 128 random bits; rand.Int only fails if the system RNG does, and
	// Go's crypto/rand never returns an error since Go 1.24.
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	return n
}
