package wizard_test

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocpro/upgrade/internal/link"
	"github.com/ocpro/upgrade/internal/upgrade"
	"github.com/ocpro/upgrade/internal/wizard"
)

func TestNewChecksDependencies(t *testing.T) {
	t.Parallel()
	full := func() wizard.Config {
		return wizard.Config{Store: newStore(t), Identity: &identity{}, Sealer: sealer{},
			Links: &link.Signer{}, FormKeys: link.StaticKey("k"), Clock: &clock{}, Logger: slog.New(slog.DiscardHandler),
			RequiredRoles: []string{roleCall}}
	}
	tests := []struct {
		name   string
		break_ func(*wizard.Config)
	}{
		{"no store", func(c *wizard.Config) { c.Store = nil }},
		{"no identity", func(c *wizard.Config) { c.Identity = nil }},
		{"no sealer", func(c *wizard.Config) { c.Sealer = nil }},
		{"no links", func(c *wizard.Config) { c.Links = nil }},
		{"no form keys", func(c *wizard.Config) { c.FormKeys = nil }},
		{"no clock", func(c *wizard.Config) { c.Clock = nil }},
		{"no logger", func(c *wizard.Config) { c.Logger = nil }},
		{"no required roles: consent would prove nothing", func(c *wizard.Config) { c.RequiredRoles = nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := full()
			tt.break_(&c)
			if _, err := wizard.New(c); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if _, err := wizard.New(full()); err != nil {
		t.Fatalf("complete config refused: %v", err)
	}
}

// Mail scanners open links before people do: opening changes nothing.
func TestOpenChangesNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 0)
	tok := w.invite(t, "inv1")
	for range 3 {
		v, err := w.svc.Open(context.Background(), tok, wizard.NewBinding())
		if err != nil || v.Step != wizard.StepWelcome || v.FormToken == "" || v.CustomerName != "Contoso" {
			t.Fatalf("open: %+v, %v", v, err)
		}
	}
	if _, writes := w.store.counts(); writes != 0 {
		t.Fatalf("opening the link wrote %d times", writes)
	}
	if s := w.store.invitation("inv1").Status; s != upgrade.InvitationPending {
		t.Fatalf("status %s after opening", s)
	}
}

// Opening a live link reads the invitation alone: it carries
// what the Welcome page names and whether a device attempt was started.
// Only a started attempt, or an invitation stored before the copy existed,
// costs more.
func TestOpenReadsTheInvitationAlone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// prepare stores invitation inv1 and returns its token.
		prepare    func(t *testing.T, w *world, binding string) string
		step       wizard.Step
		otherReads int
	}{
		{"welcome", func(t *testing.T, w *world, _ string) string { return w.invite(t, "inv1") }, wizard.StepWelcome, 0},
		{"token acquired", func(t *testing.T, w *world, _ string) string {
			tok := w.invite(t, "inv1")
			w.store.change("inv1", func(inv *upgrade.Invitation) {
				inv.Status, inv.AuthenticatedBy, inv.TenantID = upgrade.InvitationTokenAcquired, "admin@contoso.example", tenantA
			})
			return tok
		}, wizard.StepAcquired, 0},
		{"device attempt started", func(t *testing.T, w *world, binding string) string {
			tok := w.invite(t, "inv1")
			if _, err := w.svc.StartDevice(context.Background(), tok, binding, w.welcome(t, tok, binding)); err != nil {
				t.Fatalf("start device: %v", err)
			}
			return tok
		}, wizard.StepDevice, 1},
		{"stored before the copy", func(t *testing.T, w *world, _ string) string { return w.inviteLegacy(t, "inv1") },
			wizard.StepWelcome, 3},
		{"stored before the copy, with a device attempt", func(t *testing.T, w *world, _ string) string {
			tok := w.inviteLegacy(t, "inv1")
			// Written before DeviceAttempt existed: the mark is missing.
			if err := w.store.Store.StartDevice(context.Background(), "inv1", wizard.Device{UserCode: "ABCD2345",
				VerificationURI: "https://login.example/devicelogin", Interval: 5 * time.Second, ExpiresAt: start.Add(15 * time.Minute),
				LastPoll: start}, 1); err != nil {
				t.Fatal(err)
			}
			w.store.change("inv1", func(inv *upgrade.Invitation) { inv.Status, inv.DeviceAttempt = upgrade.InvitationInProgress, false })
			return tok
		}, wizard.StepDevice, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, 0)
			binding := wizard.NewBinding()
			tok := tt.prepare(t, w, binding)
			inv0, other0 := w.store.reads()
			_, writes0 := w.store.counts()
			v, err := w.svc.Open(context.Background(), tok, binding)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			if v.Step != tt.step || v.CustomerName != "Contoso" || v.ServiceName != "Contoso Teams" || v.License != upgrade.Pro {
				t.Errorf("view = step %s, %q, %q, %s; want step %s naming Contoso, Contoso Teams, OC_PRO",
					v.Step, v.CustomerName, v.ServiceName, v.License, tt.step)
			}
			if tt.step == wizard.StepDevice && (v.Device == nil || v.Device.UserCode != "ABCD2345") {
				t.Errorf("device view = %+v, want the started attempt's code", v.Device)
			}
			inv, other := w.store.reads()
			if _, writes := w.store.counts(); writes != writes0 {
				t.Errorf("opening wrote %d times", writes-writes0)
			}
			if inv-inv0 != 1 || other-other0 != tt.otherReads {
				t.Errorf("read the invitation %d times and %d other items; want 1 and %d", inv-inv0, other-other0, tt.otherReads)
			}
		})
	}
}

// Every link that does not work gets ErrNeutral from every step, after the
// same work: one invitation read and one MAC, and no write.
func TestDeadLinksAreNeutral(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// kill prepares the invitation and returns the token to try.
		kill func(t *testing.T, w *world) string
	}{
		{"unknown invitation", func(t *testing.T, w *world) string {
			// A link with a good MAC for an invitation the table does not
			// hold.
			tok, err := w.signer.Token(context.Background(), "unknown", 1)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}},
		{"forged MAC", func(t *testing.T, w *world) string {
			tok := w.invite(t, "inv1")
			return tok[:len(tok)-4] + "AAAA"
		}},
		{"expired by time", func(t *testing.T, w *world) string {
			tok := w.invite(t, "inv1")
			w.clock.advance(8 * 24 * time.Hour)
			return tok
		}},
		{"expired by the sweep", func(t *testing.T, w *world) string { return w.withStatus(t, upgrade.InvitationExpired) }},
		{"revoked", func(t *testing.T, w *world) string { return w.withStatus(t, upgrade.InvitationRevoked) }},
		{"used", func(t *testing.T, w *world) string { return w.withStatus(t, upgrade.InvitationAuthenticationComplete) }},
		{"failed", func(t *testing.T, w *world) string { return w.withStatus(t, upgrade.InvitationFailed) }},
		{"regenerated", func(t *testing.T, w *world) string {
			old := w.invite(t, "inv1")
			w.store.change("inv1", func(inv *upgrade.Invitation) { inv.Generation++ })
			return old
		}},
	}
	steps := []struct {
		name string
		do   func(w *world, tok, binding, form string) error
	}{
		{"open", func(w *world, tok, b, _ string) error { _, err := w.svc.Open(context.Background(), tok, b); return err }},
		{"poll", func(w *world, tok, b, _ string) error { _, err := w.svc.Poll(context.Background(), tok, b); return err }},
		{"start device", func(w *world, tok, b, f string) error {
			_, err := w.svc.StartDevice(context.Background(), tok, b, f)
			return err
		}},
		{"start sign-in", func(w *world, tok, b, f string) error {
			_, err := w.svc.StartSignIn(context.Background(), tok, b, f)
			return err
		}},
		{"continue", func(w *world, tok, b, f string) error {
			_, err := w.svc.Continue(context.Background(), tok, b, f)
			return err
		}},
	}
	for _, tt := range tests {
		for _, st := range steps {
			t.Run(tt.name+"/"+st.name, func(t *testing.T) {
				t.Parallel()
				w := newWorld(t, 0)
				binding := wizard.NewBinding()
				// The form token the page had while the link still worked.
				form := w.welcome(t, w.token(t, w.inviteIfNone(t)), binding)
				tok := tt.kill(t, w)
				reads0, writes0 := w.store.counts()
				macs0 := w.linkKey.n.Load()
				if err := st.do(w, tok, binding, form); !errors.Is(err, wizard.ErrNeutral) {
					t.Fatalf("err = %v, want ErrNeutral", err)
				}
				reads, writes := w.store.counts()
				if reads-reads0 != 1 || w.linkKey.n.Load()-macs0 != 1 || writes != writes0 {
					t.Fatalf("did %d reads, %d MACs, %d writes; want 1, 1, 0", reads-reads0, w.linkKey.n.Load()-macs0, writes-writes0)
				}
				if w.ms.pollN.Load() != 0 || w.ms.appCall.Load() != 0 {
					t.Fatal("a dead link reached Microsoft")
				}
			})
		}
	}
}

// inviteIfNone makes invitation inv1 once and returns its id.
func (w *world) inviteIfNone(t *testing.T) string {
	t.Helper()
	if w.store.invitation("inv1").ID == "" {
		w.invite(t, "inv1")
	}
	return "inv1"
}

// withStatus returns the token of inv1 after putting it in status s.
func (w *world) withStatus(t *testing.T, s upgrade.InvitationStatus) string {
	t.Helper()
	tok := w.token(t, w.inviteIfNone(t))
	w.store.change("inv1", func(inv *upgrade.Invitation) { inv.Status = s })
	return tok
}

// The form key is the link key, which rotates: a page rendered before a
// rotation still posts after it, and so does a page rendered by a
// container that read the new key before this one did.
func TestFormTokenSurvivesKeyRotation(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 0)
	tok := w.invite(t, "inv1")
	b := wizard.NewBinding()
	before := w.welcome(t, tok, b)
	w.formKey.rotate("form-key-2-form-key-2-form-key-2-form-key-2")
	if _, err := w.svc.StartSignIn(context.Background(), tok, b, before); err != nil {
		t.Fatalf("a page of the previous key: %v", err)
	}

	w2 := newWorld(t, 0)
	tok2 := w2.invite(t, "inv1")
	w2.formKey.rotate("form-key-3-form-key-3-form-key-3-form-key-3")
	newer := w2.welcome(t, tok2, b)
	// This container still holds the key before; Secrets Manager holds
	// the one the page was made with.
	w2.formKey.mu.Lock()
	w2.formKey.cur, w2.formKey.prev = w2.formKey.prev, nil
	w2.formKey.stored = []byte("form-key-3-form-key-3-form-key-3-form-key-3")
	w2.formKey.mu.Unlock()
	if _, err := w2.svc.StartSignIn(context.Background(), tok2, b, newer); err != nil {
		t.Fatalf("a page of a key this container had not read: %v", err)
	}
	if w2.formKey.refreshes != 1 {
		t.Errorf("%d refreshes, want 1", w2.formKey.refreshes)
	}
}

// A POST needs the form token of this browser's page.
func TestFormTokenBindsBrowser(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		binding, form func(w *world, tok string) (string, string)
	}{
		{"no form token", func(*world, string) (string, string) { return wizard.NewBinding(), "" }, nil},
		{"form token of another browser", func(w *world, tok string) (string, string) {
			return wizard.NewBinding(), w.welcome(t, tok, wizard.NewBinding())
		}, nil},
		{"no binding cookie", func(w *world, tok string) (string, string) { return "", w.welcome(t, tok, "") }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, 0)
			tok := w.invite(t, "inv1")
			b, f := tt.binding(w, tok)
			if _, err := w.svc.StartDevice(context.Background(), tok, b, f); !errors.Is(err, wizard.ErrForm) {
				t.Fatalf("start device: %v, want ErrForm", err)
			}
			if _, err := w.svc.StartSignIn(context.Background(), tok, b, f); !errors.Is(err, wizard.ErrForm) {
				t.Fatalf("start sign-in: %v, want ErrForm", err)
			}
			if _, writes := w.store.counts(); writes != 0 {
				t.Fatalf("%d writes", writes)
			}
		})
	}
}

// startDevice opens inv1 and presses "Start authentication".
func (w *world) startDevice(t *testing.T) (tok, binding string) {
	t.Helper()
	tok = w.invite(t, "inv1")
	binding = wizard.NewBinding()
	v, err := w.svc.StartDevice(context.Background(), tok, binding, w.welcome(t, tok, binding))
	if err != nil || v.Step != wizard.StepDevice || v.Device.UserCode != "ABCD2345" {
		t.Fatalf("start device: %+v, %v", v, err)
	}
	return tok, binding
}

func pending() pollAnswer { return pollAnswer{err: &wizard.SignInError{Reason: wizard.ReasonPending}} }
func slowDown() pollAnswer {
	return pollAnswer{err: &wizard.SignInError{Reason: wizard.ReasonSlowDown}}
}

// Microsoft is polled at most once per interval, and slow_down adds five
// seconds to it for good (RFC 8628 section 3.5).
func TestPollRespectsIntervalAndSlowDown(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 0)
	w.ms.polls = []pollAnswer{pending(), slowDown(), pending()}
	tok, binding := w.startDevice(t)
	if d := w.store.device("inv1"); d.Interval != 5*time.Second || string(d.SealedCode) == "device-code-secret" {
		t.Fatalf("stored device attempt %+v", d)
	}
	steps := []struct {
		name         string
		at           time.Duration // since the start
		wantPolls    int32         // in total
		wantInterval time.Duration
	}{
		{"before the interval", 4 * time.Second, 0, 5 * time.Second},
		{"at the interval: pending", 5 * time.Second, 1, 5 * time.Second},
		{"again too soon", 9 * time.Second, 1, 5 * time.Second},
		{"next interval: slow_down", 10 * time.Second, 2, 10 * time.Second},
		{"the old interval is too soon now", 15 * time.Second, 2, 10 * time.Second},
		{"the new interval", 20 * time.Second, 3, 10 * time.Second},
	}
	for _, st := range steps {
		w.clock.mu.Lock()
		w.clock.now = start.Add(st.at)
		w.clock.mu.Unlock()
		v, err := w.svc.Poll(context.Background(), tok, binding)
		if err != nil || v.Step != wizard.StepDevice {
			t.Fatalf("%s: %+v, %v", st.name, v, err)
		}
		if n := w.ms.pollN.Load(); n != st.wantPolls {
			t.Fatalf("%s: %d polls, want %d", st.name, n, st.wantPolls)
		}
		if d := w.store.device("inv1"); d.Interval != st.wantInterval || v.Device.Interval != st.wantInterval {
			t.Fatalf("%s: interval %s (page %s), want %s", st.name, d.Interval, v.Device.Interval, st.wantInterval)
		}
	}
}

// An interval under RFC 8628's five seconds is raised to five.
func TestPollIntervalHasAFloor(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 0)
	w.ms.device.Interval = time.Second
	w.startDevice(t)
	if d := w.store.device("inv1"); d.Interval != 5*time.Second {
		t.Fatalf("interval %s", d.Interval)
	}
}

// Of many status requests at once only one asks Microsoft.
func TestConcurrentPollsAskMicrosoftOnce(t *testing.T) {
	t.Parallel()
	const n = 8
	w := newWorld(t, 0)
	tok, binding := w.startDevice(t)
	w.clock.advance(5 * time.Second)
	// Every request reads the attempt before any may claim the poll (the
	// page a request renders afterwards reads it again, unhindered).
	var read sync.WaitGroup
	var arrived atomic.Int32
	read.Add(n)
	w.store.holdAfterGetAttempt(func() {
		if arrived.Add(1) <= n {
			read.Done()
			read.Wait()
		}
	})
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			if _, err := w.svc.Poll(context.Background(), tok, binding); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := w.ms.pollN.Load(); got != 1 {
		t.Fatalf("%d concurrent status requests polled Microsoft %d times, want 1", n, got)
	}
}

// How a device code poll ends, and what the page then says.
func TestPollOutcomes(t *testing.T) {
	t.Parallel()
	signInErr := func(r wizard.Reason, code string) pollAnswer {
		return pollAnswer{err: &wizard.SignInError{Reason: r, Code: code}}
	}
	tests := []struct {
		name        string
		answer      pollAnswer
		wantOutcome wizard.Outcome
		wantStep    wizard.Step
		wantStatus  upgrade.InvitationStatus
	}{
		{"declined", signInErr(wizard.ReasonDeclined, ""), wizard.OutcomeDeclined, wizard.StepDevice, upgrade.InvitationInProgress},
		{"expired at Microsoft", signInErr(wizard.ReasonExpired, "70019"), wizard.OutcomeExpired, wizard.StepDevice, upgrade.InvitationInProgress},
		{"Conditional Access blocks device code", signInErr(wizard.ReasonBlocked, "53003"), wizard.OutcomeBlocked, wizard.StepDevice, upgrade.InvitationInProgress},
		{"needs an admin", signInErr(wizard.ReasonNeedsAdmin, "65001"), wizard.OutcomeNeedsAdmin, wizard.StepDevice, upgrade.InvitationInProgress},
		{"account of another tenant", signInErr(wizard.ReasonWrongAccount, "50020"), wizard.OutcomeWrongAccount, wizard.StepDevice, upgrade.InvitationInProgress},
		{"something else", signInErr(wizard.ReasonOther, "9999999"), wizard.OutcomeFailed, wizard.StepDevice, upgrade.InvitationInProgress},
		{"Microsoft unavailable: keep waiting", signInErr(wizard.ReasonUnavailable, ""), wizard.OutcomeNone, wizard.StepDevice, upgrade.InvitationInProgress},
		{"token acquired", pollAnswer{tokens: wizard.Tokens{TenantID: tenantA, ObjectID: "oid", UPN: "admin@a.example", RefreshToken: "refresh-secret", DirectoryRoles: adminRoles}},
			wizard.OutcomeAcquired, wizard.StepAcquired, upgrade.InvitationTokenAcquired},
		// Its refresh token would become the tenant account credentials.
		{"account without a directory role", pollAnswer{tokens: wizard.Tokens{TenantID: tenantA, ObjectID: "oid", UPN: "user@a.example", RefreshToken: "refresh-secret"}},
			wizard.OutcomeNeedsRole, wizard.StepDevice, upgrade.InvitationInProgress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, 0)
			w.ms.polls = []pollAnswer{tt.answer}
			tok, binding := w.startDevice(t)
			w.clock.advance(5 * time.Second)
			v, err := w.svc.Poll(context.Background(), tok, binding)
			if err != nil || v.Step != tt.wantStep {
				t.Fatalf("poll: %+v, %v", v, err)
			}
			d := w.store.device("inv1")
			if d.Outcome != tt.wantOutcome || (tt.wantOutcome != wizard.OutcomeNone) != (d.SealedCode == nil) {
				t.Fatalf("attempt outcome %q, code kept %v", d.Outcome, d.SealedCode != nil)
			}
			if v.Device != nil && v.Device.Outcome != tt.wantOutcome {
				t.Fatalf("page outcome %q", v.Device.Outcome)
			}
			inv := w.store.invitation("inv1")
			if inv.Status != tt.wantStatus {
				t.Fatalf("status %s, want %s", inv.Status, tt.wantStatus)
			}
			if tt.wantOutcome != wizard.OutcomeAcquired {
				return
			}
			if inv.TenantID != tenantA || inv.AuthenticatedBy != "admin@a.example" || inv.AuthenticatedByObjectID != "oid" || v.UPN != "admin@a.example" {
				t.Fatalf("invitation %+v, page %+v", inv, v)
			}
			c := w.store.credential("inv1")
			plain, err := sealer{}.Open(context.Background(), c, upgrade.CredentialContext(tenantA, "inv1"))
			if err != nil || string(plain) != "refresh-secret" || strings.Contains(string(c), "refresh-secret") {
				t.Fatalf("credential %q: %q, %v", c, plain, err)
			}
		})
	}
}

// A code past its expiry is settled without asking Microsoft.
func TestExpiredDeviceCodeIsNotPolled(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 0)
	tok, binding := w.startDevice(t)
	w.clock.advance(15 * time.Minute)
	v, err := w.svc.Poll(context.Background(), tok, binding)
	if err != nil || v.Device == nil || v.Device.Outcome != wizard.OutcomeExpired {
		t.Fatalf("poll: %+v, %v", v, err)
	}
	if w.ms.pollN.Load() != 0 {
		t.Fatal("polled an expired code")
	}
}

// consentState presses "continue" on the acquired page of a tenant that
// has not consented, and returns the admin consent request's state.
func (w *world) consentState(t *testing.T, tok, binding, form string) string {
	t.Helper()
	res, err := w.svc.Continue(context.Background(), tok, binding, form)
	if err != nil || !strings.Contains(res.Redirect, "/adminconsent?") {
		t.Fatalf("continue: %+v, %v", res, err)
	}
	u, err := url.Parse(res.Redirect)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("state")
}

// The state of the consent callback is one-time, bound to the browser and
// to the invitation, and expires; the tenant is proven by an application
// token, never by the query.
func TestConsentCallback(t *testing.T) {
	t.Parallel()
	full := wizard.Grant{TenantID: tenantA, Roles: []string{roleOrg, roleCall, "Extra.Read.All"}}
	tests := []struct {
		name string
		// before runs after the state was issued; it returns the callback
		// and the binding of the browser that brings it.
		before      func(t *testing.T, w *world, state, binding string) (wizard.Callback, string)
		grant       *wizard.Grant
		wantStep    wizard.Step
		wantProblem wizard.Problem
		wantNeutral bool
		wantAppCall bool
	}{
		{name: "consented tenant", grant: &full, wantStep: wizard.StepActivated, wantAppCall: true,
			before: func(_ *testing.T, _ *world, st, b string) (wizard.Callback, string) { return consented(st, tenantA), b }},
		{name: "tenant in upper case", grant: &full, wantStep: wizard.StepActivated, wantAppCall: true,
			before: func(_ *testing.T, _ *world, st, b string) (wizard.Callback, string) {
				return consented(st, strings.ToUpper(tenantA)), b
			}},
		// Consent that cannot be proven yet is waited for (finishing), not
		// reported missing: Microsoft's token service lags behind consent.
		{name: "forged: the query names a tenant that never consented", wantStep: wizard.StepFinishing, wantAppCall: true,
			before: func(_ *testing.T, _ *world, st, b string) (wizard.Callback, string) { return consented(st, tenantA), b }},
		{name: "forged: the query names another tenant", grant: &full, wantStep: wizard.StepProblem, wantProblem: wizard.ProblemWrongTenant,
			before: func(_ *testing.T, _ *world, st, b string) (wizard.Callback, string) { return consented(st, tenantB), b }},
		{name: "the app token is for another tenant", grant: &wizard.Grant{TenantID: tenantB, Roles: full.Roles},
			wantStep: wizard.StepFinishing, wantAppCall: true,
			before: func(_ *testing.T, _ *world, st, b string) (wizard.Callback, string) { return consented(st, tenantA), b }},
		{name: "the app token lacks a required role", grant: &wizard.Grant{TenantID: tenantA, Roles: []string{roleOrg}},
			wantStep: wizard.StepFinishing, wantAppCall: true,
			before: func(_ *testing.T, _ *world, st, b string) (wizard.Callback, string) { return consented(st, tenantA), b }},
		{name: "admin_consent missing", grant: &full, wantStep: wizard.StepProblem, wantProblem: wizard.ProblemConsent,
			before: func(_ *testing.T, _ *world, st, b string) (wizard.Callback, string) {
				return wizard.Callback{State: st, Tenant: tenantA}, b
			}},
		{name: "no state", grant: &full, wantStep: wizard.StepProblem, wantProblem: wizard.ProblemState,
			before: func(_ *testing.T, _ *world, _, b string) (wizard.Callback, string) { return consented("", tenantA), b }},
		{name: "unknown state", grant: &full, wantStep: wizard.StepProblem, wantProblem: wizard.ProblemState,
			before: func(_ *testing.T, _ *world, _, b string) (wizard.Callback, string) {
				return consented(wizard.NewBinding(), tenantA), b
			}},
		{name: "state from another browser", grant: &full, wantStep: wizard.StepProblem, wantProblem: wizard.ProblemBrowser,
			before: func(_ *testing.T, _ *world, st, _ string) (wizard.Callback, string) {
				return consented(st, tenantA), wizard.NewBinding()
			}},
		{name: "state without a binding cookie", grant: &full, wantStep: wizard.StepProblem, wantProblem: wizard.ProblemBrowser,
			before: func(_ *testing.T, _ *world, st, _ string) (wizard.Callback, string) {
				return consented(st, tenantA), ""
			}},
		{name: "expired state", grant: &full, wantStep: wizard.StepProblem, wantProblem: wizard.ProblemState,
			before: func(_ *testing.T, w *world, st, b string) (wizard.Callback, string) {
				w.clock.advance(wizard.DefaultStateTTL)
				return consented(st, tenantA), b
			}},
		{name: "state of a link regenerated since", grant: &full, wantNeutral: true,
			before: func(_ *testing.T, w *world, st, b string) (wizard.Callback, string) {
				w.store.change("inv1", func(inv *upgrade.Invitation) {
					inv.Generation++
					inv.Status = upgrade.InvitationRevoked
				})
				return consented(st, tenantA), b
			}},
		{name: "state of a sign-in as another tenant since", grant: &full, wantStep: wizard.StepProblem, wantProblem: wizard.ProblemWrongTenant,
			before: func(t *testing.T, w *world, st, b string) (wizard.Callback, string) {
				w.signedIn(t, w.token(t, "inv1"), tenantB)
				return consented(st, tenantA), b
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, 0)
			tok := w.invite(t, "inv1")
			binding, form := w.signedIn(t, tok, tenantA)
			state := w.consentState(t, tok, binding, form) // Not consented yet: off to Microsoft.
			if tt.grant != nil {
				w.ms.grant(tenantA, *tt.grant)
			}
			calls := w.ms.appCall.Load()
			cb, b := tt.before(t, w, state, binding)
			res, err := w.svc.HandleCallback(context.Background(), cb, b)
			if tt.wantNeutral {
				if !errors.Is(err, wizard.ErrNeutral) {
					t.Fatalf("err %v, want ErrNeutral", err)
				}
			} else if err != nil || res.View.Step != tt.wantStep || res.View.Problem != tt.wantProblem {
				t.Fatalf("callback: %+v, %v; want %s %q", res, err, tt.wantStep, tt.wantProblem)
			}
			if called := w.ms.appCall.Load() > calls; called != tt.wantAppCall {
				t.Fatalf("app token asked: %v, want %v", called, tt.wantAppCall)
			}
			inv := w.store.invitation("inv1")
			if tt.wantStep == wizard.StepActivated {
				if inv.Status != upgrade.InvitationAuthenticationComplete || inv.TenantID != tenantA ||
					strings.Join(inv.GrantedPermissions, " ") != "Extra.Read.All Organization.Read.All TeamsTelephoneNumber.ReadWrite.All" {
					t.Fatalf("invitation %+v", inv)
				}
				ev := w.pub.published()
				if len(ev) != 1 || ev[0].TenantID != tenantA || ev[0].InvitationID != "inv1" || ev[0].UpgradeID != "up" {
					t.Fatalf("events %+v", ev)
				}
			} else {
				if inv.Status == upgrade.InvitationAuthenticationComplete || len(w.pub.published()) != 0 {
					t.Fatalf("completed anyway: %+v", inv)
				}
			}
			// Whatever happened, the state is spent.
			if cb.State != "" {
				res, err := w.svc.HandleCallback(context.Background(), consented(cb.State, tenantA), binding)
				if err != nil || res.View.Problem != wizard.ProblemState {
					t.Fatalf("replay: %+v, %v", res, err)
				}
			}
		})
	}
}

func consented(state, tenant string) wizard.Callback {
	return wizard.Callback{State: state, AdminConsent: "True", Tenant: tenant}
}

// A tenant that consented before is proven at once on "continue", with no
// trip to Microsoft's consent page.
func TestContinueWithConsentedTenant(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 0)
	tok := w.invite(t, "inv1")
	binding, form := w.signedIn(t, tok, tenantA)
	w.ms.grant(tenantA, wizard.Grant{TenantID: tenantA, Roles: []string{roleCall, roleOrg}})
	res, err := w.svc.Continue(context.Background(), tok, binding, form)
	if err != nil || res.Redirect != "" || res.View.Step != wizard.StepActivated {
		t.Fatalf("continue: %+v, %v", res, err)
	}
	// The link is used now: a second use is neutral.
	if _, err := w.svc.Open(context.Background(), tok, binding); !errors.Is(err, wizard.ErrNeutral) {
		t.Fatalf("second use: %v", err)
	}
}

// Microsoft's error is checked first: nothing else in the query counts,
// the state is spent, and the page explains the error.
func TestCallbackErrorFirst(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		err, desc   string
		sameBrowser bool
		wantProblem wizard.Problem
		wantCode    string
	}{
		{"consent declined (v2.0)", "access_denied", "AADSTS65004: User declined to consent to access the app.", true, wizard.ProblemDeclined, "65004"},
		{"consent declined (v2.0, as documented)", "consent_required", "AADSTS65004: User declined to consent to access the app.", true, wizard.ProblemDeclined, "65004"},
		{"consent by an account of another directory", "access_denied", "AADSTS50020: User account 'admin@fabrikam.example' from identity provider does not exist in tenant.", true, wizard.ProblemWrongAccount, "50020"},
		{"cancelled (older endpoint)", "permission_denied", "The admin canceled the request", true, wizard.ProblemDeclined, ""},
		{"not an admin", "access_denied", "AADSTS90094: The grant requires admin permission.", true, wizard.ProblemNeedsAdmin, "90094"},
		{"account of another tenant", "invalid_request", "AADSTS50020: User account from identity provider does not exist in tenant.", true, wizard.ProblemWrongAccount, "50020"},
		{"Conditional Access", "invalid_grant", "AADSTS53003: Access has been blocked by Conditional Access policies.", true, wizard.ProblemBlocked, "53003"},
		{"something else", "server_error", "AADSTS50000: There was an error issuing a token.", true, wizard.ProblemMicrosoft, "50000"},
		{"from another browser: no way back", "consent_required", "AADSTS65004: declined", false, wizard.ProblemDeclined, "65004"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, 0)
			tok := w.invite(t, "inv1")
			binding, form := w.signedIn(t, tok, tenantA)
			state := w.consentState(t, tok, binding, form)
			// The tenant did consent meanwhile, and the query says so too:
			// the error still wins.
			w.ms.grant(tenantA, wizard.Grant{TenantID: tenantA, Roles: []string{roleCall, roleOrg}})
			calls, redeems := w.ms.appCall.Load(), w.ms.redeems.Load()
			b := binding
			if !tt.sameBrowser {
				b = wizard.NewBinding()
			}
			cb := wizard.Callback{State: state, Error: tt.err, ErrorDescription: tt.desc, AdminConsent: "True", Tenant: tenantA, Code: "code-" + tenantA}
			res, err := w.svc.HandleCallback(context.Background(), cb, b)
			v := res.View
			if err != nil || v.Step != wizard.StepProblem || v.Problem != tt.wantProblem || v.Code != tt.wantCode {
				t.Fatalf("callback: %+v, %v", res, err)
			}
			if v.Back != tt.sameBrowser || (v.Token == tok) != tt.sameBrowser {
				t.Fatalf("way back %v with token %v; want both %v", v.Back, v.Token != "", tt.sameBrowser)
			}
			if w.ms.appCall.Load() != calls || w.ms.redeems.Load() != redeems {
				t.Fatal("an error callback reached Microsoft")
			}
			if s := w.store.invitation("inv1").Status; s != upgrade.InvitationTokenAcquired {
				t.Fatalf("status %s", s)
			}
			res, err = w.svc.HandleCallback(context.Background(), consented(state, tenantA), binding)
			if err != nil || res.View.Problem != wizard.ProblemState {
				t.Fatalf("the state still worked after the error: %+v, %v", res, err)
			}
		})
	}
}

// An error callback with no state or someone else's still shows the error,
// with no way back into any wizard.
func TestCallbackErrorWithoutState(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 0)
	for _, state := range []string{"", wizard.NewBinding()} {
		res, err := w.svc.HandleCallback(context.Background(), wizard.Callback{State: state, Error: "access_denied",
			ErrorDescription: "AADSTS90094: The grant requires admin permission."}, wizard.NewBinding())
		if err != nil || res.View.Problem != wizard.ProblemNeedsAdmin || res.View.Back || res.View.Token != "" {
			t.Fatalf("state %q: %+v, %v", state, res, err)
		}
	}
}

// "Sign in with Microsoft": the state is one-time and the code is redeemed
// with the verifier of the challenge sent.
func TestSignInStateIsOneTime(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 0)
	tok := w.invite(t, "inv1")
	binding := wizard.NewBinding()
	res, err := w.svc.StartSignIn(context.Background(), tok, binding, w.welcome(t, tok, binding))
	if err != nil || !strings.HasPrefix(res.Redirect, "https://login.example/") {
		t.Fatalf("start: %+v, %v", res, err)
	}
	if s := w.store.invitation("inv1").Status; s != upgrade.InvitationInProgress {
		t.Fatalf("status %s", s)
	}
	w.ms.mu.Lock()
	state, challenge := w.ms.authorize.Get("state"), w.ms.authorize.Get("code_challenge")
	w.ms.codes["the-code"] = codeGrant{challenge: challenge, tokens: wizard.Tokens{TenantID: tenantA, UPN: "admin@a.example", ObjectID: "oid", DirectoryRoles: adminRoles}}
	w.ms.mu.Unlock()
	cb := wizard.Callback{State: state, Code: "the-code"}
	if res, err := w.svc.HandleCallback(context.Background(), cb, binding); err != nil || res.Redirect != "/invite/"+tok {
		t.Fatalf("callback: %+v, %v", res, err)
	}
	if inv := w.store.invitation("inv1"); inv.Status != upgrade.InvitationTokenAcquired || inv.TenantID != tenantA {
		t.Fatalf("invitation %+v", inv)
	}
	res, err = w.svc.HandleCallback(context.Background(), cb, binding)
	if err != nil || res.View.Problem != wizard.ProblemState || w.ms.redeems.Load() != 1 {
		t.Fatalf("replay: %+v, %v, %d redemptions", res, err, w.ms.redeems.Load())
	}
}

// Each invitation has a budget of device code starts and of redirects;
// spending it fails the invitation.
func TestAttemptLimits(t *testing.T) {
	t.Parallel()
	const max = 3
	tests := []struct {
		name string
		try  func(w *world, tok, binding, form string) (wizard.View, error)
	}{
		{"device code starts", func(w *world, tok, b, f string) (wizard.View, error) {
			return w.svc.StartDevice(context.Background(), tok, b, f)
		}},
		{"sign-in redirects", func(w *world, tok, b, f string) (wizard.View, error) {
			res, err := w.svc.StartSignIn(context.Background(), tok, b, f)
			return res.View, err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, max)
			tok := w.invite(t, "inv1")
			binding := wizard.NewBinding()
			form := w.welcome(t, tok, binding)
			for i := range max {
				if v, err := tt.try(w, tok, binding, form); err != nil || v.Step == wizard.StepProblem {
					t.Fatalf("attempt %d: %+v, %v", i+1, v, err)
				}
			}
			v, err := tt.try(w, tok, binding, form)
			if err != nil || v.Problem != wizard.ProblemTooMany {
				t.Fatalf("attempt %d: %+v, %v", max+1, v, err)
			}
			if s := w.store.invitation("inv1").Status; s != upgrade.InvitationFailed {
				t.Fatalf("status %s", s)
			}
			if _, err := w.svc.Open(context.Background(), tok, binding); !errors.Is(err, wizard.ErrNeutral) {
				t.Fatalf("a failed invitation's link still opens: %v", err)
			}
		})
	}
}

// Nothing secret reaches the log: link token, device code, state, code,
// refresh token.
func TestLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 0)
	w.ms.polls = []pollAnswer{{tokens: wizard.Tokens{TenantID: tenantA, UPN: "admin@a.example", RefreshToken: "refresh-secret-device", DirectoryRoles: adminRoles}}}
	tok, binding := w.startDevice(t)
	w.clock.advance(5 * time.Second)
	if _, err := w.svc.Poll(context.Background(), tok, binding); err != nil {
		t.Fatal(err)
	}
	form := w.welcome(t, tok, binding)
	state := w.consentState(t, tok, binding, form)
	if _, err := w.svc.HandleCallback(context.Background(), wizard.Callback{State: state, Error: "access_denied"}, binding); err != nil {
		t.Fatal(err)
	}
	logs := w.logs.String()
	if !strings.Contains(logs, "device code started") {
		t.Fatalf("nothing logged? %s", logs)
	}
	for _, secret := range []string{tok, strings.SplitN(tok, ".", 2)[1], "device-code-secret", "refresh-secret-device", state, binding} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds a secret %q:\n%s", secret[:6], logs)
		}
	}
}
