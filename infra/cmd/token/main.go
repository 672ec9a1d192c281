// Command token prints a bearer token for an operator's staff, fetched from
// the control API of the running local stack's Entra emulator:
//
//	go run ./infra/cmd/token [-operator NAME] [-url https://127.0.0.1:PORT] [-ca FILE] [-env FILE]
//
// The emulator URL and its CA come from the flags, else from ENTRA_URL and
// ENTRA_CA_FILE in the environment, else from the env file the local stack
// writes (.cache/stack/env).
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

const (
	defaultOperator = "local-operator"
	defaultEnvFile  = ".cache/stack/env"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "token:", err)
		}
		os.Exit(2)
	}
}

// settings say where the emulator is and which operator to ask for.
type settings struct {
	operator string
	url      string
	caFile   string
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	s, err := parse(args, getenv, stderr)
	if err != nil {
		return err
	}
	client, err := newClient(s.caFile)
	if err != nil {
		return err
	}
	tok, err := fetchToken(ctx, client, s)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}

// parse resolves the settings: flags first, then the process environment,
// then the stack's env file.
func parse(args []string, getenv func(string) string, stderr io.Writer) (settings, error) {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	operator := fs.String("operator", defaultOperator, "operator whose staff token to print")
	url := fs.String("url", "", "emulator base URL (default $ENTRA_URL)")
	ca := fs.String("ca", "", "PEM file with the emulator CA (default $ENTRA_CA_FILE)")
	envFile := fs.String("env", defaultEnvFile, "KEY=VALUE file written by the local stack")
	if err := fs.Parse(args); err != nil {
		return settings{}, err
	}
	if fs.NArg() > 0 {
		return settings{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	explicitEnv := false
	fs.Visit(func(f *flag.Flag) { explicitEnv = explicitEnv || f.Name == "env" })

	fileVars, err := readEnvFile(*envFile)
	if errors.Is(err, os.ErrNotExist) && !explicitEnv {
		// The default file exists only while the stack runs; flags or the
		// environment may still say everything.
		fileVars, err = map[string]string{}, nil
	}
	if err != nil {
		return settings{}, err
	}
	lookup := func(flagValue, key string) string {
		if flagValue != "" {
			return flagValue
		}
		if v := getenv(key); v != "" {
			return v
		}
		return fileVars[key]
	}
	s := settings{operator: *operator, url: lookup(*url, "ENTRA_URL"), caFile: lookup(*ca, "ENTRA_CA_FILE")}
	if s.url == "" {
		return settings{}, fmt.Errorf("no emulator URL: pass -url, set ENTRA_URL, or start the local stack (make run), which writes %s", defaultEnvFile)
	}
	if !strings.HasPrefix(s.url, "https://") {
		return settings{}, fmt.Errorf("emulator URL %q must be https", s.url)
	}
	return s, nil
}

// readEnvFile reads KEY=VALUE lines, skipping blanks and # comments, and
// strips one pair of surrounding quotes from values.
func readEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read env file: %w", err)
	}
	defer f.Close()
	vars := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if !ok {
			return nil, fmt.Errorf("env file %s line %d: want KEY=VALUE", path, n)
		}
		value = strings.TrimSpace(value)
		if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
			value = value[1 : len(value)-1]
		}
		vars[strings.TrimSpace(key)] = value
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read env file %s: %w", path, err)
	}
	return vars, nil
}

// newClient trusts the emulator CA from caFile, or the system roots (which
// SSL_CERT_FILE may extend) when no file is given.
func newClient(caFile string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read emulator CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("emulator CA file %s holds no PEM certificate", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, nil
}

func fetchToken(ctx context.Context, client *http.Client, s settings) (string, error) {
	body, err := json.Marshal(map[string]string{"operator": s.operator})
	if err != nil {
		return "", fmt.Errorf("encode request: %w", err)
	}
	endpoint := strings.TrimSuffix(s.url, "/") + "/_control/operator-token"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	var verifyErr *tls.CertificateVerificationError
	if errors.As(err, &verifyErr) {
		return "", fmt.Errorf("the CA file does not trust the emulator at %s; is -ca (ENTRA_CA_FILE) the CA of this stack? %w", s.url, err)
	}
	if err != nil {
		return "", fmt.Errorf("the Entra emulator at %s is not reachable; is the local stack running (make run)? %w", s.url, err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken      string `json:"access_token"`
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil {
		return "", fmt.Errorf("emulator answered %s with no JSON; is %s the Entra emulator? %w", resp.Status, s.url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("emulator refused: %s: %s", out.Error, out.ErrorDescription)
	}
	if out.AccessToken == "" {
		return "", errors.New("emulator answered without an access_token")
	}
	return out.AccessToken, nil
}
