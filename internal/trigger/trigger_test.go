package trigger_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ocpro/upgrade/internal/event"
	"github.com/ocpro/upgrade/internal/trigger"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// fakeHTTP records the request it served.
type fakeHTTP struct {
	got *events.APIGatewayV2HTTPRequest
}

func (f *fakeHTTP) Handle(_ context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	f.got = &req
	return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: `{}`}, nil
}

// fakeTenants records the domain calls and fails them with err.
type fakeTenants struct {
	completed  []upgrade.AuthenticationCompleted
	keepAlives int
	err        error
}

func (f *fakeTenants) AuthenticationCompleted(_ context.Context, e upgrade.AuthenticationCompleted) error {
	f.completed = append(f.completed, e)
	return f.err
}

func (f *fakeTenants) KeepAlive(context.Context) (upgrade.KeepAliveReport, error) {
	f.keepAlives++
	return upgrade.KeepAliveReport{Checked: 3, Working: 2, Stopped: 1}, f.err
}

// sample reads a sample event of events/tokenvalidation. The Authentication
// Completed sample is written by internal/store's golden test from what
// the outbox carries through the template's pipe.
func sample(t *testing.T, name string) json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", "tokenvalidation", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNewChecksDependencies(t *testing.T) {
	t.Parallel()
	if _, err := trigger.New(nil, &fakeTenants{}); err == nil {
		t.Error("New(nil HTTP) succeeded")
	}
	if _, err := trigger.New(&fakeHTTP{}, nil); err == nil {
		t.Error("New(nil Tenants) succeeded")
	}
}

// Each sample event of events/tokenvalidation reaches exactly one domain
// call with its fields.
func TestHandleSampleEvents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		event     string
		routeKey  string
		completed *upgrade.AuthenticationCompleted
		keepAlive bool
	}{
		{name: "GET M365 settings", event: "get-m365.json", routeKey: "GET /v1/customers/{id}/m365"},
		{name: "Validate Authentication", event: "validate-authentication.json", routeKey: "POST /v1/customers/{id}/m365/validate"},
		{name: "Authentication Completed", event: "authentication-completed.json", completed: &upgrade.AuthenticationCompleted{
			EventID: "7f3c9a12-4b6e-4d2a-9c1e-0a5b8d7e6f41", OperatorID: "live-platform", CustomerID: "0j8d2v4k6m8p0r2t4w6y8a0c2e",
			UpgradeID: "2m0f4x6m8o0r2t4v6y8a0c2e4g", InvitationID: "1k9e3w5l7n9q1s3u5x7z9b1d3f", TenantID: "72f988bf-86f1-41af-91ab-2d7cd011db47"}},
		{name: "keep-alive schedule", event: "keep-alive.json", keepAlive: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, ten := &fakeHTTP{}, &fakeTenants{}
			r, err := trigger.New(h, ten)
			if err != nil {
				t.Fatal(err)
			}
			out, err := r.Handle(context.Background(), sample(t, tt.event))
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			switch {
			case tt.routeKey != "":
				if h.got == nil || h.got.RouteKey != tt.routeKey || h.got.PathParameters["id"] != "0j8d2v4k6m8p0r2t4w6y8a0c2e" {
					t.Fatalf("HTTP got %+v, want route %s", h.got, tt.routeKey)
				}
				if res, ok := out.(events.APIGatewayV2HTTPResponse); !ok || res.StatusCode != 200 {
					t.Errorf("response = %#v", out)
				}
			case tt.completed != nil:
				if len(ten.completed) != 1 || ten.completed[0] != *tt.completed {
					t.Fatalf("AuthenticationCompleted got %+v, want %+v", ten.completed, *tt.completed)
				}
			case tt.keepAlive:
				if rep, ok := out.(upgrade.KeepAliveReport); ten.keepAlives != 1 || !ok || rep.Checked != 3 {
					t.Fatalf("keep-alive runs %d, report %#v", ten.keepAlives, out)
				}
			}
			if h.got != nil && tt.routeKey == "" || len(ten.completed) > 0 && tt.completed == nil || ten.keepAlives > 0 && !tt.keepAlive {
				t.Errorf("%s reached another trigger too", tt.event)
			}
		})
	}
}

// Event and schedule failures are errors, so that EventBridge retries and
// then dead-letters them; invocations nobody can handle are errors too.
func TestHandleFailures(t *testing.T) {
	t.Parallel()
	transient := errors.New("validation failed transiently")
	tests := []struct {
		name    string
		event   json.RawMessage
		domain  error
		wantErr error
	}{
		{name: "Authentication Completed fails", event: sample(t, "authentication-completed.json"), domain: transient, wantErr: transient},
		{name: "keep-alive fails", event: sample(t, "keep-alive.json"), domain: transient, wantErr: transient},
		{name: "not JSON", event: json.RawMessage(`{"detail-type":`)},
		{name: "unknown detail type", event: json.RawMessage(`{"id":"1","detail-type":"Something Else","detail":{}}`)},
		{name: "Authentication Completed without an invitation", event: json.RawMessage(`{"id":"1","source":"ocpro.consent","detail-type":"Authentication Completed","detail":{"operatorId":"op"}}`)},
		{name: "Authentication Completed with a detail of the wrong shape", event: json.RawMessage(`{"id":"1","source":"ocpro.consent","detail-type":"Authentication Completed","detail":[1]}`)},
		{name: "Authentication Completed of a schema version this build does not read", wantErr: event.ErrVersion,
			event: json.RawMessage(`{"id":"1","source":"ocpro.consent","detail-type":"Authentication Completed","detail":{"schemaVersion":2,"invitationId":"i","operatorId":"op"}}`)},
		{name: "Authentication Completed from another source", event: json.RawMessage(`{"id":"1","source":"ocpro.bench","detail-type":"Authentication Completed","detail":{"invitationId":"i","operatorId":"op"}}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ten := &fakeTenants{err: tt.domain}
			r, err := trigger.New(&fakeHTTP{}, ten)
			if err != nil {
				t.Fatal(err)
			}
			_, err = r.Handle(context.Background(), tt.event)
			if err == nil {
				t.Fatal("Handle succeeded, want an error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error = %v, want %v", err, tt.wantErr)
			}
			if tt.domain == nil && (len(ten.completed) > 0 || ten.keepAlives > 0) {
				t.Errorf("a bad invocation reached the domain: %+v", ten)
			}
		})
	}
}
