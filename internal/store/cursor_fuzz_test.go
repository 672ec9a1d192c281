package store

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ocpro/upgrade/internal/upgrade"
)

// FuzzDecodeCursor feeds the cursor decoder what a client can send as
// ?cursor=: anything. It never panics; it refuses with ErrBadCursor (a 400)
// or returns exactly the index's key attributes on the list's own
// partition, so a cursor can never lead into another operator's items.
func FuzzDecodeCursor(f *testing.F) {
	const partition = "OP#acme#INVITATIONS"
	good, err := encodeCursor(map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: "INVITATION#i1"}, "SK": &types.AttributeValueMemberS{Value: "A"},
		"GSI1PK": &types.AttributeValueMemberS{Value: partition}, "GSI1SK": &types.AttributeValueMemberS{Value: "2026-11-29T17:38:11.000000000Z#i1"},
	}, gsi1)
	if err != nil {
		f.Fatal(err)
	}
	foreign := base64.RawURLEncoding.EncodeToString([]byte(`{"PK":"x","SK":"A","GSI1PK":"OP#other#INVITATIONS","GSI1SK":"y"}`))
	for _, s := range []string{good, foreign, "", "e30", "bnVsbA", "!!", strings.Repeat("A", 4096)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cursor string) {
		start, err := decodeCursor(cursor, gsi1, partition)
		if err != nil {
			if !errors.Is(err, upgrade.ErrBadCursor) {
				t.Fatalf("decodeCursor(%q) = %v, want ErrBadCursor", cursor, err)
			}
			return
		}
		if cursor == "" {
			if start != nil {
				t.Fatalf("an empty cursor gave a start key %v", start)
			}
			return
		}
		if len(start) != len(gsi1.keyAttrs) {
			t.Fatalf("decodeCursor(%q) = %d attributes, want exactly %v", cursor, len(start), gsi1.keyAttrs)
		}
		pk, _ := start[gsi1.pk].(*types.AttributeValueMemberS)
		if pk == nil || pk.Value != partition {
			b, _ := json.Marshal(start)
			t.Fatalf("decodeCursor(%q) left the list's partition: %s", cursor, b)
		}
	})
}
