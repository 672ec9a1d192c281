package link_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ocpro/upgrade/internal/link"
)

var testKey = link.StaticKey(strings.Repeat("k", 32))

func newSigner(t *testing.T) *link.Signer {
	t.Helper()
	s, err := link.NewSigner(testKey, "https://portal.example.net/")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// generations is a fake store: invitation id -> current generation.
func generations(m map[string]int) link.Lookup {
	return func(_ context.Context, id string) (int, bool, error) {
		g, ok := m[id]
		return g, ok, nil
	}
}

func TestURLShape(t *testing.T) {
	t.Parallel()
	s := newSigner(t)
	u, err := s.URL(context.Background(), "inv1", 1)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u, "https://portal.example.net/invite/inv1.") {
		t.Errorf("URL = %q", u)
	}
	tok := strings.TrimPrefix(u, "https://portal.example.net/invite/")
	_, mac, err := link.Parse(tok)
	if err != nil {
		t.Fatal(err)
	}
	if len(mac)*8 < 128 {
		t.Errorf("MAC has %d bits, want at least 128", len(mac)*8)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newSigner(t)
	other, err := link.NewSigner(link.StaticKey(strings.Repeat("x", 32)), "https://portal.example.net")
	if err != nil {
		t.Fatal(err)
	}
	gen1, gen2 := token(t, s, "inv1", 1), token(t, s, "inv1", 2)
	forged, unknown := token(t, other, "inv1", 2), token(t, s, "nobody", 1)
	store := generations(map[string]int{"inv1": 2})

	tests := []struct {
		name    string
		token   string
		wantErr error
	}{
		{"current generation works", gen2, nil},
		{"regenerated link is dead", gen1, link.ErrInvalid},
		{"other key is refused", forged, link.ErrInvalid},
		{"unknown id is refused", unknown, link.ErrInvalid},
		{"no dot", "inv1", link.ErrInvalid},
		{"truncated mac", gen2[:len(gen2)-2], link.ErrInvalid},
		{"mac not base64url", "inv1." + strings.Repeat("*", 43), link.ErrInvalid},
		{"empty", "", link.ErrInvalid},
		{"mac from another id", "inv2" + gen2[len("inv1"):], link.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id, err := s.Verify(ctx, tt.token, store)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify() error = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && id != "inv1" {
				t.Errorf("Verify() id = %q", id)
			}
		})
	}
}

func TestVerifyLookupFailureIsNotInvalid(t *testing.T) {
	t.Parallel()
	s := newSigner(t)
	tok := token(t, s, "inv1", 1)
	boom := errors.New("dynamodb down")
	_, err := s.Verify(context.Background(), tok, func(context.Context, string) (int, bool, error) { return 0, false, boom })
	if !errors.Is(err, boom) || errors.Is(err, link.ErrInvalid) {
		t.Fatalf("Verify() error = %v, want the lookup error", err)
	}
}

func TestNewSignerRefusesBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		keys link.KeySource
		base string
	}{
		{"nil keys", nil, "https://x.example"},
		{"relative base", testKey, "/invite"},
		{"ftp base", testKey, "ftp://x.example"},
		{"query in base", testKey, "https://x.example/?a=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := link.NewSigner(tt.keys, tt.base); err == nil {
				t.Error("NewSigner() succeeded")
			}
		})
	}
}

func TestShortKeyIsRefused(t *testing.T) {
	t.Parallel()
	s, err := link.NewSigner(link.StaticKey("short"), "https://x.example")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Token(context.Background(), "inv1", 1); err == nil {
		t.Error("Token() with a 5-byte key succeeded")
	}
}

// token derives a link token, failing the test when it cannot.
func token(t *testing.T, s *link.Signer, id string, gen int) string {
	t.Helper()
	tok, err := s.Token(context.Background(), id, gen)
	if err != nil {
		t.Fatalf("token of %s generation %d: %v", id, gen, err)
	}
	return tok
}
