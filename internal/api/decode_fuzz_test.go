package api

import (
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
	f.Fuzz(func(t *testing.T, raw []byte) {
		in, err := decodeStartUpgrade(raw)
		if err == nil {
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
