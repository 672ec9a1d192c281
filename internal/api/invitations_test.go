package api_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocpro/upgrade/infra/testenv"
	"github.com/ocpro/upgrade/internal/api"
	"github.com/ocpro/upgrade/internal/event"
	"github.com/ocpro/upgrade/internal/link"
	"github.com/ocpro/upgrade/internal/mail"
	"github.com/ocpro/upgrade/internal/notify"
	"github.com/ocpro/upgrade/internal/quota"
	"github.com/ocpro/upgrade/internal/upgrade"
	"github.com/ocpro/upgrade/internal/upgrade/memory"
)

// actionStore is the memory store, whose UpdateInvitation refuses a write
// whose "before" is no longer stored, as the DynamoDB store's condition
// does.
type actionStore struct {
	*memory.Store
}

// mailRequests reads the mail requests the actions wrote to the outbox.
type mailRequests struct{ store *memory.Store }

func (m *mailRequests) all() []upgrade.MailRequest {
	var out []upgrade.MailRequest
	for _, e := range m.store.Outbox() {
		var d event.InvitationMailRequested
		if !d.Type().Is(e.Source, e.DetailType) {
			continue
		}
		if err := event.Decode(e.Detail, &d); err != nil {
			panic(err)
		}
		out = append(out, upgrade.MailRequest{InvitationID: d.InvitationID, OperatorID: d.OperatorID,
			Generation: d.Generation, Mail: upgrade.MailKind(d.Mail)})
	}
	return out
}

// settingsStore keeps email settings in memory.
type settingsStore struct {
	mu  sync.Mutex
	set map[string]mail.Settings
}

func (s *settingsStore) EmailSettings(_ context.Context, op string) (mail.Settings, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.set[op]
	return v, ok, nil
}

func (s *settingsStore) PutEmailSettings(_ context.Context, op string, v mail.Settings, _ time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.set[op] = v
	return nil
}

// testMails is the outbox of the test mails: the memory store's, or one
// failing with err.
type testMails struct {
	store *memory.Store
	err   error
}

func (m *testMails) PutEvent(ctx context.Context, msg event.Message) error {
	if m.err != nil {
		return m.err
	}
	return m.store.PutEvent(ctx, msg)
}

func (m *testMails) all() []notify.TestMail {
	var out []notify.TestMail
	for _, e := range m.store.Outbox() {
		var d event.TestMailRequested
		if !d.Type().Is(e.Source, e.DetailType) {
			continue
		}
		if err := event.Decode(e.Detail, &d); err != nil {
			panic(err)
		}
		out = append(out, notify.TestMail{OperatorID: d.OperatorID, To: d.To, RequestID: d.RequestID})
	}
	return out
}

// mailFixture is a Handler with the Customer Invitations actions and the
// email settings wired to in-memory collaborators.
type mailFixture struct {
	h     *api.Handler
	store *actionStore
	req   *mailRequests
	tests *testMails
}

// unlimited lets every test mail through.
type unlimited struct{}

func (unlimited) Take(context.Context, string) error { return nil }

func newMailFixture(t *testing.T) mailFixture {
	t.Helper()
	return newMailFixtureWith(t, unlimited{})
}

// newMailFixtureWith is newMailFixture whose test mails are counted by
// limit.
func newMailFixtureWith(t *testing.T, limit notify.TestMailLimit) mailFixture {
	t.Helper()
	signer, err := link.NewSigner(link.StaticKey(strings.Repeat("k", 32)), "https://portal.example.net")
	if err != nil {
		t.Fatal(err)
	}
	st := memory.New()
	f := mailFixture{store: &actionStore{Store: st}, req: &mailRequests{store: st}, tests: &testMails{store: st}}
	clock := fixedClock{now}
	portal, err := upgrade.NewPortal(upgrade.Deps{Store: f.store, Links: signer,
		Clock: clock, IDs: upgrade.RandomIDs{}})
	if err != nil {
		t.Fatal(err)
	}
	actions, err := upgrade.NewActions(upgrade.ActionDeps{Store: f.store, Links: signer, Clock: clock,
		Reminders: upgrade.ReminderPolicy{Offsets: upgrade.DefaultReminderOffsets}})
	if err != nil {
		t.Fatal(err)
	}
	settings, err := notify.NewSettings(notify.SettingsDeps{Store: &settingsStore{set: map[string]mail.Settings{}},
		Outbox: f.tests, TestMails: limit, Clock: clock, OperatorName: "Live Platform"})
	if err != nil {
		t.Fatal(err)
	}
	if f.h, err = api.NewHandler(portal, "", nil, api.WithInvitationActions(actions), api.WithEmailSettings(settings)); err != nil {
		t.Fatal(err)
	}
	return f
}

// mailedInvitation creates an upgrade and records its Welcome mail as sent
// at sentAt, as the mail function would have.
func (f mailFixture) mailedInvitation(t *testing.T, sentAt time.Time) map[string]any {
	t.Helper()
	cid := createCustomer(t, f.h)
	res, up := call(t, f.h, withID(golden(t, "create-upgrade.json"), cid))
	if res.StatusCode != 201 {
		t.Fatalf("create upgrade = %d %s", res.StatusCode, res.Body)
	}
	inv := up["invitation"].(map[string]any)
	stored, err := f.store.GetInvitation(context.Background(), inv["id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	stored = upgrade.MailSettled(stored, upgrade.MailWelcome, sentAt)
	f.store.SetInvitation(stored)
	return inv
}

func TestInvitationActionRoutes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// sentAgo is how long before now the Welcome mail went.
		sentAgo    time.Duration
		revoked    bool
		event      string
		operator   string
		id         string
		wantStatus int
		wantType   string
		// check looks at the invitation in a successful response.
		check func(t *testing.T, inv, before map[string]any)
		// wantMail is the mail the action must request, if any.
		wantMail upgrade.MailKind
	}{
		{name: "resend mails the same link", sentAgo: 2 * time.Minute, event: "resend-invitation.json", wantStatus: 202,
			wantMail: upgrade.ResendMail(1),
			check: func(t *testing.T, inv, before map[string]any) {
				if inv["authUrl"] != before["authUrl"] || inv["status"] != "PENDING" {
					t.Errorf("resend = %v", inv)
				}
			}},
		{name: "resend within a minute of the last mail", sentAgo: 20 * time.Second, event: "resend-invitation.json",
			wantStatus: 429, wantType: "too-many-requests"},
		{name: "regenerate makes a new link and mails it", sentAgo: time.Hour, event: "regenerate-invitation.json", wantStatus: 200,
			wantMail: upgrade.MailWelcome,
			check: func(t *testing.T, inv, before map[string]any) {
				if inv["authUrl"] == before["authUrl"] || inv["authUrl"] == nil || inv["status"] != "PENDING" ||
					inv["emailSent"] != false || inv["expiresAt"] != now.Add(upgrade.DefaultInvitationTTL).Format(time.RFC3339) {
					t.Errorf("regenerate = %v", inv)
				}
			}},
		{name: "regenerate is not limited like resend", sentAgo: time.Second, event: "regenerate-invitation.json", wantStatus: 200,
			wantMail: upgrade.MailWelcome},
		{name: "revoke kills the link", sentAgo: time.Hour, event: "revoke-invitation.json", wantStatus: 200,
			check: func(t *testing.T, inv, _ map[string]any) {
				if inv["status"] != "REVOKED" || inv["authUrl"] != nil {
					t.Errorf("revoke = %v", inv)
				}
			}},
		{name: "resend of a revoked invitation", sentAgo: time.Hour, revoked: true, event: "resend-invitation.json",
			wantStatus: 409, wantType: "state-conflict"},
		{name: "revoke twice", sentAgo: time.Hour, revoked: true, event: "revoke-invitation.json",
			wantStatus: 409, wantType: "state-conflict"},
		{name: "another operator's invitation", sentAgo: time.Hour, operator: "other-operator", event: "regenerate-invitation.json",
			wantStatus: 404, wantType: "not-found"},
		{name: "unknown invitation", sentAgo: time.Hour, id: "nosuchinvitation", event: "resend-invitation.json",
			wantStatus: 404, wantType: "not-found"},
		{name: "id that cannot exist", sentAgo: time.Hour, id: "a#b", event: "revoke-invitation.json",
			wantStatus: 404, wantType: "not-found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newMailFixture(t)
			before := f.mailedInvitation(t, now.Add(-tt.sentAgo))
			id := before["id"].(string)
			if tt.revoked {
				if res, _ := call(t, f.h, withID(golden(t, "revoke-invitation.json"), id)); res.StatusCode != 200 {
					t.Fatalf("revoke = %d %s", res.StatusCode, res.Body)
				}
			}
			if tt.id != "" {
				id = tt.id
			}
			req := withID(golden(t, tt.event), id)
			if tt.operator != "" {
				req = withOperator(req, tt.operator)
			}
			res, body := call(t, f.h, req)
			if res.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d %s", res.StatusCode, res.Body)
			}
			if tt.wantType != "" && body["type"] != api.ProblemTypeBase+tt.wantType {
				t.Errorf("type = %v", body["type"])
			}
			if tt.wantStatus == 429 && res.Headers["Retry-After"] != "40" {
				t.Errorf("Retry-After = %q, want the 40 s left of the minute", res.Headers["Retry-After"])
			}
			if tt.check != nil {
				tt.check(t, body, before)
			}
			reqs := f.req.all()
			switch {
			case tt.wantMail == "" && len(reqs) != 0:
				t.Errorf("mail requested: %v", reqs)
			case tt.wantMail != "" && (len(reqs) != 1 || reqs[0].Mail != tt.wantMail || reqs[0].InvitationID != id ||
				reqs[0].OperatorID != "live-platform"):
				t.Errorf("mail requests = %v, want one %s", reqs, tt.wantMail)
			}
		})
	}
}

func TestEmailSettingsRoutes(t *testing.T) {
	t.Parallel()
	f := newMailFixture(t)

	res, def := call(t, f.h, golden(t, "get-email-settings.json"))
	if res.StatusCode != 200 || def["senderName"] != "Live Platform" || !strings.Contains(def["welcomeBody"].(string), "{{link}}") {
		t.Fatalf("defaults = %d %s", res.StatusCode, res.Body)
	}

	put := golden(t, "put-email-settings.json")
	res, saved := call(t, f.h, put)
	if res.StatusCode != 200 || saved["senderName"] != "Live Platform Voice" || saved["replyTo"] != "support@liveplatform.example" {
		t.Fatalf("PUT = %d %s", res.StatusCode, res.Body)
	}
	res, got := call(t, f.h, golden(t, "get-email-settings.json"))
	if res.StatusCode != 200 || got["welcomeSubject"] != saved["welcomeSubject"] || got["reminderBody"] != saved["reminderBody"] {
		t.Errorf("GET after PUT = %d %s", res.StatusCode, res.Body)
	}
	// The From name is the deployment's: every answer names it, and a PUT
	// that sends another changes nothing.
	if def["fromName"] != "Live Platform" || saved["fromName"] != "Live Platform" || got["fromName"] != "Live Platform" {
		t.Errorf("fromName = %v, %v, %v; want the deployment's operator name", def["fromName"], saved["fromName"], got["fromName"])
	}
	spoof := golden(t, "put-email-settings.json")
	spoof.Body = strings.Replace(spoof.Body, `{`, `{"fromName":"Microsoft 365 Security",`, 1)
	if res, after := call(t, f.h, spoof); res.StatusCode != 200 || after["fromName"] != "Live Platform" {
		t.Errorf("PUT with a fromName = %d %s", res.StatusCode, res.Body)
	}
	// Another operator still sees the defaults.
	if res, other := call(t, f.h, withOperator(golden(t, "get-email-settings.json"), "other-operator")); res.StatusCode != 200 ||
		other["welcomeSubject"] != def["welcomeSubject"] {
		t.Errorf("other operator's settings = %d %s", res.StatusCode, res.Body)
	}

	// The test mail is queued for the mail function, which renders the
	// saved settings (notify.TestMailer); the portal sends nothing itself.
	test := golden(t, "test-email-settings.json")
	res, queued := call(t, f.h, test)
	if res.StatusCode != 202 || queued["to"] != "staff@liveplatform.example" || queued["status"] != "QUEUED" {
		t.Fatalf("test mail = %d %s", res.StatusCode, res.Body)
	}
	want := notify.TestMail{OperatorID: "live-platform", To: "staff@liveplatform.example", RequestID: test.RequestContext.RequestID}
	if got := f.tests.all(); len(got) != 1 || got[0] != want || want.RequestID == "" {
		t.Errorf("test mails queued = %+v, want one %+v", got, want)
	}
}

func TestEmailSettingsRefused(t *testing.T) {
	t.Parallel()
	type fieldCode struct{ field, code string }
	tests := []struct {
		name       string
		event      string
		body       func(string) string
		publishErr error
		wantStatus int
		wantErrors []fieldCode
	}{
		{"body without the link", "put-email-settings.json", func(b string) string {
			return strings.Replace(b, `Approve access here:\n\n{{link}}`, `Call us.`, 1)
		}, nil, 400, []fieldCode{{"welcomeBody", mail.CodeMissingLink}}},
		{"every bad field at once", "put-email-settings.json", func(b string) string {
			b = strings.Replace(b, `support@liveplatform.example`, `support at liveplatform`, 1)
			b = strings.Replace(b, `approve {{service}}`, `approve {{servise}}`, 1)
			return strings.Replace(b, `still waiting for your approval:\n\n{{link}}`, `still waiting {{link`, 1)
		}, nil, 400, []fieldCode{{"replyTo", mail.CodeInvalidAddress}, {"welcomeSubject", mail.CodeUnknownPlaceholder},
			{"reminderBody", mail.CodeUnbalancedBraces}}},
		{"wrong type and unknown field", "put-email-settings.json", func(string) string {
			return `{"senderName":5,"welcomeSubjekt":"x"}`
		}, nil, 400, []fieldCode{{"welcomeSubjekt", "unknown_field"}, {"senderName", "wrong_type"}}},
		{"test mail without an address", "test-email-settings.json", func(string) string { return `{}` },
			nil, 400, []fieldCode{{"to", "required"}}},
		{"test mail to a bad address", "test-email-settings.json", func(string) string { return `{"to":"it-admin"}` },
			nil, 400, []fieldCode{{"to", "invalid_email"}}},
		{"test mail cannot be queued", "test-email-settings.json", nil, errors.New("bus: put Test Mail Requested: throttled"), 503, nil},
		{"test mail to someone else", "test-email-settings.json", func(string) string { return `{"to":"ceo@contoso.com"}` },
			nil, 422, []fieldCode{{"to", notify.CodeRecipientNotAllowed}}},
		{"test recipients that are not addresses", "put-email-settings.json", func(b string) string {
			return strings.Replace(b, `{`, `{"testRecipients":["Boss <boss@contoso.com>"],`, 1)
		}, nil, 400, []fieldCode{{"testRecipients", mail.CodeInvalidAddress}}},
		{"test recipients with a null", "put-email-settings.json", func(b string) string {
			return strings.Replace(b, `{`, `{"testRecipients":[null],`, 1)
		}, nil, 400, []fieldCode{{"testRecipients", "wrong_type"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newMailFixture(t)
			f.tests.err = tt.publishErr
			req := golden(t, tt.event)
			if tt.body != nil {
				req = withBody(req, tt.body(req.Body))
			}
			res, p := call(t, f.h, req)
			if res.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d %s", res.StatusCode, res.Body)
			}
			var got []fieldCode
			errs, _ := p["errors"].([]any)
			for _, e := range errs {
				m := e.(map[string]any)
				got = append(got, fieldCode{m["field"].(string), m["code"].(string)})
			}
			if !slices.Equal(got, tt.wantErrors) {
				t.Errorf("errors = %v, want %v", got, tt.wantErrors)
			}
			if tt.event == "put-email-settings.json" {
				_, cur := call(t, f.h, golden(t, "get-email-settings.json"))
				if cur["senderName"] != "Live Platform" {
					t.Errorf("refused settings were saved: %v", cur)
				}
			}
			if tt.event == "test-email-settings.json" && len(f.tests.all()) != 0 {
				t.Errorf("a refused test mail was queued: %+v", f.tests.all())
			}
			if d, _ := p["detail"].(string); tt.publishErr != nil && strings.Contains(d, "throttled") {
				t.Errorf("detail %q shows the internal error", d)
			}
		})
	}
}

// The actions and settings routes answer 501 until their part is wired, so
// that a partial deployment says so instead of failing obscurely.
func TestMailRoutesWithoutTheirParts(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, name := range []string{"resend-invitation.json", "regenerate-invitation.json", "revoke-invitation.json",
		"get-email-settings.json", "put-email-settings.json", "test-email-settings.json"} {
		if res, _ := call(t, f.h, golden(t, name)); res.StatusCode != 501 {
			t.Errorf("%s without its part = %d %s", name, res.StatusCode, res.Body)
		}
	}
}

// A test mail goes to the staff member's own address, from its token, or
// to a test recipient the operator saved; to nobody else.
func TestTestMailRecipients(t *testing.T) {
	t.Parallel()
	f := newMailFixture(t)
	test := func(to string, claims map[string]string) int {
		req := withBody(golden(t, "test-email-settings.json"), `{"to":"`+to+`"}`)
		for k, v := range claims {
			req.RequestContext.Authorizer.JWT.Claims[k] = v
		}
		res, _ := call(t, f.h, req)
		return res.StatusCode
	}
	if got := test("STAFF@liveplatform.example", nil); got != 202 {
		t.Errorf("test mail to the staff member's own address = %d", got)
	}
	if got := test("staff@liveplatform.example", map[string]string{"preferred_username": "other@liveplatform.example"}); got != 422 {
		t.Errorf("test mail to another staff member = %d", got)
	}
	if got := test("staff@liveplatform.example", map[string]string{"email": "staff@liveplatform.example", "preferred_username": "x"}); got != 202 {
		t.Errorf("test mail to the email claim = %d", got)
	}
	if got := test("qa@contoso.com", nil); got != 422 {
		t.Errorf("test mail to an address not in the settings = %d", got)
	}
	put := golden(t, "put-email-settings.json")
	put = withBody(put, strings.Replace(put.Body, `{`, `{"testRecipients":["qa@contoso.com"],`, 1))
	if res, saved := call(t, f.h, put); res.StatusCode != 200 || fmt.Sprint(saved["testRecipients"]) != "[qa@contoso.com]" {
		t.Fatalf("PUT with test recipients = %d %s", res.StatusCode, res.Body)
	}
	if got := test("qa@contoso.com", nil); got != 202 {
		t.Errorf("test mail to a saved test recipient = %d", got)
	}
	if n := len(f.tests.all()); n != 3 {
		t.Errorf("%d test mails queued, want 3", n)
	}
}

// Each operator may ask for a few test mails per hour, counted in DynamoDB
// so that every container sees the same count; another operator's share
// is its own.
func TestTestMailRate(t *testing.T) {
	t.Parallel()
	db, table := testenv.DynamoDB(t)
	counter, err := quota.NewDynamo(db, table)
	if err != nil {
		t.Fatal(err)
	}
	limit, err := quota.New(counter, fixedClock{now}, "testmail", quota.Rule{Limit: 2, Window: time.Hour}, "Too many test mails.")
	if err != nil {
		t.Fatal(err)
	}
	f := newMailFixtureWith(t, limit)
	for i := range 3 {
		res, _ := call(t, f.h, golden(t, "test-email-settings.json"))
		if want := []int{202, 202, 429}[i]; res.StatusCode != want {
			t.Fatalf("test mail %d = %d %s, want %d", i+1, res.StatusCode, res.Body, want)
		}
		if i == 2 && res.Headers["Retry-After"] != "3600" {
			t.Errorf("Retry-After = %q, want the rest of the hour", res.Headers["Retry-After"])
		}
	}
	if res, _ := call(t, f.h, withOperator(golden(t, "test-email-settings.json"), "other-operator")); res.StatusCode != 202 {
		t.Errorf("another operator's test mail = %d %s", res.StatusCode, res.Body)
	}
	if n := len(f.tests.all()); n != 3 {
		t.Errorf("%d test mails queued, want 3", n)
	}
}
