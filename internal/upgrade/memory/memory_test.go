package memory_test

import (
	"context"
	"testing"

	"github.com/ocpro/upgrade/internal/upgrade"
	"github.com/ocpro/upgrade/internal/upgrade/memory"
	"github.com/ocpro/upgrade/internal/upgrade/storetest"
	"github.com/ocpro/upgrade/internal/wizard/wizardtest"
)

func TestContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(*testing.T) upgrade.Store { return memory.New() })
}

func TestFinishContract(t *testing.T) {
	t.Parallel()
	storetest.RunFinish(t, func(*testing.T) storetest.FinishStore { return memory.New() },
		func(t *testing.T, s storetest.FinishStore, inv upgrade.Invitation, tenantID string) {
			got, err := s.GetInvitation(context.Background(), inv.ID)
			if err != nil {
				t.Fatal(err)
			}
			got.Status, got.TenantID = upgrade.InvitationAuthenticationComplete, tenantID
			s.(*memory.Store).SetInvitation(got)
		})
}

func TestWizardContract(t *testing.T) {
	t.Parallel()
	wizardtest.Run(t, func(*testing.T) wizardtest.Store { return memory.New() },
		func(t *testing.T, s wizardtest.Store, invitationID string, status upgrade.InvitationStatus) {
			inv, err := s.GetInvitation(context.Background(), invitationID)
			if err != nil {
				t.Fatal(err)
			}
			inv.Status = status
			s.(*memory.Store).SetInvitation(inv)
		})
}
