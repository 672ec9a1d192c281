package api

import (
	"errors"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ocpro/upgrade/internal/fault"
)

// FuzzRequestBody drives the transport checks and the object decoder that
// every portal POST and PUT shares with what a client can send: any content
// type, base64 or not, any body. Nothing panics, and every refusal is a
// 400, 413 or 415 problem or a field error, never an internal error.
func FuzzRequestBody(f *testing.F) {
	f.Add("application/json", false, `{"name":"Contoso","kind":"CUSTOMER","licensedUsers":10,"sendInvitation":true}`)
	f.Add("application/json; charset=utf-8", true, "eyJuYW1lIjoiQyJ9")
	f.Add("application/merge-patch+json", false, `{}`)
	f.Add("text/plain", false, `{"name":1}`)
	f.Add("application/json", true, "%%%")
	f.Add("application/json", false, `{"licensedUsers":1.5,"name":null}`)
	f.Add("", false, "")
	f.Fuzz(func(t *testing.T, contentType string, b64 bool, payload string) {
		req := events.APIGatewayV2HTTPRequest{
			Headers:         map[string]string{"content-type": contentType},
			Body:            payload,
			IsBase64Encoded: b64,
		}
		raw, err := body(req)
		if err != nil {
			var he *httpError
			if !errors.As(err, &he) || (he.status != 400 && he.status != 413 && he.status != 415) {
				t.Fatalf("body refused with %v", err)
			}
			return
		}
		var name, kind string
		var users int
		var send bool
		var nameSet, kindSet, usersSet, sendSet bool
		err = decodeObject(raw,
			field{name: "name", required: true, into: &name, set: &nameSet},
			field{name: "kind", into: &kind, set: &kindSet},
			field{name: "licensedUsers", into: &users, set: &usersSet},
			field{name: "sendInvitation", into: &send, set: &sendSet},
		)
		if err == nil {
			if !nameSet {
				t.Fatalf("a body without the required name decoded: %q", raw)
			}
			return
		}
		var he *httpError
		if errors.As(err, &he) {
			if he.status != 400 {
				t.Fatalf("decoder refused with %d", he.status)
			}
			return
		}
		if fault.KindOf(err) != fault.Invalid || len(fault.FieldsOf(err)) == 0 {
			t.Fatalf("decoder error %v is not a field error", err)
		}
	})
}
