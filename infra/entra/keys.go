package entra

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// Signing key files under Config.Dir. Both are kept, so that tokens issued
// before a restart of the local stack still validate after it.
const (
	currentKeyFile  = "signing-current.pem"
	previousKeyFile = "signing-previous.pem"
)

// signingKey is one RS256 token signing key with the self-signed
// certificate that JWKS publishes in x5c, as Microsoft does.
type signingKey struct {
	kid  string
	priv *rsa.PrivateKey
	cert *x509.Certificate
}

// x5t is the base64url SHA-1 thumbprint of the certificate. Microsoft uses
// the same value for kid.
func (k *signingKey) x5t() string {
	sum := sha1.Sum(k.cert.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func newSigningKey(now time.Time) (*signingKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: "accounts.entra-emulator.local"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(5, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return nil, fmt.Errorf("create signing certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse signing certificate: %w", err)
	}
	k := &signingKey{priv: priv, cert: cert}
	k.kid = k.x5t()
	return k, nil
}

func loadSigningKey(path string) (*signingKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read signing key: %w", err)
	}
	// The file holds the certificate and the key, in either order.
	pair, err := tls.X509KeyPair(data, data)
	if err != nil {
		return nil, fmt.Errorf("load signing key %s: %w", path, err)
	}
	priv, ok := pair.PrivateKey.(*rsa.PrivateKey)
	if !ok || priv.N.BitLen() < 2048 {
		return nil, fmt.Errorf("signing key %s is not a 2048-bit RSA key", path)
	}
	k := &signingKey{priv: priv, cert: pair.Leaf}
	k.kid = k.x5t()
	return k, nil
}

func saveSigningKey(path string, k *signingKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(k.priv)
	if err != nil {
		return fmt.Errorf("encode signing key: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.cert.Raw})
	data = append(data, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})...)
	return writeFileAtomic(path, data, 0o600)
}

// loadOrCreateSigningKeys returns the current and the previous signing key,
// read from dir or generated (and saved when dir is set).
func loadOrCreateSigningKeys(dir string, now time.Time) (current, previous *signingKey, err error) {
	load := func(name string) (*signingKey, error) {
		if dir != "" {
			k, err := loadSigningKey(filepath.Join(dir, name))
			if !errors.Is(err, fs.ErrNotExist) {
				return k, err
			}
		}
		k, err := newSigningKey(now)
		if err != nil {
			return nil, err
		}
		if dir != "" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("create emulator dir: %w", err)
			}
			if err := saveSigningKey(filepath.Join(dir, name), k); err != nil {
				return nil, err
			}
		}
		return k, nil
	}
	if current, err = load(currentKeyFile); err != nil {
		return nil, nil, err
	}
	if previous, err = load(previousKeyFile); err != nil {
		return nil, nil, err
	}
	return current, previous, nil
}

// jwk is one entry of the JWKS document in the shape Microsoft serves.
type jwk struct {
	Kty    string   `json:"kty"`
	Use    string   `json:"use"`
	Kid    string   `json:"kid"`
	X5t    string   `json:"x5t"`
	N      string   `json:"n"`
	E      string   `json:"e"`
	X5c    []string `json:"x5c"`
	Issuer string   `json:"issuer,omitempty"`
}

func (k *signingKey) jwk(issuer string) jwk {
	return jwk{
		Kty:    "RSA",
		Use:    "sig",
		Kid:    k.kid,
		X5t:    k.x5t(),
		N:      base64.RawURLEncoding.EncodeToString(k.priv.N.Bytes()),
		E:      base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.priv.E)).Bytes()),
		X5c:    []string{base64.StdEncoding.EncodeToString(k.cert.Raw)},
		Issuer: issuer,
	}
}
