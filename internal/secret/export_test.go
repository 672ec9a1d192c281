package secret

import "time"

// SetClock replaces the clock of k, so that tests can let time pass
// between two reads.
func SetClock(k *Key, now func() time.Time) { k.now = now }

// SetCredentialClock replaces the clock of c.
func SetCredentialClock(c *Credential, now func() time.Time) { c.now = now }
