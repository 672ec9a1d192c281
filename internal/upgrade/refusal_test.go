package upgrade_test

import (
	"errors"
	"testing"

	"github.com/ocpro/upgrade/internal/upgrade"
)

// A customer refuses a licence it holds or exceeds first, then users
// beyond 500 (guide step 5); the stores return this refusal when their
// condition on the customer fails.
func TestCustomerRefusal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		current  upgrade.License
		reserved int
		target   upgrade.License
		n        int
		want     any
	}{
		{"essentials to pro", upgrade.Essentials, 0, upgrade.Pro, 500, nil},
		{"plus to pro", upgrade.EssentialsPlus, 100, upgrade.Pro, 400, nil},
		{"pro to pro", upgrade.Pro, 0, upgrade.Pro, 1, &upgrade.LicenseError{}},
		{"pro to plus", upgrade.Pro, 0, upgrade.EssentialsPlus, 1, &upgrade.LicenseError{}},
		{"the licence before the users", upgrade.Pro, 500, upgrade.Pro, 1, &upgrade.LicenseError{}},
		{"one user over 500", upgrade.Essentials, 400, upgrade.Pro, 101, &upgrade.UserLimitError{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := upgrade.CustomerRefusal(tt.current, tt.reserved, tt.target, tt.n)
			var le *upgrade.LicenseError
			var ue *upgrade.UserLimitError
			switch tt.want.(type) {
			case nil:
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
			case *upgrade.LicenseError:
				if !errors.As(err, &le) || le.Current != tt.current {
					t.Fatalf("err = %v, want a LicenseError naming %s", err, tt.current)
				}
			case *upgrade.UserLimitError:
				if !errors.As(err, &ue) || ue.Reserved != tt.reserved {
					t.Fatalf("err = %v, want a UserLimitError naming %d", err, tt.reserved)
				}
			}
		})
	}
}
