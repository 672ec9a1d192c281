package store_test

import (
	"testing"

	"github.com/ocpro/upgrade/infra/testenv"
	"github.com/ocpro/upgrade/internal/store"
	"github.com/ocpro/upgrade/internal/upgrade"
	"github.com/ocpro/upgrade/internal/upgrade/storetest"
)

// TestContract runs the store contract against DynamoDB Local, one fresh
// table per test.
func TestContract(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	storetest.Run(t, func(t *testing.T) upgrade.Store {
		db, table := testenv.DynamoDB(t)
		s, err := store.New(db, table)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestNewChecksDependencies(t *testing.T) {
	t.Parallel()
	if _, err := store.New(nil, "t"); err == nil {
		t.Error("nil client accepted")
	}
}
