// Package idempotency makes a piece of work run at most once per key, after
// the design of AWS Lambda Powertools: the first caller writes a record
// INPROGRESS with a hash of its payload and an in-progress expiry, does the
// work and marks the record COMPLETED with the result; a later caller with
// the same key gets the stored result instead of running the work again.
//
// A record that is still INPROGRESS past its in-progress expiry belongs to
// an attempt that crashed or timed out, so the next caller takes it over. A
// record past its expiry is treated as absent (DynamoDB's TTL deletes it
// eventually, but not promptly). When the work fails, the record is released
// so that a retry can run it again.
//
// The core knows nothing of the service's domain; Persistence stores the
// records (DynamoDB in this package, see Dynamo).
package idempotency

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Status is the state of a record.
type Status string

// The states of a record.
const (
	InProgress Status = "INPROGRESS"
	Completed  Status = "COMPLETED"
)

// Defaults of Config.
const (
	// DefaultExpiry outlives EventBridge's longest retry window (24 hours)
	// and the portal's promise to remember an Idempotency-Key for a day.
	DefaultExpiry = 24 * time.Hour
	// DefaultInProgressTimeout is Lambda's longest timeout: no attempt can
	// still be running after it.
	DefaultInProgressTimeout = 15 * time.Minute
)

// Errors of Do.
var (
	// ErrInProgress means another attempt with the same key is running and
	// has not timed out: the caller should try again later.
	ErrInProgress = errors.New("idempotency: an attempt with this key is in progress")
	// ErrPayloadMismatch means the key was used before with another payload.
	ErrPayloadMismatch = errors.New("idempotency: key reused with another payload")
	// ErrExists is what Persistence.Acquire returns when a live record
	// holds the key.
	ErrExists = errors.New("idempotency: record exists")
	// ErrNotOwner is what Persistence.Complete and Release return when the
	// record no longer belongs to the attempt (it was taken over).
	ErrNotOwner = errors.New("idempotency: record taken over by another attempt")
)

// Record is the stored state of one key.
type Record struct {
	// Scope separates keys of different handlers or operators.
	Scope string
	// KeyHash is the SHA-256 of the caller's key, in hex: keys can be long
	// and hold any character.
	KeyHash string
	Status  Status
	// PayloadHash is the SHA-256 of the payload, in hex.
	PayloadHash string
	// Attempt identifies the attempt that wrote the record, so that a late
	// attempt cannot overwrite the one that took over from it.
	Attempt string
	// ExpiresAt is when the record stops counting.
	ExpiresAt time.Time
	// InProgressUntil is when an INPROGRESS record may be taken over.
	InProgressUntil time.Time
	// Result is what the work returned, for replays.
	Result []byte
}

// Persistence stores records.
type Persistence interface {
	// Acquire writes rec unless a live record holds its key: one that has
	// not expired at now and is COMPLETED or INPROGRESS before its
	// in-progress expiry. Then it returns that record and ErrExists.
	Acquire(ctx context.Context, rec Record, now time.Time) (Record, error)
	// Complete stores rec (COMPLETED, with its result) if rec.Attempt still
	// owns the record, else it returns ErrNotOwner.
	Complete(ctx context.Context, rec Record) error
	// Release makes rec's key free again if rec.Attempt still owns it, else
	// it returns ErrNotOwner.
	Release(ctx context.Context, rec Record) error
}

// Config tunes a Guard; zero values take the defaults.
type Config struct {
	// Expiry is how long a record counts after it is written.
	Expiry time.Duration
	// InProgressTimeout bounds how long an attempt may hold a key when the
	// context has no deadline; with a deadline (Lambda's), the deadline
	// is the in-progress expiry, as in Powertools.
	InProgressTimeout time.Duration
	// Now is the clock; time.Now by default.
	Now func() time.Time
	// Log receives the failures that do not change the outcome; nil means
	// slog.Default.
	Log *slog.Logger
}

// Guard runs work at most once per key.
type Guard struct {
	store Persistence
	cfg   Config
}

// New returns a Guard storing its records in p.
func New(p Persistence, cfg Config) (*Guard, error) {
	if p == nil {
		return nil, errors.New("idempotency: nil Persistence")
	}
	if cfg.Expiry < 0 || cfg.InProgressTimeout < 0 {
		return nil, errors.New("idempotency: negative expiry or in-progress timeout")
	}
	if cfg.Expiry == 0 {
		cfg.Expiry = DefaultExpiry
	}
	if cfg.InProgressTimeout == 0 {
		cfg.InProgressTimeout = DefaultInProgressTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Guard{store: p, cfg: cfg}, nil
}

// Hash returns the hex SHA-256 of b.
func Hash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Do runs work once for (scope, key). When a completed record exists with
// the same payload it returns the stored result with replayed true; with
// another payload it returns ErrPayloadMismatch; while another attempt is
// running it returns ErrInProgress. When work fails, its error is returned
// and the key is released so that a retry runs work again.
func (g *Guard) Do(ctx context.Context, scope, key string, payload []byte, work func(context.Context) ([]byte, error)) (result []byte, replayed bool, err error) {
	if scope == "" || key == "" {
		return nil, false, errors.New("idempotency: empty scope or key")
	}
	now := g.cfg.Now()
	attempt, err := newAttempt()
	if err != nil {
		return nil, false, err
	}
	until := now.Add(g.cfg.InProgressTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(until) {
		until = d
	}
	rec := Record{Scope: scope, KeyHash: Hash([]byte(key)), Status: InProgress, PayloadHash: Hash(payload),
		Attempt: attempt, ExpiresAt: now.Add(g.cfg.Expiry), InProgressUntil: until}
	old, err := g.store.Acquire(ctx, rec, now)
	switch {
	case errors.Is(err, ErrExists):
		switch {
		case old.PayloadHash != rec.PayloadHash:
			return nil, false, ErrPayloadMismatch
		case old.Status == Completed:
			return old.Result, true, nil
		default:
			return nil, false, ErrInProgress
		}
	case err != nil:
		return nil, false, fmt.Errorf("idempotency: acquire %s: %w", scope, err)
	}
	result, err = work(ctx)
	if err != nil {
		// A context that already ended must not stop the release: the
		// retry would otherwise wait for the in-progress expiry.
		if rerr := g.store.Release(context.WithoutCancel(ctx), rec); rerr != nil && !errors.Is(rerr, ErrNotOwner) {
			g.cfg.Log.WarnContext(ctx, "idempotency record not released; a retry waits for its in-progress expiry",
				"scope", scope, "error", rerr)
		}
		return nil, false, err
	}
	rec.Status, rec.Result = Completed, result
	if cerr := g.store.Complete(context.WithoutCancel(ctx), rec); cerr != nil {
		// The work is done; only the memory of it is missing, so a
		// duplicate after the in-progress expiry would run it again.
		g.cfg.Log.WarnContext(ctx, "idempotency record not completed", "scope", scope, "error", cerr)
	}
	return result, false, nil
}

// Run is Do for work without a result, such as an event handler: a
// duplicate of completed work returns nil without running it.
func (g *Guard) Run(ctx context.Context, scope, key string, payload []byte, work func(context.Context) error) error {
	_, _, err := g.Do(ctx, scope, key, payload, func(ctx context.Context) ([]byte, error) {
		return nil, work(ctx)
	})
	return err
}

func newAttempt() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("idempotency: attempt id: %w", err)
	}
	return hex.EncodeToString(b), nil
}
