// Package link derives and verifies invitation links.
//
// The database never holds a working link. A link token is
//
//	<invitationID>.<base64url(HMAC-SHA256(key, "invite/v1|"+invitationID+"|"+generation))>
//
// so the store keeps only the invitation's generation number: bumping it
// (regenerate) kills every earlier link at once, and the operator can still
// re-display the AuthURL of a live invitation because it is recomputed from
// the key, which lives in Secrets Manager, not in the table.
package link

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// MinKeySize is the shortest key accepted, in bytes.
const MinKeySize = 32

// macSize is the length of the MAC in a token: the full SHA-256 output, far
// above the 128 bits a link must carry.
const macSize = sha256.Size

// maxIDLen bounds the invitation id part, so that garbage is refused before
// any work.
const maxIDLen = 64

// ErrInvalid is returned for every link that does not work, whatever the
// reason, so that callers cannot tell an unknown id from a forged or stale
// link.
var ErrInvalid = errors.New("invalid link")

// KeySource yields the link key. Implementations may fetch it on first need
// and cache it.
type KeySource interface {
	Key(ctx context.Context) ([]byte, error)
}

// Rotating is a KeySource kept in rotation (secret.Key). While a rotation
// is recent, Previous is the key before the current one, and links made
// with it still work: the mails already sent carry them. Refresh reads the
// keys again, so that a container that cached a key before a rotation
// learns the new one when it meets a link made with it; it reports whether
// it read them (it may refuse to read again so soon).
type Rotating interface {
	KeySource
	Previous(ctx context.Context) ([]byte, error)
	Refresh(ctx context.Context) (bool, error)
}

// StaticKey is a KeySource holding a fixed key, for tests and local runs.
type StaticKey []byte

// Key returns k.
func (k StaticKey) Key(context.Context) ([]byte, error) { return k, nil }

// Signer derives tokens and AuthURLs and verifies tokens.
type Signer struct {
	keys KeySource
	base string
}

// NewSigner returns a Signer making links under publicBaseURL (an absolute
// http or https URL, without query or fragment).
func NewSigner(keys KeySource, publicBaseURL string) (*Signer, error) {
	if keys == nil {
		return nil, errors.New("link: nil KeySource")
	}
	u, err := url.Parse(publicBaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("link: public base URL %q is not an absolute http(s) URL", publicBaseURL)
	}
	return &Signer{keys: keys, base: strings.TrimRight(publicBaseURL, "/")}, nil
}

// Token returns the link token of an invitation's generation.
func (s *Signer) Token(ctx context.Context, invitationID string, generation int) (string, error) {
	if invitationID == "" || len(invitationID) > maxIDLen || strings.ContainsAny(invitationID, "./|") {
		return "", fmt.Errorf("link: unusable invitation id %q", invitationID)
	}
	mac, err := Sum(ctx, s.keys, message(invitationID, generation))
	if err != nil {
		return "", err
	}
	return invitationID + "." + base64.RawURLEncoding.EncodeToString(mac), nil
}

// URL returns the AuthURL of an invitation's generation: the Token
// Invitation wizard under the public base URL.
func (s *Signer) URL(ctx context.Context, invitationID string, generation int) (string, error) {
	t, err := s.Token(ctx, invitationID, generation)
	if err != nil {
		return "", err
	}
	return s.base + "/invite/" + t, nil
}

// Parse splits a token into its invitation id and MAC, checking only its
// shape.
func Parse(token string) (invitationID string, mac []byte, err error) {
	id, enc, ok := strings.Cut(token, ".")
	if !ok || id == "" || len(id) > maxIDLen || strings.ContainsAny(id, "/|") ||
		len(enc) != base64.RawURLEncoding.EncodedLen(macSize) {
		return "", nil, ErrInvalid
	}
	// Strict: the last character of 32 bytes in base64 carries two unused
	// bits, and a lenient decoder accepts four spellings of every MAC. One
	// link has one spelling. The decoder also skips CR and LF, so a token
	// of the right length can still carry a short MAC; only the exact size
	// is a MAC.
	mac, err = base64.RawURLEncoding.Strict().DecodeString(enc)
	if err != nil || len(mac) != macSize {
		return "", nil, ErrInvalid
	}
	return id, mac, nil
}

// Lookup returns the current generation of an invitation, found=false when
// there is no such invitation. The store implements it with one read.
type Lookup func(ctx context.Context, invitationID string) (generation int, found bool, err error)

// Verify checks token and returns its invitation id. Every failure of the
// link itself is ErrInvalid; a failing lookup is returned wrapped. An
// unknown id still costs a MAC computation so that timing does not tell
// which ids exist.
func (s *Signer) Verify(ctx context.Context, token string, lookup Lookup) (string, error) {
	id, got, err := Parse(token)
	if err != nil {
		return "", err
	}
	gen, found, err := lookup(ctx, id)
	if err != nil {
		return "", fmt.Errorf("link: look up invitation: %w", err)
	}
	if !found {
		gen = -1
	}
	ok, err := Check(ctx, s.keys, message(id, gen), got)
	if err != nil {
		return "", err
	}
	if !ok || !found {
		return "", ErrInvalid
	}
	return id, nil
}

// Check reports whether mac is the MAC of msg under keys: under the
// current key, during a rotation under the previous one, and, when neither
// matches and keys rotate, under the keys read again, for a MAC made with
// a key this container has not read yet (or forged: the source limits how
// often it reads).
func Check(ctx context.Context, keys KeySource, msg string, mac []byte) (bool, error) {
	ok, err := matches(ctx, keys, msg, mac)
	if ok || err != nil {
		return ok, err
	}
	r, rotating := keys.(Rotating)
	if !rotating {
		return false, nil
	}
	read, err := r.Refresh(ctx)
	if err != nil {
		return false, fmt.Errorf("link: refresh key: %w", err)
	}
	if !read {
		return false, nil
	}
	return matches(ctx, keys, msg, mac)
}

// Sum returns the MAC of msg under the current key of keys.
func Sum(ctx context.Context, keys KeySource, msg string) ([]byte, error) {
	key, err := keys.Key(ctx)
	if err != nil {
		return nil, fmt.Errorf("link: key: %w", err)
	}
	if len(key) < MinKeySize {
		return nil, fmt.Errorf("link: key has %d bytes, need at least %d", len(key), MinKeySize)
	}
	return macWith(key, msg), nil
}

// matches reports whether mac is the MAC of msg under the current key or,
// during a rotation, the previous one.
func matches(ctx context.Context, keys KeySource, msg string, mac []byte) (bool, error) {
	want, err := Sum(ctx, keys, msg)
	if err != nil {
		return false, err
	}
	if hmac.Equal(mac, want) {
		return true, nil
	}
	r, rotating := keys.(Rotating)
	if !rotating {
		return false, nil
	}
	prev, err := r.Previous(ctx)
	if err != nil {
		return false, fmt.Errorf("link: previous key: %w", err)
	}
	if len(prev) < MinKeySize {
		return false, nil // no rotation in its window
	}
	return hmac.Equal(mac, macWith(prev, msg)), nil
}

// message is what a link's MAC covers: the invitation and its generation.
func message(invitationID string, generation int) string {
	return "invite/v1|" + invitationID + "|" + strconv.Itoa(generation)
}

func macWith(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}
