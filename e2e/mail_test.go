package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/ocpro/upgrade/infra/seslocal"
)

// adminAddress is an administrator address of its own for one test, so that
// the test can count the mails in the shared mailbox.
func adminAddress() string { return unique("it-admin-") + "@contoso.example" }

// inviteAdmin creates a customer and an upgrade whose invitation goes to
// admin, and returns the invitation as the create response shows it.
func inviteAdmin(t *testing.T, c *client, admin string, send bool) map[string]any {
	t.Helper()
	cust := newCustomer(t, c)
	body := upgradeBody(unique("mail"))
	body["adminEmail"], body["sendInvitation"] = admin, send
	up := must(t, c.do(http.MethodPost, fmt.Sprintf("/v1/customers/%s/upgrades", cust["id"]), body), http.StatusCreated)
	return up["invitation"].(map[string]any)
}

// mailsFor returns the mails the mailbox holds for address, oldest first,
// after remembering every link in them as a secret.
func mailsFor(t *testing.T, address string) []seslocal.Mail {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitFor)
	defer cancel()
	mails, err := seslocal.MailsTo(ctx, env.MailURL, address)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mails {
		for _, l := range mailLinks(m) {
			rememberLink(l)
		}
	}
	return mails
}

// waitForMails polls the mailbox until address has at least n mails and
// returns them all.
func waitForMails(t *testing.T, address string, n int) []seslocal.Mail {
	t.Helper()
	var mails []seslocal.Mail
	waitUntil(t, fmt.Sprintf("%d mails for %s", n, address), func() bool {
		mails = mailsFor(t, address)
		return len(mails) >= n
	})
	return mails
}

// settleBus waits until the local pipes have carried every outbox item to
// the bus and the bus has no delivery in flight, so that a mail that was
// going to be sent has been: only then does counting the mails prove that
// no other mail went.
func settleBus(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := env.Settle(ctx); err != nil {
		t.Fatal(err)
	}
}

// wantMailCount settles the bus and checks that address got exactly n mails.
func wantMailCount(t *testing.T, address string, n int) []seslocal.Mail {
	t.Helper()
	settleBus(t)
	mails := mailsFor(t, address)
	if len(mails) != n {
		var subjects []string
		for _, m := range mails {
			subjects = append(subjects, m.Subject)
		}
		t.Fatalf("%d mails for %s, want %d: %q", len(mails), address, n, subjects)
	}
	return mails
}

// noDeadLetters fails the test when an event naming any of ids was
// dead-lettered: every event of a test that should succeed must be
// delivered.
func noDeadLetters(t *testing.T, ids ...string) {
	t.Helper()
	settleBus(t)
	for _, d := range env.Bus.DeadLetters() {
		for _, id := range ids {
			if strings.Contains(string(d.Event), id) {
				t.Errorf("event for %s dead-lettered by %s after %d attempts: %s", id, d.Rule, d.Attempts, d.Error)
			}
		}
	}
}

// linkRe finds the wizard links in a mail.
var linkRe = regexp.MustCompile(`https?://[^\s"'<>]+/invite/[A-Za-z0-9._~-]+`)

// mailLinks returns the distinct wizard links of a mail, text part first.
func mailLinks(m seslocal.Mail) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range linkRe.FindAllString(m.Text+"\n"+m.HTML, -1) {
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	return out
}

// wantLink checks that both parts of the mail carry authURL and no other
// wizard link.
func wantLink(t *testing.T, m seslocal.Mail, authURL string) {
	t.Helper()
	if !strings.Contains(m.Text, authURL) || !strings.Contains(m.HTML, authURL) {
		t.Errorf("mail %q does not carry %s in both parts:\ntext: %s", m.Subject, authURL, m.Text)
	}
	if links := mailLinks(m); len(links) != 1 || links[0] != authURL {
		t.Errorf("mail %q links = %v, want only %s", m.Subject, links, authURL)
	}
}

// linkStatus opens a wizard link as a person would and returns the status
// code: 200 for a live link, 404 (the neutral page) for a dead one.
func linkStatus(t *testing.T, authURL string) int {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatalf("open link: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// getInvitation reads an invitation through the portal API.
func getInvitation(t *testing.T, c *client, id string) map[string]any {
	t.Helper()
	return must(t, c.do(http.MethodGet, "/v1/invitations/"+id, nil), http.StatusOK)
}

// waitForInvitation polls the invitation until ok accepts it.
func waitForInvitation(t *testing.T, c *client, id, what string, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	var inv map[string]any
	waitUntil(t, "the invitation to become "+what, func() bool {
		inv = getInvitation(t, c, id)
		return ok(inv)
	})
	return inv
}

// busClient is an EventBridge client for the stack's local bus, to publish
// events as the service and SES would.
var busClient = sync.OnceValue(func() *eventbridge.Client {
	return eventbridge.New(eventbridge.Options{
		Region:           "eu-west-1",
		BaseEndpoint:     aws.String(env.AWSURL),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local", ""),
		RetryMaxAttempts: 1,
	})
})

// putEvent publishes one event on the named bus ("" is the default bus).
func putEvent(t *testing.T, bus, source, detailType string, detail any) {
	t.Helper()
	raw, err := json.Marshal(detail)
	if err != nil {
		t.Fatal(err)
	}
	entry := ebtypes.PutEventsRequestEntry{Source: aws.String(source), DetailType: aws.String(detailType),
		Detail: aws.String(string(raw))}
	if bus != "" {
		entry.EventBusName = aws.String(bus)
	}
	out, err := busClient().PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{entry}})
	if err != nil {
		t.Fatalf("put %s: %v", detailType, err)
	}
	if out.FailedEntryCount != 0 {
		t.Fatalf("put %s: %s", detailType, aws.ToString(out.Entries[0].ErrorMessage))
	}
}

// serviceBus is the service's own event bus, the one the outbox pipe
// delivers to (no function is told its name any more).
func serviceBus(t *testing.T) string {
	t.Helper()
	if len(env.Template.Buses) != 1 {
		t.Fatalf("template: buses %v, want the service's one", env.Template.Buses)
	}
	return env.Template.Buses[0]
}

// Guide steps 6-7: the Welcome mail arrives with the invitation's link in
// both parts, the invitation shows that it went, and a duplicated Invitation
// Created (EventBridge delivers at least once) sends nothing more.
func TestWelcomeMail(t *testing.T) {
	t.Parallel()
	c := portal(t, unique("op-welcome-"))
	admin := adminAddress()
	inv := inviteAdmin(t, c, admin, true)
	id, authURL := inv["id"].(string), inv["authUrl"].(string)

	m := waitForMails(t, admin, 1)[0]
	wantLink(t, m, authURL)
	if !strings.Contains(m.Subject, "Contoso") {
		t.Errorf("subject %q does not name the customer", m.Subject)
	}
	if strings.Contains(m.HTML, "<script") || strings.Contains(m.HTML, "<img") {
		t.Errorf("mail has scripts or remote images:\n%s", m.HTML)
	}
	if got := linkStatus(t, authURL); got != http.StatusOK {
		t.Errorf("the mailed link answers %d, want 200", got)
	}
	got := waitForInvitation(t, c, id, "sent", func(i map[string]any) bool { return i["emailSent"] == true })
	sentAt, err := time.Parse(time.RFC3339, fmt.Sprint(got["emailSentAt"]))
	if err != nil || time.Since(sentAt) > time.Hour || got["deliveryStatus"] != "SENT" || got["lastMail"] != "welcome" {
		t.Errorf("after the Welcome mail: %v", got)
	}

	// The same Invitation Created again, as a retried delivery would bring.
	putEvent(t, serviceBus(t), "ocpro.upgrades", "Invitation Created",
		map[string]string{"invitationId": id, "operatorId": c.operator, "customerId": fmt.Sprint(got["customerId"]),
			"upgradeId": fmt.Sprint(got["upgradeId"]), "serviceId": fmt.Sprint(got["serviceId"])})
	wantMailCount(t, admin, 1)
	if again := getInvitation(t, c, id); again["emailSentAt"] != got["emailSentAt"] {
		t.Errorf("the duplicate changed the invitation: %v", again)
	}
	noDeadLetters(t, id)
}

// An upgrade created without "send invitation" mails nothing; the operator
// copies the link instead.
func TestNoMailWithoutSendInvitation(t *testing.T) {
	t.Parallel()
	c := portal(t, unique("op-quiet-"))
	admin := adminAddress()
	inv := inviteAdmin(t, c, admin, false)
	wantMailCount(t, admin, 0)
	if got := getInvitation(t, c, inv["id"].(string)); got["emailSent"] != false || got["authUrl"] != inv["authUrl"] {
		t.Errorf("invitation = %v", got)
	}
	noDeadLetters(t, inv["id"].(string))
}

// Security > Customer Invitations: resend sends the same link again (and
// refuses a second resend within a minute), regenerate mails a new link and
// kills the old one at once, revoke kills the link.
func TestInvitationActions(t *testing.T) {
	t.Parallel()
	c := portal(t, unique("op-actions-"))
	admin := adminAddress()
	inv := inviteAdmin(t, c, admin, true)
	id, oldURL := inv["id"].(string), inv["authUrl"].(string)
	waitForMails(t, admin, 1)
	waitForInvitation(t, c, id, "sent", func(i map[string]any) bool { return i["emailSent"] == true })

	// Resend is refused within a minute of the last mail; move that mail
	// back rather than wait.
	r := c.do(http.MethodPost, "/v1/invitations/"+id+"/resend", nil)
	if r.Status != http.StatusTooManyRequests {
		t.Fatalf("resend right after the Welcome mail = %d %s", r.Status, r.Body)
	}
	rewriteInvitation(t, id, backdateMail(2*time.Minute))

	resent := must(t, c.do(http.MethodPost, "/v1/invitations/"+id+"/resend", nil), http.StatusAccepted)
	if resent["authUrl"] != oldURL {
		t.Errorf("resend changed the link: %v", resent["authUrl"])
	}
	mails := waitForMails(t, admin, 2)
	wantLink(t, mails[1], oldURL)

	r = c.do(http.MethodPost, "/v1/invitations/"+id+"/resend", nil)
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" || r.Header.Get("Retry-After") == "0" {
		t.Fatalf("second resend at once = %d, Retry-After %q: %s", r.Status, r.Header.Get("Retry-After"), r.Body)
	}
	wantMailCount(t, admin, 2)

	regen := must(t, c.do(http.MethodPost, "/v1/invitations/"+id+"/regenerate", nil), http.StatusOK)
	newURL, _ := regen["authUrl"].(string)
	if newURL == "" || newURL == oldURL || regen["status"] != "PENDING" {
		t.Fatalf("regenerate = %v", regen)
	}
	mails = waitForMails(t, admin, 3)
	wantLink(t, mails[2], newURL)
	if got := linkStatus(t, oldURL); got != http.StatusNotFound {
		t.Errorf("old link after regenerate answers %d, want 404", got)
	}
	if got := linkStatus(t, newURL); got != http.StatusOK {
		t.Errorf("new link answers %d, want 200", got)
	}
	if got := getInvitation(t, c, id); got["authUrl"] != newURL {
		t.Errorf("the invitation shows %v, want the new link", got["authUrl"])
	}

	revoked := must(t, c.do(http.MethodPost, "/v1/invitations/"+id+"/revoke", nil), http.StatusOK)
	if revoked["status"] != "REVOKED" || revoked["authUrl"] != nil {
		t.Errorf("revoke = %v", revoked)
	}
	if got := linkStatus(t, newURL); got != http.StatusNotFound {
		t.Errorf("link after revoke answers %d, want 404", got)
	}
	for _, action := range []string{"resend", "revoke"} {
		if r := c.do(http.MethodPost, "/v1/invitations/"+id+"/"+action, nil); r.Status != http.StatusConflict {
			t.Errorf("%s of a revoked invitation = %d %s", action, r.Status, r.Body)
		}
	}
	wantMailCount(t, admin, 3)
	noDeadLetters(t, id)
}

// sesEvent loads a sample SES event from events/invitationemail with its
// message id replaced.
func sesEvent(t *testing.T, name, messageID string) (detailType string, detail map[string]any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "events", "invitationemail", name))
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		DetailType string         `json:"detail-type"`
		Detail     map[string]any `json:"detail"`
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	e.Detail["mail"].(map[string]any)["messageId"] = messageID
	return e.DetailType, e.Detail
}

// The guide's "If mail has not been received": SES delivery events on the
// default bus show on the invitation, a bounce with its diagnostic.
func TestDeliveryEvents(t *testing.T) {
	t.Parallel()
	c := portal(t, unique("op-delivery-"))
	admin := adminAddress()
	inv := inviteAdmin(t, c, admin, true)
	id := inv["id"].(string)
	m := waitForMails(t, admin, 1)[0]
	waitForInvitation(t, c, id, "sent", func(i map[string]any) bool { return i["deliveryStatus"] == "SENT" })

	steps := []struct {
		file, status, lastError string
	}{
		{"email-delivered.json", "DELIVERED", ""},
		{"email-bounced.json", "BOUNCED", "550 5.1.1 user unknown"},
	}
	for _, s := range steps {
		dt, detail := sesEvent(t, s.file, m.MessageID)
		putEvent(t, "", "aws.ses", dt, detail)
		got := waitForInvitation(t, c, id, s.status, func(i map[string]any) bool { return i["deliveryStatus"] == s.status })
		if le, _ := got["lastError"].(string); !strings.Contains(le, s.lastError) || s.lastError == "" && le != "" {
			t.Errorf("after %s lastError = %q, want it to mention %q", s.file, le, s.lastError)
		}
	}
	// A report about a message this service never sent changes nothing.
	dt, detail := sesEvent(t, "email-delivered.json", "0102018f-not-ours")
	putEvent(t, "", "aws.ses", dt, detail)
	settleBus(t)
	if got := getInvitation(t, c, id); got["deliveryStatus"] != "BOUNCED" {
		t.Errorf("a foreign report changed the invitation: %v", got)
	}
	noDeadLetters(t, id, m.MessageID)
}

// The guide's "Configuring Email Settings": defaults until the operator saves
// its own, refused templates with the reason, the operator's subject and
// body in the next Welcome mail, and a test mail on demand.
func TestEmailSettings(t *testing.T) {
	t.Parallel()
	c := portal(t, unique("op-settings-"))
	defaults := must(t, c.do(http.MethodGet, "/v1/settings/email", nil), http.StatusOK)
	for _, k := range []string{"senderName", "welcomeSubject", "welcomeBody", "reminderSubject", "reminderBody"} {
		if s, _ := defaults[k].(string); s == "" {
			t.Errorf("default settings have no %s: %v", k, defaults)
		}
	}
	if !strings.Contains(defaults["welcomeBody"].(string), "{{link}}") {
		t.Errorf("default Welcome body has no link: %v", defaults["welcomeBody"])
	}

	valid := map[string]any{
		"senderName":      "Fabrikam Voice",
		"replyTo":         "support@fabrikam.example",
		"welcomeSubject":  "Fabrikam: please approve {{service}} for {{customer}}",
		"welcomeBody":     "Dear admin,\n\nFabrikam needs your approval: {{link}}\n\nValid until {{expires}}.",
		"reminderSubject": "Still waiting: {{customer}}",
		"reminderBody":    "Please approve: {{link}}",
	}
	invalid := []struct {
		name, field, value, code string
	}{
		{"body without the link", "welcomeBody", "Dear admin, please approve.", "missing_link"},
		{"unknown placeholder", "welcomeSubject", "Approve {{custumer}}", "unknown_placeholder"},
		{"unbalanced braces", "reminderBody", "Approve {{link}} {{service", "unbalanced_braces"},
		{"bad reply-to", "replyTo", "not an address", "invalid_address"},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			body := map[string]any{}
			for k, v := range valid {
				body[k] = v
			}
			body[tc.field] = tc.value
			p := must(t, c.do(http.MethodPut, "/v1/settings/email", body), http.StatusBadRequest)
			errs, _ := p["errors"].([]any)
			if len(errs) != 1 {
				t.Fatalf("errors = %v, want one for %s", p["errors"], tc.field)
			}
			if e := errs[0].(map[string]any); e["field"] != tc.field || e["code"] != tc.code || e["message"] == "" {
				t.Errorf("error = %v, want %s %s", e, tc.field, tc.code)
			}
		})
	}
	if got := must(t, c.do(http.MethodGet, "/v1/settings/email", nil), http.StatusOK); got["welcomeSubject"] != defaults["welcomeSubject"] {
		t.Fatalf("refused settings were saved: %v", got)
	}

	saved := must(t, c.do(http.MethodPut, "/v1/settings/email", valid), http.StatusOK)
	if saved["welcomeSubject"] != valid["welcomeSubject"] {
		t.Fatalf("PUT = %v", saved)
	}
	if got := must(t, c.do(http.MethodGet, "/v1/settings/email", nil), http.StatusOK); got["welcomeBody"] != valid["welcomeBody"] {
		t.Fatalf("GET after PUT = %v", got)
	}

	admin := adminAddress()
	inv := inviteAdmin(t, c, admin, true)
	m := waitForMails(t, admin, 1)[0]
	if m.Subject != "Fabrikam: please approve Contoso Teams Calling for "+newestCustomerName(t, c) {
		t.Errorf("subject = %q", m.Subject)
	}
	// The saved sender name signs the text; the From name is the
	// deployment's, whatever an operator saves.
	operatorName := env.Template.Functions["InvitationEmailFunction"].Environment["OPERATOR_NAME"]
	if !strings.Contains(m.Text, "Fabrikam needs your approval") || !strings.Contains(m.Text, "Fabrikam Voice") ||
		strings.Contains(m.From, "Fabrikam Voice") || !strings.Contains(m.From, operatorName) ||
		len(m.ReplyTo) != 1 || m.ReplyTo[0] != "support@fabrikam.example" {
		t.Errorf("mail from %q reply-to %v:\n%s", m.From, m.ReplyTo, m.Text)
	}
	wantLink(t, m, inv["authUrl"].(string))

	if r := c.do(http.MethodPost, "/v1/settings/email/test", map[string]any{"to": "nobody"}); r.Status != http.StatusBadRequest {
		t.Errorf("test mail to a bad address = %d %s", r.Status, r.Body)
	}
	// A test mail goes to the staff member's own address or to a test
	// recipient the operator saved, never to anyone else.
	to := adminAddress()
	if r := c.do(http.MethodPost, "/v1/settings/email/test", map[string]any{"to": to}); r.Status != http.StatusUnprocessableEntity ||
		!strings.Contains(string(r.Body), "recipient_not_allowed") {
		t.Errorf("test mail to an address not in the settings = %d %s", r.Status, r.Body)
	}
	valid["testRecipients"] = []string{to}
	must(t, c.do(http.MethodPut, "/v1/settings/email", valid), http.StatusOK)
	// The portal only queues the test mail; InvitationEmailFunction renders
	// the saved settings and sends it, so it arrives a moment later.
	if q := must(t, c.do(http.MethodPost, "/v1/settings/email/test", map[string]any{"to": to}), http.StatusAccepted); q["status"] != "QUEUED" || q["to"] != to {
		t.Errorf("test mail answer = %v, want QUEUED to %s", q, to)
	}
	test := waitForMails(t, to, 1)[0]
	if !strings.HasPrefix(test.Subject, "[Test] Fabrikam: please approve") || !strings.Contains(test.Text, "Fabrikam needs your approval") {
		t.Errorf("test mail %q:\n%s", test.Subject, test.Text)
	}
	own := staffAddress(t, c)
	must(t, c.do(http.MethodPost, "/v1/settings/email/test", map[string]any{"to": own}), http.StatusAccepted)
	waitForMails(t, own, 1)
	noDeadLetters(t, inv["id"].(string))
}

// newestCustomerName returns the name of the operator's newest customer.
func newestCustomerName(t *testing.T, c *client) string {
	t.Helper()
	list := must(t, c.do(http.MethodGet, "/v1/customers?limit=1", nil), http.StatusOK)
	items, _ := list["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("customers = %v", list)
	}
	return items[0].(map[string]any)["name"].(string)
}

// staffAddress is the sign-in name the operator's staff token carries.
func staffAddress(t *testing.T, c *client) string {
	t.Helper()
	parts := strings.Split(c.token, ".")
	if len(parts) != 3 {
		t.Fatalf("the staff token is not a JWT")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		PreferredUsername string `json:"preferred_username"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil || claims.PreferredUsername == "" {
		t.Fatalf("staff token claims %s: %v", raw, err)
	}
	return claims.PreferredUsername
}
