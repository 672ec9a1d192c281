package memory_test

import (
	"testing"

	"github.com/ocpro/upgrade/internal/upgrade"
	"github.com/ocpro/upgrade/internal/upgrade/memory"
	"github.com/ocpro/upgrade/internal/upgrade/storetest"
)

func TestContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(*testing.T) upgrade.Store { return memory.New() })
}
