package api_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ocpro/upgrade/infra/testenv"
	"github.com/ocpro/upgrade/internal/api"
	"github.com/ocpro/upgrade/internal/link"
	"github.com/ocpro/upgrade/internal/quota"
	"github.com/ocpro/upgrade/internal/upgrade"
	"github.com/ocpro/upgrade/internal/upgrade/memory"
)

// One operator's burst is refused with 429 and the rest of the window as
// Retry-After, while another operator's requests still pass: each operator
// has its own share, counted in DynamoDB for every container.
func TestOperatorLimit(t *testing.T) {
	t.Parallel()
	db, table := testenv.DynamoDB(t)
	counter, err := quota.NewDynamo(db, table)
	if err != nil {
		t.Fatal(err)
	}
	clock := fixedClock{now.Add(15 * time.Second)}
	limit, err := quota.New(counter, clock, "portal", quota.Rule{Limit: 3, Window: time.Minute}, "Too many requests.")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := link.NewSigner(link.StaticKey(strings.Repeat("k", 32)), "https://portal.example.net")
	if err != nil {
		t.Fatal(err)
	}
	portal, err := upgrade.NewPortal(upgrade.Deps{Store: memory.New(), Links: signer,
		Clock: clock, IDs: upgrade.RandomIDs{}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := api.NewHandler(portal, "", nil, api.WithOperatorLimit(limit))
	if err != nil {
		t.Fatal(err)
	}
	list := golden(t, "list-customers.json")
	for i := range 3 {
		if res, _ := call(t, h, list); res.StatusCode != 200 {
			t.Fatalf("request %d = %d %s", i+1, res.StatusCode, res.Body)
		}
	}
	res, p := call(t, h, list)
	if res.StatusCode != 429 || res.Headers["Retry-After"] != "45" || p["type"] != api.ProblemTypeBase+"too-many-requests" {
		t.Fatalf("request beyond the share = %d Retry-After %q %s", res.StatusCode, res.Headers["Retry-After"], res.Body)
	}
	if res, _ := call(t, h, withOperator(list, "other-operator")); res.StatusCode != 200 {
		t.Fatalf("another operator = %d %s", res.StatusCode, res.Body)
	}
}
