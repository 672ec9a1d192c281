package upgrade_test

import (
	"testing"
	"time"

	"github.com/ocpro/upgrade/internal/upgrade"
)

func TestParseInvitationTTL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"empty means the default week", "", upgrade.DefaultInvitationTTL, false},
		{"two days", "48", 48 * time.Hour, false},
		{"spaces around", " 24 ", 24 * time.Hour, false},
		{"longest", "720", 720 * time.Hour, false},
		{"too long", "721", 0, true},
		{"zero", "0", 0, true},
		{"not a number", "a week", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := upgrade.ParseInvitationTTL(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParseInvitationTTL(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}
