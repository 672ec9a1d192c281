package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocpro/upgrade/infra/entra"
	"github.com/ocpro/upgrade/infra/seslocal"
	"github.com/ocpro/upgrade/infra/stack"
)

// waiting is an upgrade whose administrator finished the wizard: the
// invitation is AUTHENTICATION_COMPLETE and the operator can resume.
type waiting struct {
	c                                  *client
	tn                                 tenant
	customerID, upgradeID, invitation  string
	serviceID, shortName, adminAddress string
}

// authenticated runs guide steps 1-22 for a fresh operator and a fresh
// customer tenant, so that no other test shares its consent or records.
func authenticated(t *testing.T, prefix string) waiting {
	t.Helper()
	c := portal(t, unique("op-"+prefix+"-"))
	tn := newTenant(t)
	// Steps 1-6: the customer and the Onboarding wizard's first screen.
	cust := newCustomer(t, c)
	w := waiting{c: c, tn: tn, customerID: cust["id"].(string), shortName: unique(prefix), adminAddress: unique("admin-") + "@" + strings.TrimPrefix(tn.admin, "admin@")}
	body := upgradeBody(w.shortName)
	body["adminEmail"] = w.adminAddress
	up := must(t, c.do(http.MethodPost, "/v1/customers/"+w.customerID+"/upgrades", body), http.StatusCreated)
	w.upgradeID = up["id"].(string)
	w.serviceID = up["service"].(map[string]any)["id"].(string)
	inv := up["invitation"].(map[string]any)
	w.invitation = inv["id"].(string)

	// Steps 9-20: the wizard, "Sign in with Microsoft" then admin consent.
	b := newBrowser(t)
	authURL := inv["authUrl"].(string)
	acquired := signIn(t, b, authURL, tn.admin)
	wantText(t, acquired, http.StatusOK, "successfully acquired a token")
	wantText(t, consent(t, b, authURL, acquired, tn.admin), http.StatusOK, "Tenant Activation")

	// Step 22: Pending Invitations shows AUTHENTICATION_COMPLETE, and the
	// automatic validation after Authentication Completed marks the
	// upgrade ready.
	if s := invitationStatus(t, c, w.invitation); s["status"] != "AUTHENTICATION_COMPLETE" || s["tenantId"] != tn.id {
		t.Fatalf("step 22: invitation = %v", s)
	}
	w.waitForStatus(t, "READY_TO_RESUME")
	return w
}

func (w waiting) upgrade(t *testing.T) map[string]any {
	t.Helper()
	return must(t, w.c.do(http.MethodGet, "/v1/upgrades/"+w.upgradeID, nil), http.StatusOK)
}

func (w waiting) waitForStatus(t *testing.T, status string) {
	t.Helper()
	waitUntil(t, "upgrade "+status, func() bool { return w.upgrade(t)["status"] == status })
}

func (w waiting) resume(license string, users int) response {
	return w.c.do(http.MethodPost, "/v1/upgrades/"+w.upgradeID+"/resume", map[string]any{"licenseType": license, "licensedUsers": users})
}

// unchanged fails t unless the refused resume left the upgrade waiting,
// the service pending, the customer on its licence and no SIP connection.
func (w waiting) unchanged(t *testing.T) {
	t.Helper()
	if u := w.upgrade(t); u["status"] != "READY_TO_RESUME" || u["service"].(map[string]any)["status"] != "PENDING_AUTHENTICATION" {
		t.Errorf("upgrade after a refused resume = %v", u)
	}
	cust := must(t, w.c.do(http.MethodGet, "/v1/customers/"+w.customerID, nil), http.StatusOK)
	if cust["license"] != "OC_ESSENTIALS" || cust["licensedUsers"] != float64(0) {
		t.Errorf("customer after a refused resume = %v", cust)
	}
	sips := must(t, w.c.do(http.MethodGet, "/v1/services/"+w.serviceID+"/sip-connections", nil), http.StatusOK)
	if n := len(sips["items"].([]any)); n != 0 {
		t.Errorf("%d SIP connections after a refused resume", n)
	}
}

// wantTenantProblem fails t unless r is a problem about the tenant whose
// message keeps the AADSTS code.
func wantTenantProblem(t *testing.T, r response, status int, aadsts string) map[string]any {
	t.Helper()
	p := must(t, r, status)
	errs, _ := p["errors"].([]any)
	if len(errs) != 1 {
		t.Fatalf("problem errors = %v", p)
	}
	e := errs[0].(map[string]any)
	if e["field"] != "tenant" || e["code"] == "" || !strings.Contains(e["message"].(string), aadsts) {
		t.Fatalf("tenant error = %v, want a reason with %s", e, aadsts)
	}
	return e
}

// The whole guide, steps 1 to 30, through the local stack.
func TestSeedFlow(t *testing.T) {
	t.Parallel()
	c := portal(t, unique("op-seed-"))
	tn := newTenant(t)
	domain := strings.TrimPrefix(tn.admin, "admin@")
	admin := "it-admin@" + domain

	// Steps 1-6: create the customer, then the upgrade to OC Pro with the
	// administrator's address and "send link to IT administrator" on.
	cust := must(t, c.do(http.MethodPost, "/v1/customers", map[string]any{"name": "Seed " + unique("s"), "kind": "CUSTOMER", "domain": domain}), http.StatusCreated)
	customerID := cust["id"].(string)
	short := unique("Seed")
	body := upgradeBody(short)
	body["adminEmail"], body["licensedUsers"] = admin, 40
	up := must(t, c.do(http.MethodPost, "/v1/customers/"+customerID+"/upgrades", body), http.StatusCreated)
	upgradeID := up["id"].(string)
	serviceID := up["service"].(map[string]any)["id"].(string)
	inv := up["invitation"].(map[string]any)
	invitationID, authURL := inv["id"].(string), inv["authUrl"].(string)

	// Step 8: the Welcome mail with the link reaches the administrator.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	mail, err := seslocal.WaitForMail(ctx, env.MailURL, admin)
	if err != nil {
		t.Fatalf("step 8: no Welcome mail: %v", err)
	}
	if !strings.Contains(mail.Text, authURL) {
		t.Fatalf("step 8: the Welcome mail lacks the link:\n%s", mail.Text)
	}
	waitUntil(t, "emailSent", func() bool { return invitationStatus(t, c, invitationID)["emailSent"] == true })

	// Steps 9-20: the wizard through the emulator, the device code way as
	// the guide shows it, then the tenant-wide admin consent.
	b := newBrowser(t)
	device := b.action(b.get(authURL), authURL, "device", nil)
	if err := env.Entra.ApproveDeviceCode(find(t, userCodeRe, device), tn.admin); err != nil {
		t.Fatal(err)
	}
	acquired := waitForStep(t, b, authURL, "successfully acquired a token")
	wantText(t, consent(t, b, authURL, acquired, tn.admin), http.StatusOK, "Tenant Activation", tn.id)

	// Step 22: Pending Invitations shows AUTHENTICATION_COMPLETE.
	pending := must(t, c.do(http.MethodGet, "/v1/invitations?status=AUTHENTICATION_COMPLETE&customerId="+customerID, nil), http.StatusOK)
	if items := pending["items"].([]any); len(items) != 1 || items[0].(map[string]any)["id"] != invitationID {
		t.Fatalf("step 22: pending invitations = %v", pending)
	}
	// The automatic validation after Authentication Completed.
	w := waiting{c: c, tn: tn, customerID: customerID, upgradeID: upgradeID, invitation: invitationID, serviceID: serviceID}
	w.waitForStatus(t, "READY_TO_RESUME")
	var auto map[string]any
	waitUntil(t, "the automatic validation", func() bool {
		r := c.do(http.MethodGet, "/v1/customers/"+customerID+"/m365", nil)
		if r.Status != http.StatusOK {
			return false
		}
		auto, _ = r.JSON(t)["lastValidation"].(map[string]any)
		return auto != nil
	})
	if auto["passed"] != true || auto["tenantId"] != tn.id {
		t.Fatalf("automatic validation = %v", auto)
	}

	// Step 24: resume, confirming the licence and the users.
	done := must(t, w.resume("OC_PRO", 40), http.StatusOK)
	svc := done["service"].(map[string]any)
	if done["status"] != "COMPLETED" || svc["status"] != "ACTIVE" || svc["licenseType"] != "OC_PRO" || svc["licensedUsers"] != float64(40) {
		t.Fatalf("step 24: resumed upgrade = %v", done)
	}
	details := must(t, c.do(http.MethodGet, "/v1/services/"+serviceID, nil), http.StatusOK)
	want := []any{"Users", "Assign Phone Numbers", "Online Voice Routing", "Queued Changes", "Edit User Policies",
		"Number Ranges", "Reserved Numbers", "LifeCycle Management", "Audit"}
	if details["status"] != "ACTIVE" || !slices.Equal(details["permissions"].([]any), want) {
		t.Fatalf("service after resume = %v", details)
	}

	// Step 25: the customer shows its new licence and its service.
	cust = must(t, c.do(http.MethodGet, "/v1/customers/"+customerID, nil), http.StatusOK)
	services, _ := cust["services"].([]any)
	if cust["license"] != "OC_PRO" || cust["licensedUsers"] != float64(40) || len(services) != 1 ||
		services[0].(map[string]any)["status"] != "ACTIVE" {
		t.Fatalf("step 25: customer = %v", cust)
	}

	// Step 26: the SIP connection, under the operator's SIP domain.
	sips := must(t, c.do(http.MethodGet, "/v1/services/"+serviceID+"/sip-connections", nil), http.StatusOK)
	items := sips["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("step 26: SIP connections = %v", sips)
	}
	sip := items[0].(map[string]any)
	wantFQDN := strings.ToLower(short) + "." + env.Template.Parameters["SipDomain"].Default
	if sip["fqdn"] != wantFQDN || sip["port"] != float64(5061) || sip["transport"] != "TLS" || sip["status"] != "ACTIVE" {
		t.Fatalf("step 26: SIP connection = %v, want fqdn %s", sip, wantFQDN)
	}

	// Steps 27-28: M365 settings.
	m := must(t, c.do(http.MethodGet, "/v1/customers/"+customerID+"/m365", nil), http.StatusOK)
	if m["tenantId"] != tn.id || m["applicationId"] != stack.ServiceClientID || m["consentedBy"] != tn.admin ||
		m["access"] != "WORKING" || len(m["grantedPermissions"].([]any)) == 0 {
		t.Fatalf("step 27: M365 settings = %v", m)
	}
	// Step 29: Validate Authentication, a real check with a new time.
	v := must(t, c.do(http.MethodPost, "/v1/customers/"+customerID+"/m365/validate", nil), http.StatusOK)
	app := v["application"].(map[string]any)
	if v["passed"] != true || app["passed"] != true || v["at"] == auto["at"] {
		t.Fatalf("step 29: validation = %v", v)
	}
	last := must(t, c.do(http.MethodGet, "/v1/customers/"+customerID+"/m365", nil), http.StatusOK)["lastValidation"].(map[string]any)
	if last["at"] != v["at"] {
		t.Fatalf("step 29: stored validation at %v, want %v", last["at"], v["at"])
	}
	// Step 30: the upgrade stays finished; resuming again changes nothing.
	if again := must(t, w.resume("OC_PRO", 40), http.StatusOK); again["status"] != "COMPLETED" {
		t.Fatalf("step 30: upgrade = %v", again)
	}
}

// Consent revoked between the wizard and resume: the operator learns why,
// and nothing changes. Seconds after consent, Microsoft's 700016 is what
// its token service also answers while consent propagates, so the refusal
// is transient (503, try again shortly) and names both readings; long
// after consent it is permanent (validate/TestConsentPropagationIsTransient).
func TestResumeAfterConsentRevoked(t *testing.T) {
	t.Parallel()
	w := authenticated(t, "revoked")
	if err := env.Entra.RevokeConsent(w.tn.id, stack.ServiceClientID); err != nil {
		t.Fatal(err)
	}
	e := wantTenantProblem(t, w.resume("OC_PRO", 25), http.StatusServiceUnavailable, "AADSTS700016")
	msg := strings.ToLower(e["message"].(string))
	if !strings.Contains(msg, "consent was removed") || !strings.Contains(msg, "few minutes") {
		t.Errorf("reason %q does not say consent may be removed or still on its way", e["message"])
	}
	w.unchanged(t)
}

// An expired application secret (AADSTS7000222) stops every tenant's
// application token, so this test runs alone: it does not call
// t.Parallel, and Go runs the parallel tests only after the serial ones.
func TestResumeWithExpiredSecret(t *testing.T) {
	w := authenticated(t, "expired")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := env.Bus.Drain(ctx); err != nil { // the automatic validation must not see the expiry
		t.Fatal(err)
	}
	if err := env.Entra.ExpireAppSecret(stack.ServiceClientID, true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Entra.ExpireAppSecret(stack.ServiceClientID, false); err != nil {
			t.Errorf("restore the secret: %v", err)
		}
	})
	wantTenantProblem(t, w.resume("OC_PRO", 25), http.StatusUnprocessableEntity, "AADSTS7000222")
	w.unchanged(t)
}

// Microsoft Graph down: a transient refusal with Microsoft's Retry-After,
// nothing changed, and the same resume works once Graph is back.
func TestResumeWhileGraphIsDown(t *testing.T) {
	t.Parallel()
	w := authenticated(t, "graphdown")
	const retryAfter = 7
	if err := env.Entra.InjectFault(entra.Fault{Kind: entra.FaultGraph, Tenant: w.tn.id, Status: http.StatusServiceUnavailable,
		RetryAfter: retryAfter, Count: 3}); err != nil {
		t.Fatal(err)
	}
	r := w.resume("OC_PRO", 25)
	wantTenantProblem(t, r, http.StatusServiceUnavailable, "")
	if got := r.Header.Get("Retry-After"); got != fmt.Sprint(retryAfter) {
		t.Errorf("Retry-After = %q, want %d", got, retryAfter)
	}
	w.unchanged(t)
	waitUntil(t, "Graph back", func() bool { return w.resume("OC_PRO", 25).Status == http.StatusOK })
	if u := w.upgrade(t); u["status"] != "COMPLETED" {
		t.Fatalf("after Graph came back: %v", u)
	}
}

// Two resumes at once: one upgrade, one SIP connection, both answered with
// the finished upgrade.
func TestDoubleResume(t *testing.T) {
	t.Parallel()
	w := authenticated(t, "double")
	rs := make([]response, 2)
	var wg sync.WaitGroup
	for i := range rs {
		wg.Go(func() { rs[i] = w.resume("OC_ESSENTIALS_PLUS", 30) })
	}
	wg.Wait()
	for _, r := range rs {
		if u := must(t, r, http.StatusOK); u["id"] != w.upgradeID || u["status"] != "COMPLETED" {
			t.Fatalf("resume = %v", u)
		}
	}
	sips := must(t, w.c.do(http.MethodGet, "/v1/services/"+w.serviceID+"/sip-connections", nil), http.StatusOK)
	if n := len(sips["items"].([]any)); n != 1 {
		t.Fatalf("%d SIP connections after a double resume, want 1", n)
	}
	svc := must(t, w.c.do(http.MethodGet, "/v1/services/"+w.serviceID, nil), http.StatusOK)
	if perms := svc["permissions"].([]any); len(perms) != 4 {
		t.Errorf("OC Essentials Plus permissions = %v", perms)
	}
	// Another confirmation after completion is a conflict, not a silent no-op.
	must(t, w.resume("OC_PRO", 30), http.StatusConflict)
}

// Resume racing cancel: exactly one wins, and the records agree with it.
func TestResumeRacingCancel(t *testing.T) {
	t.Parallel()
	w := authenticated(t, "race")
	var resumed, cancelled response
	var wg sync.WaitGroup
	wg.Go(func() { resumed = w.resume("OC_PRO", 25) })
	wg.Go(func() { cancelled = w.c.do(http.MethodPost, "/v1/upgrades/"+w.upgradeID+"/cancel", nil) })
	wg.Wait()

	final := w.upgrade(t)
	sips := must(t, w.c.do(http.MethodGet, "/v1/services/"+w.serviceID+"/sip-connections", nil), http.StatusOK)["items"].([]any)
	cust := must(t, w.c.do(http.MethodGet, "/v1/customers/"+w.customerID, nil), http.StatusOK)
	switch final["status"] {
	case "COMPLETED":
		if cancelled.Status != http.StatusConflict || len(sips) != 1 || cust["license"] != "OC_PRO" {
			t.Fatalf("resume won, but cancel = %d, %d SIP connections, customer %v", cancelled.Status, len(sips), cust)
		}
		must(t, resumed, http.StatusOK)
	case "CANCELLED":
		if resumed.Status != http.StatusConflict || len(sips) != 0 || cust["license"] != "OC_ESSENTIALS" || cust["reservedUsers"] != float64(0) {
			t.Fatalf("cancel won, but resume = %d %s, %d SIP connections, customer %v", resumed.Status, resumed.Body, len(sips), cust)
		}
		must(t, cancelled, http.StatusOK)
		if s := invitationStatus(t, w.c, w.invitation); s["status"] != "REVOKED" {
			t.Errorf("invitation after cancel = %v", s["status"])
		}
	default:
		t.Fatalf("after the race: %v", final)
	}
}
