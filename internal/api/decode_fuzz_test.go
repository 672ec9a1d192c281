package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/ocpro/upgrade/internal/fault"
	"github.com/ocpro/upgrade/internal/upgrade"
)

func FuzzDecodeStartUpgrade(f *testing.F) {
	f.Add([]byte(`{"serviceFullName":"Contoso","serviceShortName":"Contoso1","licenseType":"OC_PRO","licensedUsers":10,"adminEmail":"a@b.co"}`))
	f.Add([]byte(`{"licensedUsers":1e400}`))
	f.Add([]byte(`{"licensedUsers":-0,"sendInvitation":null}`))
	f.Add([]byte("{\n,}"))
	f.Add([]byte(`[1,2]`))
	f.Add([]byte(`{"a":1}{"b":2}`))
	f.Add([]byte(`{"serviceFullName":"Contoso","serviceShortName":"Contoso1","licenseType":"OC_PRO","licensedUsers":"50"}`))
	f.Add([]byte(`{"serviceFullName":"Contoso","serviceShortName":"Contoso1","licenseType":"OC_PRO","licensedUsers":10,"sendInvitation":"true"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		in, err := decodeStartUpgrade(raw)
		if err == nil {
			// Every member has exactly its JSON type: a number is never
			// read from a string, a string or a bool never from anything
			// else.
			var members map[string]json.RawMessage
			if json.Unmarshal(raw, &members) == nil {
				for name, v := range members {
					if len(v) == 0 || string(v) == "null" {
						continue
					}
					want := map[string]byte{"licensedUsers": 'n', "sendInvitation": 'b'}[name]
					if got := jsonKind(v); want == 0 && got != 's' || want != 0 && got != want {
						t.Fatalf("%s = %s accepted in %q", name, v, raw)
					}
				}
			}
			// A body that decodes re-encodes to the same input.
			b, _ := json.Marshal(map[string]any{
				"serviceFullName": in.ServiceFullName, "serviceShortName": in.ServiceShortName, "licenseType": in.LicenseType,
				"licensedUsers": in.LicensedUsers, "adminEmail": in.AdminEmail, "sendInvitation": in.SendInvitation,
			})
			again, err := decodeStartUpgrade(b)
			if err != nil || again != in {
				t.Fatalf("round trip of %q: %+v %v, want %+v", raw, again, err, in)
			}
			return
		}
		var he *httpError
		if errors.As(err, &he) {
			if he.status != 400 || he.detail == "" {
				t.Fatalf("transport error %+v", he)
			}
			return
		}
		if fault.KindOf(err) != fault.Invalid {
			t.Fatalf("error of kind %v: %v", fault.KindOf(err), err)
		}
		known := []string{codeUnknownField, codeWrongType, codeRequired, upgrade.CodeOutOfRange}
		for _, fe := range fault.FieldsOf(err) {
			// An unknown member may have an empty name ({"":1}); every other
			// error names a field of the request.
			if (fe.Field == "" && fe.Code != codeUnknownField) || fe.Message == "" || !slices.Contains(known, fe.Code) {
				t.Fatalf("field error %+v", fe)
			}
		}
	})
}

// jsonKind is the type of a JSON value by its first byte: 's'tring,
// 'n'umber, 'b'ool, or 0 for the rest.
func jsonKind(v json.RawMessage) byte {
	v = bytes.TrimSpace(v)
	switch {
	case len(v) == 0:
		return 0
	case v[0] == '"':
		return 's'
	case v[0] == '-' || v[0] >= '0' && v[0] <= '9':
		return 'n'
	case v[0] == 't' || v[0] == 'f':
		return 'b'
	}
	return 0
}
