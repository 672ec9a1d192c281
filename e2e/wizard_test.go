package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ocpro/upgrade/infra/dynamolocal"
	"github.com/ocpro/upgrade/infra/entra"
)

// tenant is a customer tenant of one test, so that consent given in one
// test never helps another.
type tenant struct {
	id, admin, user, domain, name string
}

func newTenant(t *testing.T) tenant {
	t.Helper()
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	id := h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-8" + h[17:20] + "-" + h[20:32]
	domain := "t" + h[:10] + ".example"
	if err := env.Entra.AddTenant(entra.Tenant{ID: id, Domains: []string{"t" + h[:10] + ".onmicrosoft.com", domain}, DisplayName: "Tenant " + h[:6]}); err != nil {
		t.Fatal(err)
	}
	tn := tenant{id: id, admin: "admin@" + domain, user: "user@" + domain, domain: domain, name: "Tenant " + h[:6]}
	if _, err := env.Entra.AddUser(entra.User{TenantID: id, UserPrincipalName: tn.admin, DisplayName: "Admin", Roles: []string{entra.GlobalAdministrator}, MFA: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Entra.AddUser(entra.User{TenantID: id, UserPrincipalName: tn.user, DisplayName: "User"}); err != nil {
		t.Fatal(err)
	}
	return tn
}

// invitation creates an upgrade and returns the invitation's id and link.
func invitation(t *testing.T, c *client) (id, authURL string) {
	t.Helper()
	cust := newCustomer(t, c)
	up := must(t, c.do(http.MethodPost, fmt.Sprintf("/v1/customers/%s/upgrades", cust["id"]), upgradeBody(unique("wiz"))), http.StatusCreated)
	inv := up["invitation"].(map[string]any)
	return inv["id"].(string), inv["authUrl"].(string)
}

// invitationIn creates an upgrade of a customer whose domain is the
// tenant's, and returns the invitation's id and link: consent in that
// tenant completes it.
func invitationIn(t *testing.T, c *client, tn tenant) (id, authURL string) {
	t.Helper()
	cust := must(t, c.do(http.MethodPost, "/v1/customers", map[string]any{
		"name": "Customer " + unique("c"), "kind": "CUSTOMER", "domain": tn.domain,
	}), http.StatusCreated)
	up := must(t, c.do(http.MethodPost, fmt.Sprintf("/v1/customers/%s/upgrades", cust["id"]), upgradeBody(unique("wiz"))), http.StatusCreated)
	inv := up["invitation"].(map[string]any)
	return inv["id"].(string), inv["authUrl"].(string)
}

func invitationStatus(t *testing.T, c *client, id string) map[string]any {
	t.Helper()
	return must(t, c.do(http.MethodGet, "/v1/invitations/"+id, nil), http.StatusOK)
}

// browser is a person's browser: a cookie jar, the emulator's CA, and
// redirects followed by hand so that a test can stop at one.
type browser struct {
	t      *testing.T
	client *http.Client
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := env.Entra.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{t: t, client: c}
}

// page is where the browser ended up.
type page struct {
	URL    *url.URL
	Status int
	Header http.Header
	Body   string
}

// do sends one request and follows redirects until stop says so (nil
// follows all).
func (b *browser) do(method, target string, form url.Values, stop func(*url.URL) bool) page {
	b.t.Helper()
	for range 20 {
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequest(method, target, body)
		if err != nil {
			b.t.Fatal(err)
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := b.client.Do(req)
		if err != nil {
			b.t.Fatalf("%s %s: %v", method, req.URL.Path, err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode < 300 || resp.StatusCode >= 400 || loc == "" {
			return page{URL: req.URL, Status: resp.StatusCode, Header: resp.Header, Body: string(raw)}
		}
		next, err := req.URL.Parse(loc)
		if err != nil {
			b.t.Fatal(err)
		}
		if stop != nil && stop(next) {
			return page{URL: next, Status: resp.StatusCode, Header: resp.Header}
		}
		method, target, form = http.MethodGet, next.String(), nil
	}
	b.t.Fatal("too many redirects")
	return page{}
}

func (b *browser) get(target string) page { return b.do(http.MethodGet, target, nil, nil) }

var (
	formTokenRe = regexp.MustCompile(`name="form" value="([^"]+)"`)
	ctxRe       = regexp.MustCompile(`name="ctx" value="([^"]+)"`)
	numberRe    = regexp.MustCompile(`name="number" value="([^"]+)"`)
	userCodeRe  = regexp.MustCompile(`id="usercode"[^>]*value="([A-Z0-9]+)"`)
)

func find(t *testing.T, re *regexp.Regexp, p page) string {
	t.Helper()
	m := re.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("%s (status %d) has no %s:\n%s", p.URL.Path, p.Status, re, p.Body)
	}
	return m[1]
}

// action posts one of the wizard's forms from the page p.
func (b *browser) action(p page, authURL, name string, stop func(*url.URL) bool) page {
	b.t.Helper()
	return b.do(http.MethodPost, authURL+"/"+name, url.Values{"form": {find(b.t, formTokenRe, p)}}, stop)
}

// signInAtMicrosoft fills the emulator's sign-in, MFA and consent pages as
// a person would, and returns where the browser ends up (or stops).
func (b *browser) signInAtMicrosoft(p page, user string, org bool, stop func(*url.URL) bool) page {
	b.t.Helper()
	base := env.EntraURL
	for range 6 {
		switch {
		case strings.Contains(p.Body, `action="/login"`):
			p = b.do(http.MethodPost, base+"/login", url.Values{"ctx": {find(b.t, ctxRe, p)}, "login": {user}, "passwd": {entra.DefaultPassword}}, stop)
		case strings.Contains(p.Body, `action="/login/mfa"`):
			p = b.do(http.MethodPost, base+"/login/mfa", url.Values{"ctx": {find(b.t, ctxRe, p)}, "number": {find(b.t, numberRe, p)}}, stop)
		case strings.Contains(p.Body, `action="/consent"`):
			f := url.Values{"ctx": {find(b.t, ctxRe, p)}, "action": {"accept"}}
			if org {
				f.Set("consent_org", "on")
			}
			p = b.do(http.MethodPost, base+"/consent", f, stop)
		case strings.Contains(p.Body, `action="/needadmin"`):
			p = b.do(http.MethodPost, base+"/needadmin", url.Values{"ctx": {find(b.t, ctxRe, p)}}, stop)
		default:
			return p
		}
		if p.Body == "" && p.Status >= 300 {
			return p
		}
	}
	return p
}

func isCallback(u *url.URL) bool { return u.Path == "/consent/callback" }

// consentUntilCallback consents on Microsoft's pages from p as user and
// stops at Microsoft's redirect to the callback, which it returns.
func (b *browser) consentUntilCallback(p page, user string) *url.URL {
	b.t.Helper()
	var cb *url.URL
	b.signInAtMicrosoft(p, user, true, func(u *url.URL) bool {
		if isCallback(u) {
			cb = u
			return true
		}
		return false
	})
	if cb == nil {
		b.t.Fatal("never reached the callback")
	}
	return cb
}

func wantText(t *testing.T, p page, status int, texts ...string) {
	t.Helper()
	if p.Status != status {
		t.Fatalf("%s: status %d, want %d\n%s", p.URL.Path, p.Status, status, p.Body)
	}
	for _, s := range texts {
		if !strings.Contains(p.Body, s) {
			t.Fatalf("%s lacks %q:\n%s", p.URL.Path, s, p.Body)
		}
	}
}

// signIn walks "Sign in with Microsoft" to the page after the callback.
func signIn(t *testing.T, b *browser, authURL, user string) page {
	t.Helper()
	welcome := b.get(authURL)
	wantText(t, welcome, http.StatusOK, "Start authentication", "Sign in with Microsoft")
	p := b.action(welcome, authURL, "signin", nil)
	return b.signInAtMicrosoft(p, user, false, nil)
}

// consent walks step 17-19 from the "token acquired" page.
func consent(t *testing.T, b *browser, authURL string, acquired page, user string) page {
	t.Helper()
	p := b.action(acquired, authURL, "continue", nil)
	return b.signInAtMicrosoft(p, user, true, nil)
}

// Guide steps 9, 17-20, the "Sign in with Microsoft" way.
func TestWizardSignInWithMicrosoft(t *testing.T) {
	t.Parallel()
	c := portal(t, unique("op-wiz-"))
	tn := newTenant(t)
	id, authURL := invitationIn(t, c, tn)
	b := newBrowser(t)

	acquired := signIn(t, b, authURL, tn.admin)
	wantText(t, acquired, http.StatusOK, "successfully acquired a token", tn.admin, "Click here to continue")
	if s := invitationStatus(t, c, id); s["status"] != "TOKEN_ACQUIRED" || s["tenantId"] != tn.id {
		t.Fatalf("after sign-in: %v", s)
	}
	done := consent(t, b, authURL, acquired, tn.admin)
	wantText(t, done, http.StatusOK, "Tenant Activation", "The Token authentication process has successfully completed", tn.id)
	for _, h := range []string{"Content-Security-Policy", "Referrer-Policy", "X-Content-Type-Options", "Cache-Control"} {
		if done.Header.Get(h) == "" {
			t.Errorf("activation page lacks %s", h)
		}
	}
	s := invitationStatus(t, c, id)
	if s["status"] != "AUTHENTICATION_COMPLETE" || s["tenantId"] != tn.id || s["authenticatedBy"] != tn.admin {
		t.Fatalf("after consent: %v", s)
	}
	// A second use of the completed link gets the neutral page.
	wantText(t, b.get(authURL), http.StatusNotFound, "This link is not valid")
}

// Guide steps 9-20, the device code way, with the code approved through the
// emulator's control API as the administrator would on another device.
func TestWizardDeviceCode(t *testing.T) {
	t.Parallel()
	c := portal(t, unique("op-dev-"))
	tn := newTenant(t)
	id, authURL := invitationIn(t, c, tn)
	b := newBrowser(t)

	welcome := b.get(authURL)
	device := b.action(welcome, authURL, "device", nil)
	wantText(t, device, http.StatusOK, "Copy the code", "/devicelogin")
	code := find(t, userCodeRe, device)
	if s := invitationStatus(t, c, id); s["status"] != "IN_PROGRESS" {
		t.Fatalf("after start: %v", s)
	}
	if err := env.Entra.ApproveDeviceCode(code, tn.admin); err != nil {
		t.Fatal(err)
	}
	acquired := waitForStep(t, b, authURL, "successfully acquired a token")
	wantText(t, acquired, http.StatusOK, tn.admin)
	done := consent(t, b, authURL, acquired, tn.admin)
	wantText(t, done, http.StatusOK, "The Token authentication process has successfully completed")
	if s := invitationStatus(t, c, id); s["status"] != "AUTHENTICATION_COMPLETE" {
		t.Fatalf("after consent: %v", s)
	}
}

// Admin consent answered as Entra answers it: an administrator of another
// directory comes back with access_denied and AADSTS50020, Cancel with
// access_denied and AADSTS65004, neither naming a tenant. The pages tell
// the two apart and say what to do.
func TestWizardConsentErrorsAsEntraSendsThem(t *testing.T) {
	t.Parallel()
	c := portal(t, unique("op-cerr-"))
	tn := newTenant(t)
	other := newTenant(t)
	id, authURL := invitation(t, c)
	b := newBrowser(t)
	// The device code way leaves no Microsoft session in this browser, so
	// admin consent asks who signs in.
	device := b.action(b.get(authURL), authURL, "device", nil)
	if err := env.Entra.ApproveDeviceCode(find(t, userCodeRe, device), tn.admin); err != nil {
		t.Fatal(err)
	}
	acquired := waitForStep(t, b, authURL, "successfully acquired a token")

	wrong := consent(t, b, authURL, acquired, other.admin)
	wantText(t, wrong, http.StatusBadRequest, "does not belong to the tenant being connected", "AADSTS50020")
	if strings.Contains(wrong.Body, "declined") {
		t.Fatalf("an administrator of another directory is told they declined:\n%s", wrong.Body)
	}

	p := b.action(acquired, authURL, "continue", nil)
	p = b.do(http.MethodPost, env.EntraURL+"/login", url.Values{"ctx": {find(t, ctxRe, p)}, "login": {tn.admin}, "passwd": {entra.DefaultPassword}}, nil)
	p = b.do(http.MethodPost, env.EntraURL+"/login/mfa", url.Values{"ctx": {find(t, ctxRe, p)}, "number": {find(t, numberRe, p)}}, nil)
	cancelled := b.do(http.MethodPost, env.EntraURL+"/consent", url.Values{"ctx": {find(t, ctxRe, p)}, "action": {"cancel"}}, nil)
	wantText(t, cancelled, http.StatusBadRequest, "Consent was declined", "AADSTS65004", "Back to the Token Invitation wizard")

	if s := invitationStatus(t, c, id); s["status"] != "TOKEN_ACQUIRED" || s["tenantId"] != tn.id {
		t.Fatalf("after both errors: %v", s)
	}
}

// Microsoft's token service sees the consent a few seconds late (the
// emulator's propagation window, for this tenant only): 700016, then app
// tokens without roles. The callback says "finishing" instead of "consent
// missing", the page's refresh of the status route proves the consent
// once Microsoft sees it, and the invitation completes without a second
// consent.
func TestWizardWaitsForConsentToReachMicrosoft(t *testing.T) {
	t.Parallel()
	c := portal(t, unique("op-prop-"))
	tn := newTenant(t)
	if err := env.Entra.SetConsentPropagation(tn.id, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	id, authURL := invitationIn(t, c, tn)
	b := newBrowser(t)
	acquired := signIn(t, b, authURL, tn.admin)
	p := b.action(acquired, authURL, "continue", nil)
	cb := b.consentUntilCallback(p, tn.admin)
	finishing := b.get(cb.String())
	wantText(t, finishing, http.StatusOK, "Finishing", "can take a minute", `http-equiv="refresh"`)
	if s := invitationStatus(t, c, id); s["status"] != "TOKEN_ACQUIRED" {
		t.Fatalf("while Microsoft catches up: %v", s)
	}
	done := waitForStep(t, b, authURL, "successfully completed")
	wantText(t, done, http.StatusOK, "Tenant Activation", tn.id)
	if s := invitationStatus(t, c, id); s["status"] != "AUTHENTICATION_COMPLETE" {
		t.Fatalf("after Microsoft caught up: %v", s)
	}
}

// waitForStep polls the status route as the page's script does until the
// wizard page shows text.
func waitForStep(t *testing.T, b *browser, authURL, text string) page {
	t.Helper()
	var p page
	waitUntil(t, fmt.Sprintf("the wizard to show %q", text), func() bool {
		p = b.get(authURL + "/status")
		return strings.Contains(p.Body, text)
	})
	return p
}

// A tenant whose Conditional Access blocks device code: the page says so
// and offers "Sign in with Microsoft", which then works.
func TestWizardConditionalAccessBlocksDeviceCode(t *testing.T) {
	t.Parallel()
	c := portal(t, unique("op-ca-"))
	tn := newTenant(t)
	env.Entra.BlockDeviceCode(tn.id, true)
	_, authURL := invitation(t, c)
	b := newBrowser(t)
	device := b.action(b.get(authURL), authURL, "device", nil)
	_ = env.Entra.ApproveDeviceCode(find(t, userCodeRe, device), tn.admin) // Refused with AADSTS53003 by design.
	blocked := waitForStep(t, b, authURL, "Conditional Access")
	wantText(t, blocked, http.StatusOK, "Sign in with Microsoft")
	p := b.action(blocked, authURL, "signin", nil)
	acquired := b.signInAtMicrosoft(p, tn.admin, false, nil)
	wantText(t, acquired, http.StatusOK, "successfully acquired a token")
}

// Scanners open links before people do: any number of GETs change nothing.
// Unknown, forged and used links all get the same neutral page.
func TestWizardScannerGetsChangeNothing(t *testing.T) {
	t.Parallel()
	c := portal(t, unique("op-scan-"))
	id, authURL := invitation(t, c)
	for range 3 {
		wantText(t, newBrowser(t).get(authURL), http.StatusOK, "Start authentication")
	}
	if s := invitationStatus(t, c, id); s["status"] != "PENDING" {
		t.Fatalf("after scanner GETs: %v", s)
	}
	neutral := newBrowser(t).get(env.APIURL + "/invite/nosuchinvitation.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	forged := newBrowser(t).get(authURL[:len(authURL)-3] + "AAA")
	if neutral.Status != http.StatusNotFound || forged.Status != neutral.Status || forged.Body != neutral.Body {
		t.Fatalf("unknown %d and forged %d links differ", neutral.Status, forged.Status)
	}
	// A POST without this browser's form token does nothing either.
	p := newBrowser(t).do(http.MethodPost, authURL+"/device", url.Values{"form": {"forged"}}, nil)
	if p.Status != http.StatusForbidden {
		t.Fatalf("forged form: status %d", p.Status)
	}
	if s := invitationStatus(t, c, id); s["status"] != "PENDING" {
		t.Fatalf("after forged POST: %v", s)
	}
}

// The abuse cases of the callback: replayed state, another browser, a
// forged callback naming a tenant that never consented, consent declined,
// a user who is not an admin.
func TestWizardCallbackAbuse(t *testing.T) {
	t.Parallel()
	c := portal(t, unique("op-abuse-"))
	tn := newTenant(t)
	other := newTenant(t)
	id, authURL := invitationIn(t, c, tn)
	b := newBrowser(t)
	acquired := signIn(t, b, authURL, tn.admin)
	wantText(t, acquired, http.StatusOK, "successfully acquired a token")

	// Stop at Microsoft's admin consent page to hold a fresh state.
	consentStart := func() (state string) {
		p := b.action(acquired, authURL, "continue", func(u *url.URL) bool { return strings.HasSuffix(u.Path, "/adminconsent") })
		return p.URL.Query().Get("state")
	}
	callback := func(b *browser, q url.Values) page { return b.get(env.APIURL + "/consent/callback?" + q.Encode()) }

	t.Run("forged callback naming a tenant that never consented", func(t *testing.T) {
		p := callback(b, url.Values{"admin_consent": {"True"}, "tenant": {other.id}, "state": {consentStart()}})
		wantText(t, p, http.StatusBadRequest, "another tenant")
	})
	t.Run("forged callback naming the tenant before it consented", func(t *testing.T) {
		// A callback that says consent was given is waited for, as
		// Microsoft's token service may lag behind consent, and is never
		// taken for the proof: its own invitation, so that the wait does not
		// hold up the rest.
		_, authURL := invitation(t, c)
		b := newBrowser(t)
		acquired := signIn(t, b, authURL, tn.admin)
		p := b.action(acquired, authURL, "continue", func(u *url.URL) bool { return strings.HasSuffix(u.Path, "/adminconsent") })
		p = callback(b, url.Values{"admin_consent": {"True"}, "tenant": {tn.id}, "state": {p.URL.Query().Get("state")}})
		wantText(t, p, http.StatusOK, "Finishing", "no need to consent again")
		wantText(t, b.get(authURL+"/status"), http.StatusOK, "Finishing")
	})
	t.Run("state used from another browser", func(t *testing.T) {
		p := callback(newBrowser(t), url.Values{"admin_consent": {"True"}, "tenant": {tn.id}, "state": {consentStart()}})
		wantText(t, p, http.StatusBadRequest, "started in another browser")
	})
	t.Run("consent declined", func(t *testing.T) {
		p := callback(b, url.Values{"error": {"consent_required"}, "error_description": {"AADSTS65004: User declined to consent"}, "admin_consent": {"True"}, "state": {consentStart()}})
		wantText(t, p, http.StatusBadRequest, "Consent was declined", "Back to the Token Invitation wizard")
	})
	t.Run("not an admin", func(t *testing.T) {
		p := callback(b, url.Values{"error": {"access_denied"}, "error_description": {"AADSTS90094: The grant requires admin permission."}, "state": {consentStart()}})
		wantText(t, p, http.StatusBadRequest, "Only a Global Administrator or a Privileged Role Administrator", "AADSTS90094")
	})
	if s := invitationStatus(t, c, id); s["status"] != "TOKEN_ACQUIRED" {
		t.Fatalf("after the abuse: %v", s)
	}
	t.Run("the real consent works, its replay does not", func(t *testing.T) {
		p := b.action(acquired, authURL, "continue", nil)
		var cb *url.URL
		p = b.signInAtMicrosoft(p, tn.admin, true, func(u *url.URL) bool {
			if isCallback(u) {
				cb = u
				return true
			}
			return false
		})
		if cb == nil {
			t.Fatalf("never reached the callback: %s", p.Body)
		}
		wantText(t, b.get(cb.String()), http.StatusOK, "successfully completed")
		replay := b.get(cb.String())
		wantText(t, replay, http.StatusBadRequest, "not valid any more")
	})
	if s := invitationStatus(t, c, id); s["status"] != "AUTHENTICATION_COMPLETE" {
		t.Fatalf("after consent: %v", s)
	}
}

// A user who is not an admin gets the emulator's "needs admin" page on
// admin consent; the callback then says an admin must do it.
// wizardDB is a client of the stack's DynamoDB Local, for moving an
// invitation's expiry into the past instead of waiting for it.
var wizardDB = sync.OnceValues(func() (*dynamodb.Client, error) {
	return dynamolocal.NewClient(context.Background(), env.DynamoURL)
})

// expireInvitation writes the invitation's expiry into the past, as time
// would have; its status stays what it was, as before the sweep runs.
func expireInvitation(t *testing.T, id string) {
	t.Helper()
	db, err := wizardDB()
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{TableName: aws.String(env.TableName),
		Key:                       map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "INVITATION#" + id}, "SK": &types.AttributeValueMemberS{Value: "A"}},
		UpdateExpression:          aws.String("SET ExpiresAt = :past"),
		ConditionExpression:       aws.String("attribute_exists(PK)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":past": &types.AttributeValueMemberS{Value: time.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano)}},
	})
	if err != nil {
		t.Fatalf("expire invitation: %v", err)
	}
}

// volatileHeaders differ between any two answers.
var volatileHeaders = []string{"Date", "Apigw-Requestid", "Set-Cookie"}

// samePage fails unless got is the page want is: status, body and every
// header but the volatile ones.
func samePage(t *testing.T, what string, want, got page) {
	t.Helper()
	if got.Status != want.Status || got.Body != want.Body {
		t.Fatalf("%s: status %d, want %d (the unknown link's); body:\n%s", what, got.Status, want.Status, got.Body)
	}
	strip := func(h http.Header) http.Header {
		h = h.Clone()
		for _, k := range volatileHeaders {
			h.Del(k)
		}
		return h
	}
	if g, w := strip(got.Header), strip(want.Header); !reflect.DeepEqual(g, w) {
		t.Fatalf("%s: headers %v, want the unknown link's %v", what, g, w)
	}
}

// Expired, revoked, regenerated and used links all get the page an unknown
// link gets, with the same status and headers, from every route of the
// wizard; nothing tells them apart.
func TestWizardDeadLinksLookUnknown(t *testing.T) {
	t.Parallel()
	c := portal(t, unique("op-dead-"))
	const unknownLink = "/invite/nosuchinvitation.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	b := newBrowser(t)
	b.get(env.APIURL + unknownLink) // The binding cookie, so that later answers set none either.
	unknown := b.get(env.APIURL + unknownLink)
	wantText(t, unknown, http.StatusNotFound, "This link is not valid")
	unknownStatus := b.get(env.APIURL + unknownLink + "/status")
	unknownPost := b.do(http.MethodPost, env.APIURL+unknownLink+"/device", url.Values{"form": {"x"}}, nil)

	tests := []struct {
		name string
		// kill makes the invitation's link dead and returns it, with the
		// browser that held it while it worked.
		kill func(t *testing.T, id, authURL string) (string, *browser)
	}{
		{"expired", func(t *testing.T, id, authURL string) (string, *browser) {
			expireInvitation(t, id)
			return authURL, newBrowser(t)
		}},
		{"expired while the device code runs", func(t *testing.T, id, authURL string) (string, *browser) {
			b := newBrowser(t)
			wantText(t, b.action(b.get(authURL), authURL, "device", nil), http.StatusOK, "Copy the code")
			expireInvitation(t, id)
			return authURL, b
		}},
		{"revoked", func(t *testing.T, id, authURL string) (string, *browser) {
			must(t, c.do(http.MethodPost, "/v1/invitations/"+id+"/revoke", nil), http.StatusOK)
			return authURL, newBrowser(t)
		}},
		{"revoked after the token was acquired", func(t *testing.T, id, authURL string) (string, *browser) {
			b := newBrowser(t)
			wantText(t, signIn(t, b, authURL, newTenant(t).admin), http.StatusOK, "successfully acquired a token")
			must(t, c.do(http.MethodPost, "/v1/invitations/"+id+"/revoke", nil), http.StatusOK)
			return authURL, b
		}},
		{"regenerated: the old link", func(t *testing.T, id, authURL string) (string, *browser) {
			regen := must(t, c.do(http.MethodPost, "/v1/invitations/"+id+"/regenerate", nil), http.StatusOK)
			newURL, _ := regen["authUrl"].(string)
			if newURL == "" || newURL == authURL {
				t.Fatalf("regenerate = %v", regen)
			}
			// The new link works, all the way to a device code.
			nb := newBrowser(t)
			wantText(t, nb.action(nb.get(newURL), newURL, "device", nil), http.StatusOK, "Copy the code")
			return authURL, newBrowser(t)
		}},
		{"used", func(t *testing.T, id, authURL string) (string, *browser) {
			tn := newTenant(t)
			b := newBrowser(t)
			acquired := signIn(t, b, authURL, tn.admin)
			// Another tenant than the customer's: the link is used up too,
			// waiting for staff to confirm the tenant.
			wantText(t, consent(t, b, authURL, acquired, tn.admin), http.StatusOK, "must confirm that this tenant belongs to the customer")
			return authURL, b
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id, authURL := invitation(t, c)
			dead, b := tt.kill(t, id, authURL)
			b.get(dead) // A fresh browser gets its cookie here, as with the unknown link.
			samePage(t, "GET the link", unknown, b.get(dead))
			samePage(t, "GET its status", unknownStatus, b.get(dead+"/status"))
			samePage(t, "POST a step", unknownPost, b.do(http.MethodPost, dead+"/device", url.Values{"form": {"x"}}, nil))
		})
	}
}

// A consent started on a link that is revoked before Microsoft returns
// ends on the neutral page, and the invitation stays revoked.
func TestWizardConsentReturnAfterRevoke(t *testing.T) {
	t.Parallel()
	c := portal(t, unique("op-late-"))
	tn := newTenant(t)
	id, authURL := invitation(t, c)
	b := newBrowser(t)
	acquired := signIn(t, b, authURL, tn.admin)
	p := b.action(acquired, authURL, "continue", nil)
	must(t, c.do(http.MethodPost, "/v1/invitations/"+id+"/revoke", nil), http.StatusOK)
	cb := b.consentUntilCallback(p, tn.admin)
	wantText(t, b.get(cb.String()), http.StatusNotFound, "This link is not valid")
	if s := invitationStatus(t, c, id); s["status"] != "REVOKED" {
		t.Fatalf("after Microsoft's return: %v", s)
	}
}

// The wizard's pages through the gateway carry the policy and cookie the
// function sets: forms may go only to the site and the Microsoft authority.
func TestWizardPageHeaders(t *testing.T) {
	t.Parallel()
	c := portal(t, unique("op-hdr-"))
	_, authURL := invitation(t, c)
	authority, err := url.Parse(env.EntraURL)
	if err != nil {
		t.Fatal(err)
	}
	p := newBrowser(t).get(authURL)
	wantText(t, p, http.StatusOK, "Start authentication")
	want := map[string]string{
		"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
			"form-action 'self' https://" + authority.Host + "; frame-ancestors 'none'; base-uri 'none'",
		"Referrer-Policy":        "no-referrer",
		"X-Content-Type-Options": "nosniff",
		"X-Frame-Options":        "DENY",
		"Cache-Control":          "no-store",
	}
	for k, v := range want {
		if got := p.Header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	cookies := p.Header.Values("Set-Cookie")
	if len(cookies) != 1 {
		t.Fatalf("Set-Cookie %q", cookies)
	}
	ck, err := http.ParseSetCookie(cookies[0])
	// The local stack serves plain http on 127.0.0.1, where browsers
	// refuse Secure cookies; https gets __Host- and Secure (unit-tested in
	// internal/page).
	if err != nil || ck.Name != "ocpro-binding" || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Domain != "" {
		t.Fatalf("cookie %q: %v", cookies[0], err)
	}
}
