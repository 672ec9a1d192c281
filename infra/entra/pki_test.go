package entra

import (
	"bytes"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestDirKeepsCAAndKeysAcrossRestarts(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "entra")
	first, err := New(Config{Dir: dir})
	if err != nil {
		t.Fatalf("first New: %v", err)
	}
	second, err := New(Config{Dir: dir})
	if err != nil {
		t.Fatalf("second New: %v", err)
	}
	if !bytes.Equal(first.CACertPEM(), second.CACertPEM()) {
		t.Error("the CA changed across restarts with the same Dir")
	}
	if first.current.kid != second.current.kid || first.previous.kid != second.previous.kid {
		t.Error("the signing keys changed across restarts with the same Dir")
	}
	if info, err := os.Stat(filepath.Join(dir, caKeyFile)); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("CA key file: %v, mode %v; want it private (0600)", err, info.Mode().Perm())
	}

	// A token from before the restart validates with the keys after it.
	first.SetBaseURL("https://127.0.0.1:4443")
	tok, err := first.OperatorToken("acme")
	if err != nil {
		t.Fatal(err)
	}
	second.SetBaseURL("https://127.0.0.1:4443")
	if _, err := validate(tok, map[string]*rsa.PublicKey{second.current.kid: &second.current.priv.PublicKey}, second.Issuer(), DefaultPortalAudience); err != nil {
		t.Errorf("token from before the restart: %v", err)
	}

	other, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(first.CACertPEM(), other.CACertPEM()) {
		t.Error("an in-memory emulator reused the CA from disk")
	}
}

func TestServerCertificateCoversLoopbackNames(t *testing.T) {
	t.Parallel()
	e, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	leaf := e.TLSConfig().Certificates[0].Leaf
	for _, name := range []string{"127.0.0.1", "localhost", "::1"} {
		_, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: e.CertPool(), CurrentTime: time.Now()})
		if err != nil {
			t.Errorf("certificate for %s: %v", name, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "login.microsoftonline.com", Roots: e.CertPool()}); err == nil {
		t.Error("the certificate claims login.microsoftonline.com; it must cover loopback names only")
	}
}

func TestWriteCABundle(t *testing.T) {
	t.Parallel()
	e, base := newServed(t, Config{})
	dir := t.TempDir()

	// A stand-in for the system roots: another emulator's CA.
	stranger, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	system := filepath.Join(dir, "system.pem")
	if err := os.WriteFile(system, stranger.CACertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(dir, "out", "bundle.pem")
	if err := writeCABundle(bundle, e.CACertPEM(), []string{filepath.Join(dir, "missing.pem"), system}); err != nil {
		t.Fatalf("writeCABundle: %v", err)
	}
	data, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	var subjects []string
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatalf("bundle holds a bad certificate: %v", err)
		}
		subjects = append(subjects, c.Subject.CommonName)
	}
	if len(subjects) != 2 {
		t.Fatalf("bundle has %d certificates, want the system one and the emulator CA", len(subjects))
	}

	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		t.Fatal("bundle does not load into a CertPool")
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(base + "/common/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatalf("client trusting the bundle: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status = %d", resp.StatusCode)
	}

	plain := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: x509.NewCertPool()}}}
	if resp, err := plain.Get(base + "/common/v2.0/.well-known/openid-configuration"); err == nil {
		resp.Body.Close()
		t.Error("a client without the bundle trusted the emulator")
	}
}

func TestWriteCABundleWithSystemRoots(t *testing.T) {
	t.Parallel()
	e, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "bundle.pem")
	if err := e.WriteCABundle(path); err != nil {
		t.Fatalf("WriteCABundle: %v", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(bytes.TrimSpace(data), bytes.TrimSpace(e.CACertPEM())) {
		t.Error("bundle does not end with the emulator CA")
	}
	if sys, err := os.ReadFile(systemRootFiles[0]); err == nil && !bytes.HasPrefix(data, sys) {
		t.Errorf("bundle does not start with %s", systemRootFiles[0])
	}
}
