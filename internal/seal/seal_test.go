package seal_test

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	localkms "github.com/ocpro/upgrade/infra/kms"
	"github.com/ocpro/upgrade/internal/seal"
)

const keyARN = "arn:aws:kms:eu-west-1:000000000000:key/test-token-key"

// newSealer returns a Sealer talking through the real KMS client to the
// local KMS stand-in, which enforces the encryption context as AWS does.
func newSealer(t *testing.T) *seal.Sealer {
	t.Helper()
	h, err := localkms.New(keyARN, bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	client := kms.New(kms.Options{
		Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
	s, err := seal.New(client, keyARN)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	s := newSealer(t)
	ctx := context.Background()
	bound := map[string]string{"tenantId": "t1", "invitationId": "i1", "purpose": "refresh_token"}
	secret := []byte("1.AXrefresh-token-value")
	blob, err := s.Seal(ctx, secret, bound)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(blob, secret) {
		t.Fatal("sealed blob holds the plaintext")
	}
	tamper := func(i int) []byte {
		b := bytes.Clone(blob)
		b[i] ^= 1
		return b
	}
	tests := []struct {
		name    string
		blob    []byte
		ctx     map[string]string
		wantErr bool
	}{
		{name: "same context opens", blob: blob, ctx: bound},
		{name: "other invitation refused", blob: blob, ctx: map[string]string{"tenantId": "t1", "invitationId": "i2", "purpose": "refresh_token"}, wantErr: true},
		{name: "other tenant refused", blob: blob, ctx: map[string]string{"tenantId": "t2", "invitationId": "i1", "purpose": "refresh_token"}, wantErr: true},
		{name: "extra context key refused", blob: blob, ctx: map[string]string{"tenantId": "t1", "invitationId": "i1", "purpose": "refresh_token", "x": "y"}, wantErr: true},
		{name: "flipped ciphertext byte refused", blob: tamper(len(blob) - 1), ctx: bound, wantErr: true},
		{name: "flipped wrapped key byte refused", blob: tamper(5), ctx: bound, wantErr: true},
		{name: "truncated refused", blob: blob[:10], ctx: bound, wantErr: true},
		{name: "unknown version refused", blob: tamper(0), ctx: bound, wantErr: true},
		{name: "empty refused", blob: nil, ctx: bound, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := s.Open(ctx, tt.blob, tt.ctx)
			if tt.wantErr {
				if !errors.Is(err, seal.ErrOpen) {
					t.Fatalf("err = %v, want ErrOpen", err)
				}
				return
			}
			if err != nil || !bytes.Equal(got, secret) {
				t.Fatalf("Open = %q, %v", got, err)
			}
		})
	}
}

func TestSealRefusesEmptyContext(t *testing.T) {
	t.Parallel()
	if _, err := newSealer(t).Seal(context.Background(), []byte("x"), nil); err == nil {
		t.Fatal("sealed without an encryption context")
	}
}

// A blob without a purpose would be open to every role that may use the
// key; neither side accepts a context that names none.
func TestSealAndOpenRequireAPurpose(t *testing.T) {
	t.Parallel()
	s := newSealer(t)
	ctx := context.Background()
	if _, err := s.Seal(ctx, []byte("x"), map[string]string{"invitationId": "i1"}); err == nil {
		t.Error("sealed without a purpose")
	}
	if _, err := s.Seal(ctx, []byte("x"), map[string]string{"invitationId": "i1", "purpose": ""}); err == nil {
		t.Error("sealed with an empty purpose")
	}
	blob, err := s.Seal(ctx, []byte("x"), map[string]string{"invitationId": "i1", "purpose": "pkce"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(ctx, blob, map[string]string{"invitationId": "i1"}); !errors.Is(err, seal.ErrOpen) {
		t.Errorf("Open without a purpose = %v, want ErrOpen", err)
	}
	if _, err := s.Open(ctx, blob, map[string]string{"invitationId": "i1", "purpose": "device_code"}); !errors.Is(err, seal.ErrOpen) {
		t.Errorf("Open under another purpose = %v, want ErrOpen", err)
	}
}

func TestSealFreshDataKeyEachTime(t *testing.T) {
	t.Parallel()
	s := newSealer(t)
	c := map[string]string{"invitationId": "i1", "purpose": "pkce"}
	a, err := s.Seal(context.Background(), []byte("same"), c)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Seal(context.Background(), []byte("same"), c)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same value are equal")
	}
}

func TestNewChecksDependencies(t *testing.T) {
	t.Parallel()
	if _, err := seal.New(nil, keyARN); err == nil {
		t.Error("nil client accepted")
	}
	if _, err := seal.New(&kms.Client{}, ""); err == nil {
		t.Error("empty key id accepted")
	}
}
