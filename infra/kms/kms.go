// Package kms is a local stand-in for AWS KMS, enough for envelope
// encryption: GenerateDataKey, Encrypt and Decrypt over the AWS JSON 1.1
// protocol, so that functions use the real kms client with only the endpoint
// changed (AWS_ENDPOINT_URL_KMS).
//
// A ciphertext blob is sealed with AES-256-GCM under a local master key. The
// key id and the encryption context are bound to it as additional
// authenticated data, so a wrong or missing context, or any change to the
// blob, makes Decrypt fail with InvalidCiphertextException as AWS does.
package kms

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
)

const (
	targetPrefix = "TrentService."
	// defaultARNPrefix places a bare key id in the region and account the
	// local template resolves to.
	defaultARNPrefix = "arn:aws:kms:eu-west-1:000000000000:key/"
	// blobVersion leads every ciphertext blob, so that a blob from anything
	// else is refused rather than misread.
	blobVersion = 1
	// maxPlaintext is the most Encrypt takes, as in AWS.
	maxPlaintext = 4096
	// maxDataKeyBytes is the largest NumberOfBytes GenerateDataKey takes.
	maxDataKeyBytes = 1024
	maxBody         = 64 << 10
	algorithm       = "SYMMETRIC_DEFAULT"
)

// handler serves the KMS API for one symmetric key.
type handler struct {
	keyID  string // the bare key id
	keyARN string
	aead   cipher.AEAD
}

// New returns a KMS handler for one symmetric key. keyID is the key's id or
// its full ARN; requests may name the key by either. masterKey must be 32
// bytes (AES-256); it is copied.
func New(keyID string, masterKey []byte) (http.Handler, error) {
	if keyID == "" {
		return nil, errors.New("kms: key id is empty")
	}
	if len(masterKey) != 32 {
		return nil, fmt.Errorf("kms: master key is %d bytes, want 32", len(masterKey))
	}
	block, err := aes.NewCipher(bytes.Clone(masterKey))
	if err != nil {
		return nil, fmt.Errorf("kms: master key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("kms: master key: %w", err)
	}
	h := &handler{keyID: keyID, keyARN: defaultARNPrefix + keyID, aead: aead}
	if id, ok := strings.CutPrefix(arnResource(keyID), "key/"); ok {
		h.keyID, h.keyARN = id, keyID
	}
	return h, nil
}

// ServeHTTP answers one KMS API call.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "UnknownOperationException", "KMS accepts POST only.")
		return
	}
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	if !ok {
		writeError(w, http.StatusBadRequest, "UnknownOperationException", "Missing or unknown X-Amz-Target.")
		return
	}
	var out any
	var err error
	body := http.MaxBytesReader(w, r.Body, maxBody)
	switch op {
	case "GenerateDataKey":
		var in generateDataKeyInput
		if err = decode(body, &in); err == nil {
			out, err = h.generateDataKey(in)
		}
	case "Encrypt":
		var in encryptInput
		if err = decode(body, &in); err == nil {
			out, err = h.encrypt(in)
		}
	case "Decrypt":
		var in decryptInput
		if err = decode(body, &in); err == nil {
			out, err = h.decrypt(in)
		}
	default:
		err = &apiError{"UnknownOperationException", fmt.Sprintf("Operation %s is not supported locally.", op)}
	}
	var ae *apiError
	if errors.As(err, &ae) {
		writeError(w, http.StatusBadRequest, ae.code, ae.message)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	// A failed write means the client went away; there is no one to tell.
	_ = json.NewEncoder(w).Encode(out)
}

// apiError is a KMS error as the client sees it: a type and a message.
type apiError struct{ code, message string }

func (e *apiError) Error() string { return e.code + ": " + e.message }

func decode(body io.Reader, v any) error {
	if err := json.NewDecoder(body).Decode(v); err != nil {
		return &apiError{"SerializationException", "The request body is not valid JSON for this operation."}
	}
	return nil
}

type generateDataKeyInput struct {
	KeyID             string            `json:"KeyId"`
	KeySpec           string            `json:"KeySpec"`
	NumberOfBytes     *int              `json:"NumberOfBytes"`
	EncryptionContext map[string]string `json:"EncryptionContext"`
}

type generateDataKeyOutput struct {
	CiphertextBlob []byte `json:"CiphertextBlob"`
	Plaintext      []byte `json:"Plaintext"`
	KeyID          string `json:"KeyId"`
}

func (h *handler) generateDataKey(in generateDataKeyInput) (*generateDataKeyOutput, error) {
	if err := h.checkKey(in.KeyID, "NotFoundException"); err != nil {
		return nil, err
	}
	var n int
	switch {
	case in.KeySpec != "" && in.NumberOfBytes != nil:
		return nil, &apiError{"ValidationException", "Specify either KeySpec or NumberOfBytes, not both."}
	case in.KeySpec == "AES_256":
		n = 32
	case in.KeySpec == "AES_128":
		n = 16
	case in.KeySpec != "":
		return nil, &apiError{"ValidationException", fmt.Sprintf("KeySpec %q is not AES_256 or AES_128.", in.KeySpec)}
	case in.NumberOfBytes == nil:
		return nil, &apiError{"ValidationException", "Specify KeySpec or NumberOfBytes."}
	case *in.NumberOfBytes < 1 || *in.NumberOfBytes > maxDataKeyBytes:
		return nil, &apiError{"ValidationException", fmt.Sprintf("NumberOfBytes must be between 1 and %d.", maxDataKeyBytes)}
	default:
		n = *in.NumberOfBytes
	}
	key := make([]byte, n)
	if _, err := rand.Read(key); err != nil {
		return nil, &apiError{"KMSInternalException", "Could not generate a data key."}
	}
	blob, err := h.seal(key, in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	return &generateDataKeyOutput{CiphertextBlob: blob, Plaintext: key, KeyID: h.keyARN}, nil
}

type encryptInput struct {
	KeyID               string            `json:"KeyId"`
	Plaintext           []byte            `json:"Plaintext"`
	EncryptionContext   map[string]string `json:"EncryptionContext"`
	EncryptionAlgorithm string            `json:"EncryptionAlgorithm"`
}

type encryptOutput struct {
	CiphertextBlob      []byte `json:"CiphertextBlob"`
	KeyID               string `json:"KeyId"`
	EncryptionAlgorithm string `json:"EncryptionAlgorithm"`
}

func (h *handler) encrypt(in encryptInput) (*encryptOutput, error) {
	if err := h.checkKey(in.KeyID, "NotFoundException"); err != nil {
		return nil, err
	}
	if err := checkAlgorithm(in.EncryptionAlgorithm); err != nil {
		return nil, err
	}
	if len(in.Plaintext) == 0 || len(in.Plaintext) > maxPlaintext {
		return nil, &apiError{"ValidationException", fmt.Sprintf("Plaintext must be 1 to %d bytes.", maxPlaintext)}
	}
	blob, err := h.seal(in.Plaintext, in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	return &encryptOutput{CiphertextBlob: blob, KeyID: h.keyARN, EncryptionAlgorithm: algorithm}, nil
}

type decryptInput struct {
	CiphertextBlob      []byte            `json:"CiphertextBlob"`
	KeyID               string            `json:"KeyId"`
	EncryptionContext   map[string]string `json:"EncryptionContext"`
	EncryptionAlgorithm string            `json:"EncryptionAlgorithm"`
}

type decryptOutput struct {
	Plaintext           []byte `json:"Plaintext"`
	KeyID               string `json:"KeyId"`
	EncryptionAlgorithm string `json:"EncryptionAlgorithm"`
}

func (h *handler) decrypt(in decryptInput) (*decryptOutput, error) {
	// Naming a key is optional for symmetric keys; naming another key than
	// the one that encrypted the blob is IncorrectKeyException in AWS.
	if in.KeyID != "" {
		if err := h.checkKey(in.KeyID, "IncorrectKeyException"); err != nil {
			return nil, err
		}
	}
	if err := checkAlgorithm(in.EncryptionAlgorithm); err != nil {
		return nil, err
	}
	plaintext, err := h.open(in.CiphertextBlob, in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	return &decryptOutput{Plaintext: plaintext, KeyID: h.keyARN, EncryptionAlgorithm: algorithm}, nil
}

// checkKey accepts the key's id, its ARN or an alias; any other key id
// answers with code, since this stand-in holds one key only.
func (h *handler) checkKey(id, code string) error {
	switch {
	case id == "":
		return &apiError{"ValidationException", "KeyId is required."}
	case id == h.keyID || id == h.keyARN || strings.HasPrefix(id, "alias/"):
		return nil
	}
	return &apiError{code, fmt.Sprintf("Key '%s' does not exist here.", id)}
}

func checkAlgorithm(a string) error {
	if a != "" && a != algorithm {
		return &apiError{"ValidationException", fmt.Sprintf("EncryptionAlgorithm %q is not supported for a symmetric key.", a)}
	}
	return nil
}

// seal encrypts plaintext into a blob: version byte, nonce, AES-GCM output.
// The version byte, key ARN and encryption context are authenticated.
func (h *handler) seal(plaintext []byte, encCtx map[string]string) ([]byte, error) {
	nonce := make([]byte, h.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, &apiError{"KMSInternalException", "Could not encrypt."}
	}
	blob := append([]byte{blobVersion}, nonce...)
	return h.aead.Seal(blob, nonce, plaintext, h.additionalData(encCtx)), nil
}

// open reverses seal. Every failure is InvalidCiphertextException, as AWS
// does not say whether the blob or the context was wrong.
func (h *handler) open(blob []byte, encCtx map[string]string) ([]byte, error) {
	invalid := &apiError{"InvalidCiphertextException", "The ciphertext is invalid or does not match the encryption context."}
	n := h.aead.NonceSize()
	if len(blob) < 1+n+h.aead.Overhead() || blob[0] != blobVersion {
		return nil, invalid
	}
	plaintext, err := h.aead.Open(nil, blob[1:1+n], blob[1+n:], h.additionalData(encCtx))
	if err != nil {
		return nil, invalid
	}
	return plaintext, nil
}

// additionalData encodes the blob version, key ARN and encryption context
// unambiguously: every string is length-prefixed and the context is sorted by
// key, so equal contexts always give equal bytes whatever the map order.
func (h *handler) additionalData(encCtx map[string]string) []byte {
	keys := make([]string, 0, len(encCtx))
	for k := range encCtx {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b := []byte{blobVersion}
	b = appendString(b, h.keyARN)
	for _, k := range keys {
		b = appendString(b, k)
		b = appendString(b, encCtx[k])
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// arnResource returns the resource part of an ARN (after the fifth colon),
// or "" when s is not an ARN.
func arnResource(s string) string {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return ""
	}
	return parts[5]
}

// writeError answers with an AWS JSON 1.1 error document.
func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": message})
}
