package store

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/ocpro/upgrade/internal/upgrade"
)

// skMain is the sort key of every entity's main item.
const skMain = "A"

// sortTimeLayout has a fixed-width fraction so that times sort as text.
const sortTimeLayout = "2006-01-02T15:04:05.000000000Z"

func opKey(op string, parts ...string) string {
	return "OP#" + op + "#" + strings.Join(parts, "#")
}

func customerPK(op, id string) string       { return opKey(op, "CUSTOMER", id) }
func upgradePK(op, id string) string        { return opKey(op, "UPGRADE", id) }
func servicePK(op, id string) string        { return opKey(op, "SERVICE", id) }
func invitationPK(id string) string         { return "INVITATION#" + id }
func shortNamePK(op, name string) string    { return opKey(op, "SHORTNAME", strings.ToLower(name)) }
func tokenIDPK(op, tokenID string) string   { return opKey(op, "TOKEN", tokenID) }
func sortKey(t time.Time, id string) string { return t.UTC().Format(sortTimeLayout) + "#" + id }

func invitationStatusPK(op string, s upgrade.InvitationStatus) string {
	return opKey(op, "INVITATIONS", "STATUS", string(s))
}

// idempotencyPK hashes the client's key so that any printable key, however
// long or full of '#', makes a bounded, unambiguous partition key.
func idempotencyPK(op, key string) string {
	sum := sha256.Sum256([]byte(key))
	return opKey(op, "IDEMPOTENCY", hex.EncodeToString(sum[:]))
}
