// Package seal encrypts small secrets (delegated refresh tokens, device
// codes, PKCE verifiers) before they reach DynamoDB, with KMS envelope
// encryption: a fresh AES-256 data key per secret from GenerateDataKey,
// AES-GCM locally, and only the KMS-encrypted data key kept beside the
// ciphertext. The encryption context (for example the tenant and invitation
// ids) is bound both by KMS and as GCM additional data, so a blob copied to
// another invitation cannot be opened there.
package seal

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// version leads every blob so that a future format can be told apart.
const version byte = 1

// ErrOpen is returned for a blob that cannot be opened: tampered, truncated,
// sealed under another context or another key. It never says which.
var ErrOpen = errors.New("seal: cannot open sealed value")

// KMSAPI is the part of the KMS client the Sealer uses.
type KMSAPI interface {
	GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, opts ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error)
	Decrypt(ctx context.Context, in *kms.DecryptInput, opts ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

// Sealer seals and opens values under one KMS key.
type Sealer struct {
	kms   KMSAPI
	keyID string
}

// New returns a Sealer using the KMS key keyID (an id, ARN or alias).
func New(client KMSAPI, keyID string) (*Sealer, error) {
	if client == nil {
		return nil, errors.New("seal: nil KMS client")
	}
	if keyID == "" {
		return nil, errors.New("seal: empty KMS key id")
	}
	return &Sealer{kms: client, keyID: keyID}, nil
}

// PurposeKey is the encryption context key naming what a blob is (a kept
// refresh token, a device code, a PKCE verifier). Every blob has one: each
// function's role may decrypt only the purposes it opens
// (kms:EncryptionContext:purpose), so a function that only keeps refresh
// tokens cannot read them back.
const PurposeKey = "purpose"

// Seal encrypts plaintext bound to encCtx, which must name a purpose
// (PurposeKey): an unbound blob could be replayed anywhere, and one without
// a purpose would be open to every role that may use the key.
func (s *Sealer) Seal(ctx context.Context, plaintext []byte, encCtx map[string]string) ([]byte, error) {
	if encCtx[PurposeKey] == "" {
		return nil, errors.New("seal: the encryption context names no purpose")
	}
	out, err := s.kms.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId: aws.String(s.keyID), KeySpec: types.DataKeySpecAes256, EncryptionContext: encCtx,
	})
	if err != nil {
		return nil, fmt.Errorf("seal: generate data key: %w", err)
	}
	defer clear(out.Plaintext)
	aead, err := newAEAD(out.Plaintext)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails since Go 1.24.
	// Layout: version | len(wrapped key) uint16 | wrapped key | nonce | ciphertext.
	blob := []byte{version}
	blob = binary.BigEndian.AppendUint16(blob, uint16(len(out.CiphertextBlob)))
	blob = append(blob, out.CiphertextBlob...)
	blob = append(blob, nonce...)
	return aead.Seal(blob, nonce, plaintext, aad(encCtx)), nil
}

// Open decrypts a blob made by Seal with the same encryption context.
func (s *Sealer) Open(ctx context.Context, blob []byte, encCtx map[string]string) ([]byte, error) {
	if encCtx[PurposeKey] == "" || len(blob) < 3 || blob[0] != version {
		return nil, ErrOpen
	}
	n := int(binary.BigEndian.Uint16(blob[1:3]))
	rest := blob[3:]
	if len(rest) < n {
		return nil, ErrOpen
	}
	wrapped, rest := rest[:n], rest[n:]
	out, err := s.kms.Decrypt(ctx, &kms.DecryptInput{
		KeyId: aws.String(s.keyID), CiphertextBlob: wrapped, EncryptionContext: encCtx,
	})
	if err != nil {
		var bad *types.InvalidCiphertextException
		if errors.As(err, &bad) {
			return nil, ErrOpen
		}
		return nil, fmt.Errorf("seal: decrypt data key: %w", err)
	}
	defer clear(out.Plaintext)
	aead, err := newAEAD(out.Plaintext)
	if err != nil {
		return nil, err
	}
	if len(rest) < aead.NonceSize() {
		return nil, ErrOpen
	}
	nonce, ct := rest[:aead.NonceSize()], rest[aead.NonceSize():]
	pt, err := aead.Open(nil, nonce, ct, aad(encCtx))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: data key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: GCM: %w", err)
	}
	return aead, nil
}

// aad encodes the context canonically (sorted, length-prefixed) so that no
// two different contexts give the same bytes.
func aad(encCtx map[string]string) []byte {
	var b bytes.Buffer
	for _, k := range slices.Sorted(maps.Keys(encCtx)) {
		for _, s := range []string{k, encCtx[k]} {
			b.Write(binary.BigEndian.AppendUint32(nil, uint32(len(s))))
			b.WriteString(s)
		}
	}
	return b.Bytes()
}
