package upgrade

import (
	"crypto/rand"
	"time"
)

// crockford is Crockford's base32 alphabet: no I, L, O or U, so that ids
// read aloud or copied by hand survive.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// RandomIDs makes ids from crypto/rand.
type RandomIDs struct{}

// NewID returns 26 lower-case Crockford base32 characters: 130 random bits,
// opaque and unguessable.
func (RandomIDs) NewID() string { return randomBase32(26, true) }

// NewTokenID returns 10 upper-case Crockford base32 characters (50 random
// bits): short enough to read to a colleague, and unique per operator
// because the store claims it.
func (RandomIDs) NewTokenID() string { return randomBase32(10, false) }

func randomBase32(n int, lower bool) string {
	b := make([]byte, n)
	rand.Read(b) // never fails on the supported platforms (Go 1.24+ crashes instead)
	for i := range b {
		c := crockford[b[i]&31]
		if lower && c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	return string(b)
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns the current time in UTC.
func (SystemClock) Now() time.Time { return time.Now().UTC() }
