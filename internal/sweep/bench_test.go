package sweep_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ocpro/upgrade/infra/testenv"
	"github.com/ocpro/upgrade/internal/store"
	"github.com/ocpro/upgrade/internal/sweep"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// metered asks DynamoDB for the consumed capacity of every read the store
// makes and adds it up.
type metered struct {
	*dynamodb.Client
	mu  sync.Mutex
	rcu float64
}

func (m *metered) add(c *types.ConsumedCapacity) {
	if c != nil && c.CapacityUnits != nil {
		m.mu.Lock()
		m.rcu += *c.CapacityUnits
		m.mu.Unlock()
	}
}

func (m *metered) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := m.Client.GetItem(ctx, in, o...)
	if err == nil {
		m.add(out.ConsumedCapacity)
	}
	return out, err
}

func (m *metered) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := m.Client.Query(ctx, in, o...)
	if err == nil {
		m.add(out.ConsumedCapacity)
	}
	return out, err
}

// load writes invitations with BatchWriteItem, 25 a request, 8 at a time.
func load(b *testing.B, db *dynamodb.Client, table string, invs []upgrade.Invitation, policy upgrade.ReminderPolicy) {
	b.Helper()
	var wg sync.WaitGroup
	work := make(chan []upgrade.Invitation)
	for range 8 {
		wg.Go(func() {
			for batch := range work {
				var reqs []types.WriteRequest
				for _, inv := range batch {
					pk, sk := store.DueKeys(inv.ID, policy.Next(inv).At)
					item, err := attributevalue.MarshalMap(map[string]any{
						"PK": "INVITATION#" + inv.ID, "SK": "A", "Type": "INVITATION", "ID": inv.ID, "OperatorID": inv.OperatorID,
						"Status": string(inv.Status), "Generation": inv.Generation, "RemindersSent": inv.RemindersSent,
						"EmailSent": true, "LastMailKind": "welcome", "LastMailAt": inv.LastMailAt.UnixMilli(),
						"CreatedAt": inv.CreatedAt, "ExpiresAt": inv.ExpiresAt, "AdminEmail": inv.AdminEmail,
						"DuePK": pk, "DueSK": sk,
					})
					if err != nil {
						b.Error(err)
						return
					}
					reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
				}
				for len(reqs) > 0 {
					out, err := db.BatchWriteItem(context.Background(), &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: reqs}})
					if err != nil {
						b.Error(err)
						return
					}
					reqs = out.UnprocessedItems[table]
				}
			}
		})
	}
	for i := 0; i < len(invs); i += 25 {
		work <- invs[i:min(i+25, len(invs))]
	}
	close(work)
	wg.Wait()
}

// BenchmarkSweep sweeps a table of pending invitations of which 1,000 are
// due and reports the read capacity one sweep consumes: it must follow the
// due count, not the table size.
func BenchmarkSweep(b *testing.B) {
	for _, pending := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("pending=%d/due=1000", pending), func(b *testing.B) {
			client, table := testenv.DynamoDB(b)
			now := time.Now().UTC()
			policy := upgrade.ReminderPolicy{Offsets: upgrade.DefaultReminderOffsets}
			mk := func(i int, lastMail time.Time) upgrade.Invitation {
				return upgrade.Invitation{ID: fmt.Sprintf("inv%07d", i), OperatorID: "op-bench", Status: upgrade.InvitationPending,
					AdminEmail: "it@contoso.example", Generation: 1, CreatedAt: lastMail, LastMailAt: lastMail,
					ExpiresAt: lastMail.Add(upgrade.DefaultInvitationTTL)}
			}
			var waiting, due []upgrade.Invitation
			for i := range pending - 1000 {
				// Mailed within the last day: reminders due over the next day.
				waiting = append(waiting, mk(i, now.Add(-time.Duration(i%1400)*time.Minute)))
			}
			for i := range 1000 {
				due = append(due, mk(pending+i, now.Add(-25*time.Hour)))
			}
			load(b, client, table, waiting, policy)
			m := &metered{Client: client}
			st, err := store.New(m, table)
			if err != nil {
				b.Fatal(err)
			}
			pace, perr := sweep.NewFixedPacer(0)
			if perr != nil {
				b.Fatal(perr)
			}
			s, err := sweep.New(st, pace, fixedClock(now), nil, sweep.Config{Reminders: policy})
			if err != nil {
				b.Fatal(err)
			}
			var rcu float64
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				load(b, client, table, due, policy)
				m.rcu = 0
				b.StartTimer()
				res, err := s.Run(context.Background())
				if err != nil || res.Requested != 1000 {
					b.Fatalf("sweep = %+v, %v; want 1000 requested", res, err)
				}
				rcu += m.rcu
			}
			b.ReportMetric(rcu/float64(b.N), "RCU/sweep")
		})
	}
}
