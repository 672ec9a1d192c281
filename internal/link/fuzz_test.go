package link_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ocpro/upgrade/internal/link"
)

// FuzzParse feeds the link parser what a browser can put in the path of
// GET /invite/{token}: anything. It never panics, refuses with ErrInvalid
// only, and what it accepts is a token of the documented shape.
func FuzzParse(f *testing.F) {
	signer, err := link.NewSigner(link.StaticKey(make([]byte, link.MinKeySize)), "https://portal.example.net")
	if err != nil {
		f.Fatal(err)
	}
	good, err := signer.Token(context.Background(), "gffgpc00ptgjrvb7fwbe8bs86a", 3)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{good, "", ".", "a.", ".b", "a.b.c", "a/b." + good[len(good)-43:], "%2e%2e", good + "=", "\x00." + good[27:]} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		id, mac, err := link.Parse(token)
		if err != nil {
			if !errors.Is(err, link.ErrInvalid) || id != "" || mac != nil {
				t.Fatalf("Parse(%q) = %q, %x, %v; refusals are ErrInvalid with nothing else", token, id, mac, err)
			}
			return
		}
		if id == "" || len(mac) != 32 {
			t.Fatalf("Parse(%q) accepted id %q with a %d-byte MAC", token, id, len(mac))
		}
		// The parsed token verifies only against its own generation's MAC:
		// a wrong MAC must never pass.
		_, verr := signer.Verify(context.Background(), token, func(context.Context, string) (int, bool, error) { return 3, true, nil })
		if verr == nil && token != good {
			t.Fatalf("Verify accepted %q, which is not the signed token", token)
		}
	})
}
