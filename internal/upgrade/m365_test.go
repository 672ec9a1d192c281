package upgrade_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ocpro/upgrade/internal/fault"
	"github.com/ocpro/upgrade/internal/metric"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// Guide steps 22 and 27-29: the automatic validation after consent, the M365
// settings, Validate Authentication and the keep-alive.
func TestM365(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	event := func(fx finishFixture, id string) upgrade.AuthenticationCompleted {
		return upgrade.AuthenticationCompleted{EventID: id, OperatorID: "op", CustomerID: fx.u.CustomerID, UpgradeID: fx.u.ID,
			InvitationID: fx.u.Invitation.ID, TenantID: tenantID}
	}

	t.Run("settings before consent are not found", func(t *testing.T) {
		t.Parallel()
		fx := newFinishFixture(t)
		_, err := fx.m365.Settings(ctx, "op", fx.u.CustomerID)
		wantKind(t, err, fault.NotFound)
	})
	t.Run("Authentication Completed validates once per event", func(t *testing.T) {
		t.Parallel()
		fx := newFinishFixture(t)
		if err := fx.m365.AuthenticationCompleted(ctx, event(fx, "e1")); err != nil {
			t.Fatal(err)
		}
		if err := fx.m365.AuthenticationCompleted(ctx, event(fx, "e1")); err != nil {
			t.Fatalf("second delivery: %v", err)
		}
		u, err := fx.store.GetUpgrade(ctx, "op", fx.u.ID)
		if err != nil {
			t.Fatal(err)
		}
		m, err := fx.m365.Settings(ctx, "op", fx.u.CustomerID)
		if err != nil {
			t.Fatal(err)
		}
		if u.Status != upgrade.UpgradeReadyToResume || m.Access != upgrade.AccessWorking || m.ConsentedBy != "admin@contoso.example" ||
			m.Account != "admin@contoso.example" || m.TenantDomain != "contoso.example" || !slices.Equal(m.GrantedPermissions, []string{"Organization.Read.All", "User.Read.All"}) {
			t.Fatalf("after Authentication Completed: upgrade %s, connection %+v", u.Status, m)
		}
	})
	t.Run("a transient failure is retried by EventBridge", func(t *testing.T) {
		t.Parallel()
		fx := newFinishFixture(t)
		fx.validator.set(failed(t0, upgrade.CheckFailure{Code: upgrade.FailureThrottled, Transient: true}))
		if err := fx.m365.AuthenticationCompleted(ctx, event(fx, "e1")); err == nil {
			t.Fatal("a transient failure was swallowed")
		}
	})
	t.Run("a stale event changes nothing", func(t *testing.T) {
		t.Parallel()
		fx := newFinishFixture(t)
		fx.setInvitation(t, upgrade.InvitationRevoked)
		if err := fx.m365.AuthenticationCompleted(ctx, event(fx, "e1")); err != nil {
			t.Fatal(err)
		}
		if _, err := fx.m365.Settings(ctx, "op", fx.u.CustomerID); fault.KindOf(err) != fault.NotFound {
			t.Fatalf("a stale event recorded a connection: %v", err)
		}
	})
	t.Run("Validate Authentication stores its result", func(t *testing.T) {
		t.Parallel()
		fx := newFinishFixture(t)
		if err := fx.m365.AuthenticationCompleted(ctx, event(fx, "e1")); err != nil {
			t.Fatal(err)
		}
		later := t0.Add(time.Hour)
		fx.validator.set(failed(later, upgrade.CheckFailure{Code: upgrade.FailureConsentRevoked, Reason: "revoked", AADSTS: 7000229}))
		v, err := fx.m365.Validate(ctx, "op", fx.u.CustomerID)
		if err != nil || v.Passed() {
			t.Fatalf("Validate = %+v, %v", v, err)
		}
		m, err := fx.m365.Settings(ctx, "op", fx.u.CustomerID)
		if err != nil {
			t.Fatal(err)
		}
		if m.LastValidation == nil || !m.LastValidation.At.Equal(later) || m.Access != upgrade.AccessStopped {
			t.Fatalf("stored = %+v", m)
		}
	})
	t.Run("the keep-alive runs when due and reports stopped access", func(t *testing.T) {
		t.Parallel()
		fx := newFinishFixture(t)
		if err := fx.m365.AuthenticationCompleted(ctx, event(fx, "e1")); err != nil {
			t.Fatal(err)
		}
		if rep, err := fx.m365.KeepAlive(ctx); err != nil || rep.Checked != 0 {
			t.Fatalf("keep-alive before due = %+v, %v", rep, err)
		}
		fx.clock.t = t0.Add(upgrade.KeepAliveInterval)
		fx.validator.set(failed(fx.clock.t, upgrade.CheckFailure{Code: upgrade.FailureRefreshTokenExpired, AADSTS: 700082}))
		rep, err := fx.m365.KeepAlive(ctx)
		if err != nil || rep.Checked != 1 || rep.Stopped != 1 {
			t.Fatalf("keep-alive when due = %+v, %v", rep, err)
		}
		if rep, err := fx.m365.KeepAlive(ctx); err != nil || rep.Checked != 0 {
			t.Fatalf("the keep-alive ran again at once: %+v, %v", rep, err)
		}
	})
	t.Run("a validator that cannot run is an error, not a result", func(t *testing.T) {
		t.Parallel()
		fx := newFinishFixture(t)
		if err := fx.m365.AuthenticationCompleted(ctx, event(fx, "e1")); err != nil {
			t.Fatal(err)
		}
		fx.validator.err = errors.New("database down")
		if _, err := fx.m365.Validate(ctx, "op", fx.u.CustomerID); err == nil {
			t.Fatal("Validate succeeded without a validation")
		}
	})
}

// Every failed validation, permanent or transient, from any path, adds one
// to the ValidationsFailed metric that template.yaml's alarm watches; a
// passing one adds nothing.
func TestFailedValidationsAreCounted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	revoked := upgrade.CheckFailure{Code: upgrade.FailureConsentRevoked, Reason: "Consent was revoked", AADSTS: 7000229}
	throttled := upgrade.CheckFailure{Code: upgrade.FailureThrottled, Transient: true}
	tests := []struct {
		name   string
		result upgrade.Validation
		want   int
		// retry: a transient failure is returned so that the event is
		// delivered again.
		retry bool
	}{
		{"passed", passed(t0), 0, false},
		{"permanent failure", failed(t0, revoked), 1, false},
		{"transient failure", failed(t0, throttled), 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fx := newFinishFixture(t)
			var logs bytes.Buffer
			m, err := upgrade.NewM365(upgrade.M365Deps{Store: fx.store, Validator: fx.validator, Clock: fx.clock, ApplicationID: "app-1",
				Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			fx.validator.set(tt.result)
			err = m.AuthenticationCompleted(ctx, upgrade.AuthenticationCompleted{EventID: "e1", OperatorID: "op", CustomerID: fx.u.CustomerID,
				UpgradeID: fx.u.ID, InvitationID: fx.u.Invitation.ID, TenantID: tenantID})
			if (err != nil) != tt.retry {
				t.Fatalf("AuthenticationCompleted = %v, want an error only to retry", err)
			}
			if _, err := m.Validate(ctx, "op", fx.u.CustomerID); err != nil {
				t.Fatal(err)
			}
			if got := strings.Count(logs.String(), `"`+metric.ValidationsFailed+`":1`); got != 2*tt.want {
				t.Fatalf("%d %s records after two validations, want %d:\n%s", got, metric.ValidationsFailed, 2*tt.want, logs.String())
			}
		})
	}
}
