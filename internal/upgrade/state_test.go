package upgrade_test

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ocpro/upgrade/internal/upgrade"
)

// readmeMoves reads the README's table of moves: for each record, each
// state a move enters and the states it may leave.
func readmeMoves(t *testing.T) map[string]map[string][]string {
	t.Helper()
	f, err := os.Open("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	moves := map[string]map[string][]string{}
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			in = line == "## States"
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if !in || len(cells) != 4 || !strings.HasPrefix(cells[1], "`") {
			continue
		}
		record, to := cells[0], strings.Trim(cells[1], "`")
		if moves[record] == nil {
			moves[record] = map[string][]string{}
		}
		if _, twice := moves[record][to]; twice {
			t.Errorf("README: the %s move to %s is listed twice", record, to)
		}
		var from []string
		for _, s := range strings.Split(cells[2], ", ") {
			from = append(from, strings.Trim(s, "`"))
		}
		moves[record][to] = from
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return moves
}

// asText writes a transition table as the README does.
func asText[S ~string](m upgrade.Moves[S]) map[string][]string {
	out := map[string][]string{}
	for to, from := range m {
		for _, s := range from {
			out[string(to)] = append(out[string(to)], string(s))
		}
	}
	return out
}

// The README's "States" table is the transition table the code enforces,
// move for move, in both directions.
func TestStatesAreTheReadmes(t *testing.T) {
	t.Parallel()
	readme := readmeMoves(t)
	code := map[string]map[string][]string{
		"invitation": asText(upgrade.InvitationMoves),
		"service":    asText(upgrade.ServiceMoves),
		"upgrade":    asText(upgrade.UpgradeMoves),
	}
	for record, moves := range code {
		for to, from := range moves {
			doc, ok := readme[record][to]
			if !ok {
				t.Errorf("README lacks the %s move to %s (from %v)", record, to, from)
				continue
			}
			if !sameSet(doc, from) {
				t.Errorf("%s to %s: README says from %v, the code %v", record, to, doc, from)
			}
		}
	}
	for record, moves := range readme {
		for to := range moves {
			if _, ok := code[record][to]; !ok {
				t.Errorf("README lists a %s move to %s the code does not know", record, to)
			}
		}
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b))
	return slices.Equal(a, b)
}

// Every state a move enters or leaves is a state of its record, and every
// state but the first can be entered.
func TestMovesNameKnownStates(t *testing.T) {
	t.Parallel()
	check := func(record string, all []string, moves map[string][]string, first string) {
		for to, from := range moves {
			for _, s := range append([]string{to}, from...) {
				if !slices.Contains(all, s) {
					t.Errorf("%s: move to %s names the unknown state %s", record, to, s)
				}
			}
		}
		for _, s := range all {
			if _, ok := moves[s]; !ok && s != first {
				t.Errorf("%s: no move enters %s", record, s)
			}
		}
	}
	var invitations []string
	for _, s := range upgrade.InvitationStatuses {
		invitations = append(invitations, string(s))
	}
	check("invitation", invitations, asText(upgrade.InvitationMoves), "")
	check("service", []string{string(upgrade.ServicePendingAuthentication), string(upgrade.ServiceActive), string(upgrade.ServiceCancelled)},
		asText(upgrade.ServiceMoves), string(upgrade.ServicePendingAuthentication))
	check("upgrade", []string{string(upgrade.UpgradePendingAuthentication), string(upgrade.UpgradeReadyToResume),
		string(upgrade.UpgradeCompleted), string(upgrade.UpgradeCancelled)}, asText(upgrade.UpgradeMoves),
		string(upgrade.UpgradePendingAuthentication))
}

// A link works in the live states only, and only before its expiry.
func TestLiveFollowsTheSet(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for _, s := range upgrade.InvitationStatuses {
		for _, left := range []time.Duration{time.Hour, 0, -time.Hour} {
			t.Run(fmt.Sprintf("%s/%v left", s, left), func(t *testing.T) {
				t.Parallel()
				inv := upgrade.Invitation{Status: s, ExpiresAt: now.Add(left)}
				want := upgrade.InvitationLive.Contains(s) && left > 0
				if got := inv.Live(now); got != want {
					t.Errorf("Live = %v, want %v", got, want)
				}
			})
		}
	}
}
