package wizard

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ocpro/upgrade/internal/upgrade"
)

// Admin consent takes time to reach Microsoft's token service: for seconds
// to minutes after the administrator accepted, an application token for
// the tenant is refused (AADSTS700016) or comes without roles. The
// callback therefore does not read a failed first proof as missing
// consent. It records that consent returned and shows "finishing"; the
// page comes back to the status route, which tries the proof again with a
// growing wait, claimed with a conditional write so that one request at a
// time asks Microsoft. No attempt is counted and no new consent round is
// started while the window lasts; past it, consent is reported missing.

// DefaultPropagationWindow is how long after consent returned the wizard
// keeps trying to prove it.
const DefaultPropagationWindow = 10 * time.Minute

// The wait between proofs: half the time since consent returned, within
// these bounds.
const (
	minProofWait = 2 * time.Second
	maxProofWait = 30 * time.Second
)

// proofWait is the wait after a proof tried at last, for consent that
// returned at since.
func proofWait(since, last time.Time) time.Duration {
	return min(max(last.Sub(since)/2, minProofWait), maxProofWait)
}

// finishingView is the "finishing" page, which comes back after wait.
func finishingView(inv upgrade.Invitation, token string, wait time.Duration) View {
	return View{Step: StepFinishing, Token: token, UPN: inv.AuthenticatedBy, TenantID: inv.TenantID, RetryIn: wait}
}

// startFinishing records that consent returned for the invitation and
// shows the finishing page.
func (s *Service) startFinishing(ctx context.Context, inv upgrade.Invitation, token string) (View, error) {
	if err := s.c.Store.StartConfirm(ctx, inv.ID, s.c.Clock.Now()); err != nil {
		return View{}, fmt.Errorf("record consent return: %w", err)
	}
	s.c.Logger.InfoContext(ctx, "consent returned; waiting for Microsoft's token service to see it", "invitationId", inv.ID)
	return finishingView(inv, token, minProofWait), nil
}

// pendingProof returns the finishing page when consent returned for the
// invitation within the window, so that "Continue" does not send the
// administrator to consent again while Microsoft catches up.
func (s *Service) pendingProof(ctx context.Context, inv upgrade.Invitation, token string) (View, bool, error) {
	a, err := s.c.Store.GetAttempt(ctx, inv.ID)
	if err != nil {
		return View{}, false, fmt.Errorf("read attempt: %w", err)
	}
	c := a.Confirm
	now := s.c.Clock.Now()
	if c == nil || now.Sub(c.Since) > s.c.PropagationWindow {
		return View{}, false, nil
	}
	return finishingView(inv, token, max(c.LastTry.Add(proofWait(c.Since, c.LastTry)).Sub(now), minProofWait)), true, nil
}

// finish serves the status route of an invitation whose administrator
// signed in: the acquired page, or, once consent returned, the next proof
// when it is due.
func (s *Service) finish(ctx context.Context, inv upgrade.Invitation, token, binding string) (View, error) {
	a, err := s.c.Store.GetAttempt(ctx, inv.ID)
	if err != nil {
		return View{}, fmt.Errorf("read attempt: %w", err)
	}
	c := a.Confirm
	if c == nil {
		return s.view(ctx, inv, token, binding)
	}
	now := s.c.Clock.Now()
	over := now.Sub(c.Since) > s.c.PropagationWindow
	if next := c.LastTry.Add(proofWait(c.Since, c.LastTry)); now.Before(next) && !over {
		return finishingView(inv, token, next.Sub(now)), nil
	}
	won, err := s.c.Store.ClaimConfirm(ctx, inv.ID, c.LastTry, now)
	if err != nil {
		return View{}, fmt.Errorf("claim proof: %w", err)
	}
	if !won {
		return finishingView(inv, token, minProofWait), nil
	}
	v, err := s.complete(ctx, inv, inv.TenantID)
	if !errors.Is(err, ErrNotConsented) {
		return v, err
	}
	if over {
		s.c.Logger.InfoContext(ctx, "consent still not seen by Microsoft's token service", "invitationId", inv.ID)
		return View{Step: StepProblem, Problem: ProblemConsent, Back: true, Token: token}, nil
	}
	return finishingView(inv, token, proofWait(c.Since, now)), nil
}
