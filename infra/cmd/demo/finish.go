package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/ocpro/upgrade/infra/entra"
	"github.com/ocpro/upgrade/infra/stack"
)

// demoAdmin is the seeded Global Administrator of the emulator's Contoso
// tenant, where the demo's customer lives. Contoso consents once; later
// runs find the consent given and go straight to Tenant Activation, as a
// tenant that consented before does in Entra.
const demoAdmin = entra.ContosoAdmin

// flowWait bounds each wait on the stack (the token poll, the automatic
// validation); a healthy stack needs a second or two.
const flowWait = 45 * time.Second

var (
	formRe     = regexp.MustCompile(`name="form" value="([^"]+)"`)
	userCodeRe = regexp.MustCompile(`id="usercode"[^>]*value="([A-Z0-9]+)"`)
)

// finish walks seed steps 9-29 for the upgrade: the administrator's side
// through the wizard pages and the emulator's control API, then the
// operator's resume, and ends with the upgraded service, its permissions
// and its SIP connection.
func (d *demo) finish(ctx context.Context, upgrade map[string]any, authURL string) error {
	admin, err := newAdminBrowser(d.http)
	if err != nil {
		return err
	}

	step("9", "the administrator opens the link: the Token Invitation wizard")
	welcome, err := admin.page(ctx, authURL, nil)
	if err != nil {
		return err
	}
	step("10-11", "Start authentication: the device code")
	device, err := admin.post(ctx, authURL+"/device", welcome)
	if err != nil {
		return err
	}
	code := userCodeRe.FindStringSubmatch(device)
	if code == nil {
		return errors.New("the device code page shows no code")
	}
	fmt.Printf("  code: %s\n", code[1])

	step("12-16", "microsoft.com/devicelogin: %s enters the code, signs in and approves (emulator control API)", demoAdmin)
	if err := d.control(ctx, "/_control/devicecode/approve", map[string]any{"userCode": code[1], "user": demoAdmin}); err != nil {
		return err
	}
	acquired, err := admin.waitFor(ctx, authURL+"/status", "successfully acquired a token")
	if err != nil {
		return err
	}
	fmt.Println("  the wizard: successfully acquired a token")

	step("17-19", "Consent on behalf of your organization: Accept (emulator control API)")
	if err := d.control(ctx, "/_control/consent/grant", map[string]any{"tenant": entra.ContosoTenantID, "clientId": stack.ServiceClientID}); err != nil {
		return err
	}
	step("20", "Click here to continue: the Tenant Activation page")
	done, err := admin.post(ctx, authURL+"/continue", acquired)
	if err != nil {
		return err
	}
	if !strings.Contains(done, "Tenant Activation") {
		return fmt.Errorf("the wizard did not reach Tenant Activation:\n%s", done)
	}
	fmt.Println("  Tenant Activation: the Token authentication process has successfully completed")

	inv, _ := upgrade["invitation"].(map[string]any)
	step("22", "Pending Invitations: the invitation is AUTHENTICATION_COMPLETE; the tenant is validated on its own")
	var invitation map[string]any
	if err := d.call(ctx, d.http, fmt.Sprintf("%s/v1/invitations/%s", d.api, inv["id"]), http.MethodGet, nil, &invitation, ""); err != nil {
		return err
	}
	fmt.Printf("  status %v, tenant %v, authenticated by %v\n", invitation["status"], invitation["tenantId"], invitation["authenticatedBy"])
	if err := d.waitForUpgrade(ctx, upgrade["id"], "READY_TO_RESUME"); err != nil {
		return err
	}

	step("23-24", "Resume the upgrade: confirm OC Pro and 25 users")
	var resumed map[string]any
	if err := d.call(ctx, d.http, fmt.Sprintf("%s/v1/upgrades/%s/resume", d.api, upgrade["id"]), http.MethodPost,
		map[string]any{"licenseType": "OC_PRO", "licensedUsers": 25}, &resumed, ""); err != nil {
		return err
	}
	fmt.Printf("  upgrade %v\n", resumed["status"])

	step("25", "Tenants page: the customer's new licence")
	var customer map[string]any
	if err := d.call(ctx, d.http, fmt.Sprintf("%s/v1/customers/%s", d.api, upgrade["customerId"]), http.MethodGet, nil, &customer, ""); err != nil {
		return err
	}
	fmt.Printf("  %v: %v, %v licensed users\n", customer["name"], customer["license"], customer["licensedUsers"])

	step("27-28", "M365 settings of the customer")
	var m365 map[string]any
	if err := d.call(ctx, d.http, fmt.Sprintf("%s/v1/customers/%s/m365", d.api, upgrade["customerId"]), http.MethodGet, nil, &m365, ""); err != nil {
		return err
	}
	fmt.Printf("  tenant %v, application %v, access %v\n  granted: %v\n", m365["tenantId"], m365["applicationId"], m365["access"], m365["grantedPermissions"])

	step("29", "Validate Authentication: real tokens, a real Graph call")
	var v map[string]any
	if err := d.call(ctx, d.http, fmt.Sprintf("%s/v1/customers/%s/m365/validate", d.api, upgrade["customerId"]), http.MethodPost, nil, &v, ""); err != nil {
		return err
	}
	fmt.Printf("  passed %v at %v\n", v["passed"], v["at"])

	svc, _ := resumed["service"].(map[string]any)
	step("26, 30", "the upgraded service, its permissions and its SIP connection")
	var service map[string]any
	if err := d.call(ctx, d.http, fmt.Sprintf("%s/v1/services/%s", d.api, svc["id"]), http.MethodGet, nil, &service, ""); err != nil {
		return err
	}
	fmt.Printf("  service:     %v (%v), %v, %v users, %v\n", service["fullName"], service["shortName"], service["licenseType"],
		service["licensedUsers"], service["status"])
	perms, _ := service["permissions"].([]any)
	fmt.Printf("  permissions: %d\n", len(perms))
	for _, p := range perms {
		fmt.Printf("    - %v\n", p)
	}
	sips, _ := service["sipConnections"].([]any)
	for _, s := range sips {
		c, _ := s.(map[string]any)
		fmt.Printf("  SIP connection: %v  %v:%v  %v  %v\n", c["name"], c["fqdn"], c["port"], c["transport"], c["status"])
	}
	return nil
}

// control posts one request to the emulator's control API, which answers
// 204 when it did what was asked.
func (d *demo) control(ctx context.Context, path string, body map[string]any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.entra+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.entraHTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	fmt.Printf("  POST %s -> %d\n", path, resp.StatusCode)
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("POST %s: %d %s", path, resp.StatusCode, msg)
	}
	return nil
}

// waitForUpgrade polls the upgrade until it has status.
func (d *demo) waitForUpgrade(ctx context.Context, id any, status string) error {
	ctx, cancel := context.WithTimeout(ctx, flowWait)
	defer cancel()
	for {
		var u map[string]any
		if err := d.call(ctx, d.http, fmt.Sprintf("%s/v1/upgrades/%v", d.api, id), http.MethodGet, nil, &u, ""); err != nil {
			return err
		}
		if u["status"] == status {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("upgrade %v is %v, not %s, after %v", id, u["status"], status, flowWait)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// adminBrowser is the administrator's browser: the wizard binds each
// invitation to the browser's cookie.
type adminBrowser struct{ c *http.Client }

func newAdminBrowser(base *http.Client) (*adminBrowser, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	return &adminBrowser{c: &http.Client{Timeout: base.Timeout, Transport: base.Transport, Jar: jar}}, nil
}

// page GETs (form nil) or POSTs a wizard page, following redirects, and
// returns its HTML.
func (b *adminBrowser) page(ctx context.Context, target string, form url.Values) (string, error) {
	method, body := http.MethodGet, io.Reader(nil)
	if form != nil {
		method, body = http.MethodPost, strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return "", err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	html, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s %s: %d", method, req.URL.Path, resp.StatusCode)
	}
	return string(html), nil
}

// post submits the wizard's form on the page from, as its button does.
func (b *adminBrowser) post(ctx context.Context, target, from string) (string, error) {
	m := formRe.FindStringSubmatch(from)
	if m == nil {
		return "", errors.New("the wizard page has no form")
	}
	return b.page(ctx, target, url.Values{"form": {m[1]}})
}

// waitFor polls the wizard's status page, as its script does, until it
// shows text.
func (b *adminBrowser) waitFor(ctx context.Context, target, text string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, flowWait)
	defer cancel()
	for {
		html, err := b.page(ctx, target, nil)
		if err == nil && strings.Contains(html, text) {
			return html, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("the wizard never showed %q: %v", text, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}
