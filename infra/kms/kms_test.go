package kms_test

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	localkms "github.com/ocpro/upgrade/infra/kms"
)

const (
	keyID  = "1234abcd-12ab-34cd-56ef-1234567890ab"
	keyARN = "arn:aws:kms:eu-west-1:000000000000:key/" + keyID
)

var tokenContext = map[string]string{"tenantId": "contoso", "purpose": "delegated-token"}

func newClient(t *testing.T) *kms.Client {
	t.Helper()
	h, err := localkms.New(keyID, bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return kms.New(kms.Options{
		Region:           "eu-west-1",
		BaseEndpoint:     aws.String(srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local", ""),
		RetryMaxAttempts: 1,
	})
}

func TestNewChecksArguments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		keyID string
		key   []byte
	}{
		{name: "empty key id", keyID: "", key: make([]byte, 32)},
		{name: "nil master key", keyID: keyID, key: nil},
		{name: "AES-128 master key", keyID: keyID, key: make([]byte, 16)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := localkms.New(tt.keyID, tt.key); err == nil {
				t.Error("New succeeded, want an error")
			}
		})
	}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	t.Parallel()
	client := newClient(t)
	ctx := context.Background()
	tests := []struct {
		name    string
		in      kms.GenerateDataKeyInput
		wantLen int
	}{
		{name: "AES_256 by key id", in: kms.GenerateDataKeyInput{KeyId: aws.String(keyID), KeySpec: types.DataKeySpecAes256, EncryptionContext: tokenContext}, wantLen: 32},
		{name: "AES_128 by key ARN", in: kms.GenerateDataKeyInput{KeyId: aws.String(keyARN), KeySpec: types.DataKeySpecAes128, EncryptionContext: tokenContext}, wantLen: 16},
		{name: "NumberOfBytes by alias", in: kms.GenerateDataKeyInput{KeyId: aws.String("alias/ocpro-tokens"), NumberOfBytes: aws.Int32(64)}, wantLen: 64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dk, err := client.GenerateDataKey(ctx, &tt.in)
			if err != nil {
				t.Fatalf("GenerateDataKey: %v", err)
			}
			if len(dk.Plaintext) != tt.wantLen {
				t.Errorf("data key is %d bytes, want %d", len(dk.Plaintext), tt.wantLen)
			}
			if aws.ToString(dk.KeyId) != keyARN {
				t.Errorf("KeyId = %q, want %q", aws.ToString(dk.KeyId), keyARN)
			}
			if bytes.Contains(dk.CiphertextBlob, dk.Plaintext) {
				t.Error("the ciphertext blob holds the plaintext data key")
			}
			out, err := client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: dk.CiphertextBlob, EncryptionContext: tt.in.EncryptionContext})
			if err != nil {
				t.Fatalf("Decrypt: %v", err)
			}
			if !bytes.Equal(out.Plaintext, dk.Plaintext) {
				t.Error("Decrypt returned another key than GenerateDataKey")
			}
			if aws.ToString(out.KeyId) != keyARN {
				t.Errorf("Decrypt KeyId = %q, want %q", aws.ToString(out.KeyId), keyARN)
			}
		})
	}
}

func TestGenerateDataKeyIsRandom(t *testing.T) {
	t.Parallel()
	client := newClient(t)
	in := &kms.GenerateDataKeyInput{KeyId: aws.String(keyID), KeySpec: types.DataKeySpecAes256}
	a, err := client.GenerateDataKey(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	b, err := client.GenerateDataKey(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a.Plaintext, b.Plaintext) || bytes.Equal(a.CiphertextBlob, b.CiphertextBlob) {
		t.Error("two data keys are equal")
	}
}

func TestEncryptDecrypt(t *testing.T) {
	t.Parallel()
	client := newClient(t)
	ctx := context.Background()
	secret := []byte("refresh-token-value")
	enc, err := client.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyID), Plaintext: secret, EncryptionContext: tokenContext})
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	if enc.EncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault {
		t.Errorf("EncryptionAlgorithm = %q, want SYMMETRIC_DEFAULT", enc.EncryptionAlgorithm)
	}
	// The context is a map: the order its keys are sent in must not matter.
	sameContext := map[string]string{"purpose": "delegated-token", "tenantId": "contoso"}
	dec, err := client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: sameContext, KeyId: aws.String(keyARN)})
	if err != nil {
		t.Fatalf("Decrypt: %v", err)
	}
	if !bytes.Equal(dec.Plaintext, secret) {
		t.Errorf("Decrypt = %q, want %q", dec.Plaintext, secret)
	}
}

func TestDecryptRefuses(t *testing.T) {
	t.Parallel()
	client := newClient(t)
	ctx := context.Background()
	enc, err := client.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyID), Plaintext: []byte("token"), EncryptionContext: tokenContext})
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(enc.CiphertextBlob)
		b[i] ^= 0x01
		return b
	}
	otherKey, err := localkms.New(keyID, bytes.Repeat([]byte{8}, 32))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(otherKey)
	t.Cleanup(srv.Close)
	otherClient := kms.New(kms.Options{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL), Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""), RetryMaxAttempts: 1})

	tests := []struct {
		name   string
		client *kms.Client
		in     kms.DecryptInput
		want   string
	}{
		{name: "wrong context value", client: client, in: kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"tenantId": "fabrikam", "purpose": "delegated-token"}}, want: "InvalidCiphertextException"},
		{name: "missing context", client: client, in: kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}, want: "InvalidCiphertextException"},
		{name: "extra context pair", client: client, in: kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"tenantId": "contoso", "purpose": "delegated-token", "x": "y"}}, want: "InvalidCiphertextException"},
		{name: "tampered version byte", client: client, in: kms.DecryptInput{CiphertextBlob: flip(0), EncryptionContext: tokenContext}, want: "InvalidCiphertextException"},
		{name: "tampered nonce", client: client, in: kms.DecryptInput{CiphertextBlob: flip(3), EncryptionContext: tokenContext}, want: "InvalidCiphertextException"},
		{name: "tampered ciphertext", client: client, in: kms.DecryptInput{CiphertextBlob: flip(len(enc.CiphertextBlob) - 20), EncryptionContext: tokenContext}, want: "InvalidCiphertextException"},
		{name: "truncated blob", client: client, in: kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob[:10], EncryptionContext: tokenContext}, want: "InvalidCiphertextException"},
		{name: "another master key", client: otherClient, in: kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: tokenContext}, want: "InvalidCiphertextException"},
		{name: "another key id named", client: client, in: kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: tokenContext, KeyId: aws.String("0000aaaa-0000-0000-0000-000000000000")}, want: "IncorrectKeyException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := tt.client.Decrypt(ctx, &tt.in)
			if err == nil {
				t.Fatal("Decrypt succeeded, want an error")
			}
			if code := errorCode(err); code != tt.want {
				t.Errorf("Decrypt error = %v, want %s", err, tt.want)
			}
		})
	}
}

func TestRequestValidation(t *testing.T) {
	t.Parallel()
	client := newClient(t)
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{name: "unknown key", want: "NotFoundException", call: func() error {
			_, err := client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String("0000aaaa-0000-0000-0000-000000000000"), KeySpec: types.DataKeySpecAes256})
			return err
		}},
		{name: "neither KeySpec nor NumberOfBytes", want: "ValidationException", call: func() error {
			_, err := client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(keyID)})
			return err
		}},
		{name: "both KeySpec and NumberOfBytes", want: "ValidationException", call: func() error {
			_, err := client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(keyID), KeySpec: types.DataKeySpecAes256, NumberOfBytes: aws.Int32(32)})
			return err
		}},
		{name: "NumberOfBytes too large", want: "ValidationException", call: func() error {
			_, err := client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(keyID), NumberOfBytes: aws.Int32(1025)})
			return err
		}},
		{name: "plaintext too large", want: "ValidationException", call: func() error {
			_, err := client.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyID), Plaintext: make([]byte, 4097)})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.call()
			if err == nil {
				t.Fatal("call succeeded, want an error")
			}
			if code := errorCode(err); code != tt.want {
				t.Errorf("error = %v, want %s", err, tt.want)
			}
		})
	}
}

// errorCode returns the AWS error code of err, or "" when it has none.
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
