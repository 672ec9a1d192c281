// Package store is the DynamoDB single-table adapter of the upgrade domain.
//
// # Data model
//
// One table (template.yaml "Table") with PK/SK and three GSIs. Every item an
// operator's staff can read is keyed by the operator, so another operator's
// id is simply not found; the invitation is the one exception (it must be
// reachable from a link, which carries no operator) and holds OperatorID,
// which portal reads check.
//
//	item              PK                                   SK                           GSI1PK / GSI1SK                           GSI2PK / GSI2SK
//	customer          OP#<op>#CUSTOMER#<id>                A                            OP#<op>#CUSTOMERS / <ts>#<id>             -
//	upgrade           OP#<op>#UPGRADE#<id>                 A                            OP#<op>#UPGRADES / <ts>#<id>              -
//	service           OP#<op>#SERVICE#<id>                 A                            -                                         -
//	invitation        INVITATION#<id>                      A                            OP#<op>#INVITATIONS / <ts>#<id>           OP#<op>#INVITATIONS#STATUS#<status> / <ts>#<id>
//	customer's inv.   OP#<op>#CUSTOMER#<customer>          INVITATION#<ts>#<id>         -                                         -
//	short-name claim  OP#<op>#SHORTNAME#<lower-case name>  A                            -                                         -
//	token-id claim    OP#<op>#TOKEN#<tokenId>              A                            -                                         -
//	idempotency key   OP#<op>#IDEMPOTENCY#<sha256(key)>    A                            -                                         -   (ttl: 24 h)
//	operator quota    QUOTA#<portal|testmail>#<op>         W#<window start, Unix s>     -                                         -   (ttl: window + 1 h; internal/quota)
//	outbox event      OUTBOX#<eventId>                     OUTBOX                       -                                         -   (ttl: 24 h; outbox.go)
//
// <ts> is the creation time in UTC with a fixed-width fraction
// (2006-01-02T15:04:05.000000000Z) so that it sorts as text; lists query
// newest first (ScanIndexForward=false).
//
// Invitation lists choose one key condition, the most selective filter
// given, and apply the others to the items found:
//   - tokenId: GetItem on the token-id claim, then GetItem on the invitation
//     (the claim also makes token ids unique per operator);
//   - customerId: Query the customer's item collection for its invitation
//     references (SK begins_with INVITATION#), then TransactGetItems of the
//     invitations (one round trip per page);
//   - status: Query GSI2 on OP#<op>#INVITATIONS#STATUS#<status>; whoever
//     changes an invitation's status must rewrite GSI2PK in the same write;
//   - none: Query GSI1 on OP#<op>#INVITATIONS.
//
// No operation scans. Invitations with a next action (a mail to request, a
// reminder, an expiry) also carry DuePK/DueSK for the sparse DueWork index
// of the reminder sweep, sharded by day and by a hash of the invitation id;
// due.go describes it. They lose DuePK/DueSK when nothing is due any more.
//
// Creating an upgrade is one TransactWriteItems: update the customer
// (exists, licence rank lower than asked, reserved users + n <= 500; ADD
// the users), put the short-name claim, the token-id claim, the service, the
// upgrade, the invitation, the customer's invitation reference, with an
// Idempotency-Key the idempotency record holding the response and, when the
// Welcome mail is wanted, Invitation Created in the outbox. Every
// condition returns ALL_OLD on failure, so a cancelled transaction is mapped
// to a precise domain error without another read; only a reused
// idempotency key costs one more read (to compare the request hash and
// return the stored response).
//
// The invitation item also holds what the wizard's Welcome page shows,
// copied at creation (customer name, service full name, licence), and
// DeviceAttempt, set by the transaction that starts a device code attempt:
// opening a link is then one GetItem, whether the link is live or dead.
// Getting the customer's name costs the create path its one read.
//
// Cursors are base64url JSON of the last item's key attributes; they are
// checked for exactly the expected attribute names and the list's own
// partition, so a forged or foreign cursor is a 400, never a 500 and never
// a way into another partition.
package store
