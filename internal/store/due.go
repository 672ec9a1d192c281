package store

import (
	"context"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ocpro/upgrade/internal/upgrade"
)

// The DueWork index (sparse, KEYS_ONLY) holds every invitation with a next
// action: a mail to request, a reminder, an expiry.
//
//	DuePK = DUE#<UTC day of the due time, 2006-01-02>#<shard 00-15>
//	DueSK = <due time, fixed-width UTC>#<invitation id>
//
// The shard is a hash of the invitation id, so the writes of one day spread
// evenly over DueShards partitions, and a day's partitions stop receiving
// writes once the day is past: no index partition ever takes more than
// 1/DueShards of a day's invitation writes. The sweep reads, for each day
// from the watermark to today, each shard with DueSK up to now: it reads
// only what is due (plus one empty page per partition), never the future
// days where the bulk of the pending invitations wait, so its cost follows
// the due count and not the table size. Items leave the index (REMOVE
// DuePK, DueSK) when nothing more can be due.
//
// The watermark (item SWEEP#DUE) is the first day that may still hold due
// items. A sweep that drains every partition up to now moves it to
// yesterday: due times are always written in the future (or at most a
// clock skew in the past), so a day before yesterday can no longer gain
// items. A sweep that stops early leaves it, and the next sweep starts from
// there, however long the service was down.

// DueShards is how many partitions each day of the DueWork index spreads
// over.
const DueShards = 16

const (
	dueIndex     = "DueWork"
	dueDayLayout = "2006-01-02"
	watermarkPK  = "SWEEP#DUE"
	typeSweep    = "SWEEP"
	// maxDueDays bounds the days one sweep reads, in case the watermark
	// were ever corrupt; 400 days of 16 shards is still only 6,400 pages.
	maxDueDays = 400
)

// DueKeys returns the DueWork keys of an invitation due at "at".
func DueKeys(invitationID string, at time.Time) (pk, sk string) {
	h := fnv.New32a()
	h.Write([]byte(invitationID))
	at = at.UTC()
	return duePartition(at, int(h.Sum32()%DueShards)), at.Format(sortTimeLayout) + "#" + invitationID
}

func duePartition(day time.Time, shard int) string {
	return fmt.Sprintf("DUE#%s#%02d", day.UTC().Format(dueDayLayout), shard)
}

// dueKeys is DueKeys for the record writers.
func dueKeys(invitationID string, at time.Time) (pk, sk string) { return DueKeys(invitationID, at) }

// firstDue is when a new invitation first needs the sweep: when its
// Welcome mail would count as lost, or else its expiry.
func (r invitationRecord) firstDue() time.Time {
	if r.MailWanted != "" && r.MailRequestedAt != 0 {
		return fromUnixMilli(r.MailRequestedAt).Add(upgrade.MailRequestGrace)
	}
	return r.ExpiresAt
}

func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromUnixMilli(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

type watermarkRecord struct {
	PK, SK string
	Type   string
	From   string
}

// DuePartitions returns the DueWork partitions a sweep at now must read,
// oldest day first.
func (s *Store) DuePartitions(ctx context.Context, now time.Time) ([]string, error) {
	today := now.UTC().Truncate(24 * time.Hour)
	from := today.Add(-24 * time.Hour)
	var w watermarkRecord
	found, err := s.get(ctx, watermarkPK, &w)
	if err != nil {
		return nil, fmt.Errorf("read sweep watermark: %w", err)
	}
	if found {
		if d, err := time.Parse(dueDayLayout, w.From); err == nil && d.Before(from) {
			from = d
		}
	}
	if days := int(today.Sub(from)/(24*time.Hour)) + 1; days > maxDueDays {
		from = today.Add(-(maxDueDays - 1) * 24 * time.Hour)
	}
	var parts []string
	for d := from; !d.After(today); d = d.Add(24 * time.Hour) {
		for shard := range DueShards {
			parts = append(parts, duePartition(d, shard))
		}
	}
	return parts, nil
}

// QueryDue returns up to limit entries of one DueWork partition due at or
// before now, after the entry with sort key after ("" for the start).
// more reports whether the partition may hold further due entries.
func (s *Store) QueryDue(ctx context.Context, partition string, now time.Time, after string, limit int) (refs []upgrade.DueRef, more bool, err error) {
	e := newExpr()
	e.compare("DuePK", "=", partition)
	// '$' sorts right after the '#' that ends the time, so every entry due
	// at or before now is below the bound.
	e.compare("DueSK", "<", now.UTC().Format(sortTimeLayout)+"$")
	in, err := e.query(s.table, dueIndex)
	if err != nil {
		return nil, false, fmt.Errorf("query due %s: %w", partition, err)
	}
	in.Limit = aws.Int32(int32(limit))
	if after != "" {
		_, id, ok := strings.Cut(after, "#")
		if !ok {
			return nil, false, fmt.Errorf("query due: bad position %q", after)
		}
		in.ExclusiveStartKey = map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: invitationPK(id)}, "SK": &types.AttributeValueMemberS{Value: skMain},
			"DuePK": &types.AttributeValueMemberS{Value: partition}, "DueSK": &types.AttributeValueMemberS{Value: after},
		}
	}
	out, err := s.db.Query(ctx, in)
	if err != nil {
		return nil, false, fmt.Errorf("query due %s: %w", partition, err)
	}
	for _, item := range out.Items {
		var k struct{ DueSK string }
		if err := attributevalue.UnmarshalMap(item, &k); err != nil {
			return nil, false, fmt.Errorf("decode due entry: %w", err)
		}
		_, id, ok := strings.Cut(k.DueSK, "#")
		if !ok {
			return nil, false, fmt.Errorf("due entry with bad sort key %q", k.DueSK)
		}
		refs = append(refs, upgrade.DueRef{InvitationID: id, Key: k.DueSK})
	}
	return refs, out.LastEvaluatedKey != nil, nil
}

// MarkSwept records that every partition was drained up to now: the next
// sweep may start at yesterday. The watermark only moves forward.
func (s *Store) MarkSwept(ctx context.Context, now time.Time) error {
	from := now.UTC().Truncate(24 * time.Hour).Add(-24 * time.Hour).Format(dueDayLayout)
	e := newExpr()
	e.cond = append(e.cond, "(attribute_not_exists("+e.name("From")+") OR "+e.name("From")+" < "+e.value(from)+")")
	e.put("From", from, false)
	e.put("Type", typeSweep, false)
	// A failed condition means another sweep moved it as far or further.
	return s.update(ctx, e, watermarkPK, skMain, nil, "move sweep watermark")
}

// GetInvitationConsistent reads an invitation with a strongly consistent
// read, for decisions that must not act on a stale copy.
func (s *Store) GetInvitationConsistent(ctx context.Context, id string) (upgrade.Invitation, error) {
	res, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: key(invitationPK(id), skMain), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return upgrade.Invitation{}, fmt.Errorf("get invitation %s: %w", id, err)
	}
	if res.Item == nil {
		return upgrade.Invitation{}, upgrade.ErrNotFound
	}
	var r invitationRecord
	if err := attributevalue.UnmarshalMap(res.Item, &r); err != nil {
		return upgrade.Invitation{}, fmt.Errorf("decode invitation %s: %w", id, err)
	}
	return r.domain(), nil
}
