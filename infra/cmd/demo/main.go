// Command demo walks the upgrade flow against a running local stack (make
// run) and prints each step with the vendor guide's step numbers.
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
	"regexp"
	"strings"
	"time"

	"github.com/ocpro/upgrade/infra/seslocal"
)

func main() {
	envFile := flag.String("env", ".cache/stack/env", "the env file make run writes")
	operator := flag.String("operator", "local-operator", "operator to act as")
	flag.Parse()
	if err := run(*envFile, *operator); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

type demo struct {
	api, entra string
	token      string
	http       *http.Client
	entraHTTP  *http.Client
}

func run(envFile, operator string) error {
	env, err := readEnv(envFile)
	if err != nil {
		return fmt.Errorf("%w (is make run up?)", err)
	}
	defer printConsoleWalk(env)
	d := &demo{api: env["API_URL"], entra: env["ENTRA_URL"], http: &http.Client{Timeout: 30 * time.Second}}
	if d.entraHTTP, err = trusting(env["ENTRA_CA_FILE"]); err != nil {
		return err
	}
	ctx := context.Background()

	step("", "portal sign-in: a token for operator %q from the Entra emulator", operator)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := d.call(ctx, d.entraHTTP, d.entra+"/_control/operator-token", http.MethodPost, map[string]any{"operator": operator}, &tok, ""); err != nil {
		return err
	}
	d.token = tok.AccessToken

	step("1", "Tenants page: create the customer")
	var customer map[string]any
	suffix := time.Now().UTC().Format("150405")
	if err := d.call(ctx, d.http, d.api+"/v1/customers", http.MethodPost, map[string]any{
		"name": "Contoso Ltd " + suffix, "kind": "CUSTOMER", "domain": "contoso.example",
	}, &customer, ""); err != nil {
		return err
	}
	show(customer)

	step("2-6", "Upgrade Customer: full name, short name, OC Pro, 25 users, send link to IT administrator")
	var upgrade map[string]any
	if err := d.call(ctx, d.http, fmt.Sprintf("%s/v1/customers/%s/upgrades", d.api, customer["id"]), http.MethodPost, map[string]any{
		"serviceFullName":  "Contoso Teams Calling",
		"serviceShortName": "contoso" + suffix[2:],
		"licenseType":      "OC_PRO",
		"licensedUsers":    25,
		"adminEmail":       "it-admin@contoso.example",
		"sendInvitation":   true,
	}, &upgrade, "demo-"+suffix); err != nil {
		return err
	}
	show(upgrade)

	inv, _ := upgrade["invitation"].(map[string]any)
	step("7", "the IT administrator's mailbox: the Welcome mail")
	authURL, _ := inv["authUrl"].(string)
	m, err := welcomeMail(ctx, env["MAIL_URL"], "it-admin@contoso.example", authURL)
	if err != nil {
		return err
	}
	fmt.Printf("  To:      %s\n  Subject: %s\n  Link:    %s\n", strings.Join(m.To, ", "), m.Subject, linkRe.FindString(m.Text))

	step("8", "Security > Customer Invitations: the invitation and its AuthURL")
	var invitation map[string]any
	if err := d.call(ctx, d.http, fmt.Sprintf("%s/v1/invitations/%s", d.api, inv["id"]), http.MethodGet, nil, &invitation, ""); err != nil {
		return err
	}
	show(invitation)
	fmt.Printf("\nAuthURL: %s\n", invitation["authUrl"])
	return d.finish(ctx, upgrade, authURL)
}

// mailWait bounds the wait for the Welcome mail; the mail function sends
// it within a second of the upgrade on a healthy stack.
const mailWait = 30 * time.Second

// linkRe finds the Token Invitation wizard link in a mail.
var linkRe = regexp.MustCompile(`https?://\S+/invite/[A-Za-z0-9._~-]+`)

// welcomeMail waits until the mailbox at mailURL holds the mail for admin
// that carries authURL. Earlier demo runs mailed the same address, so the
// link, not the address, picks this run's mail.
func welcomeMail(ctx context.Context, mailURL, admin, authURL string) (seslocal.Mail, error) {
	if mailURL == "" || authURL == "" {
		return seslocal.Mail{}, errors.New("no mailbox address in the env file, or no link on the invitation")
	}
	ctx, cancel := context.WithTimeout(ctx, mailWait)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		mails, err := seslocal.MailsTo(ctx, mailURL, admin)
		for _, m := range mails {
			if strings.Contains(m.Text, authURL) {
				return m, nil
			}
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = ctx.Err()
			}
			return seslocal.Mail{}, fmt.Errorf("no Welcome mail for %s in %s after %v: %w", admin, mailURL, mailWait, err)
		case <-tick.C:
		}
	}
}

func (d *demo) call(ctx context.Context, c *http.Client, url, method string, body any, out any, idemKey string) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if d.token != "" {
		req.Header.Set("Authorization", "Bearer "+d.token)
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Printf("  %s %s -> %d\n", method, strings.TrimPrefix(strings.TrimPrefix(url, d.api), d.entra), resp.StatusCode)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	return json.Unmarshal(b, out)
}

func step(n, format string, args ...any) {
	if n != "" {
		fmt.Printf("\n[step %s] ", n)
	} else {
		fmt.Print("\n")
	}
	fmt.Printf(format+"\n", args...)
}

func show(v any) {
	b, _ := json.MarshalIndent(v, "  ", "  ")
	fmt.Printf("  %s\n", b)
}

func readEnv(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = v
		}
	}
	for _, k := range []string{"API_URL", "ENTRA_URL", "ENTRA_CA_FILE"} {
		if env[k] == "" {
			return nil, fmt.Errorf("%s: no %s", path, k)
		}
	}
	return env, sc.Err()
}

func trusting(caFile string) (*http.Client, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("no certificates in " + caFile)
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}, nil
}
