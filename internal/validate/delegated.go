package validate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/ocpro/upgrade/internal/secret"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// delegatedOnce runs the delegated check for the invitation's kept
// credential; nil when none is kept. It returns an error only for failures
// of this service's own infrastructure (database, KMS).
func (c *Checker) delegatedOnce(ctx context.Context, t upgrade.TenantRef) (*upgrade.CheckResult, error) {
	kept, err := c.cfg.Credentials.Credential(ctx, t.InvitationID)
	if errors.Is(err, upgrade.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read kept credential: %w", err)
	}
	prev := kept.Sealed
	plain, err := c.cfg.Sealer.Open(ctx, prev, upgrade.CredentialContext(t.TenantID, t.InvitationID))
	if err != nil {
		return nil, fmt.Errorf("open kept credential: %w", err)
	}
	refresh := string(plain)
	clear(plain)
	var r upgrade.CheckResult
	for attempt := 0; attempt < 2; attempt++ {
		var next string
		r, next = c.delegated(ctx, t.TenantID, refresh, kept.Public)
		if next != "" {
			// Microsoft rotates refresh tokens; keep the new one so that
			// the 90-day inactivity clock restarts from now.
			if err := c.rotate(ctx, t, prev, next); err != nil {
				return nil, err
			}
		}
		if r.Passed || r.Failure == nil || !r.Failure.Transient || r.Failure.RetryAfter > maxInlineRetry || next != "" {
			break
		}
	}
	return &r, nil
}

func (c *Checker) rotate(ctx context.Context, t upgrade.TenantRef, prev []byte, next string) error {
	sealed, err := c.cfg.Sealer.Seal(ctx, []byte(next), upgrade.CredentialContext(t.TenantID, t.InvitationID))
	if err != nil {
		return fmt.Errorf("seal rotated credential: %w", err)
	}
	err = c.cfg.Credentials.ReplaceCredential(ctx, t.InvitationID, prev, sealed)
	if errors.Is(err, upgrade.ErrStateChanged) {
		// A concurrent check rotated it first; its token is as fresh as
		// ours, and both stay valid at Microsoft.
		return nil
	}
	if err != nil {
		return fmt.Errorf("store rotated credential: %w", err)
	}
	return nil
}

// tokenAnswer is the token endpoint's success body.
type tokenAnswer struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// delegated redeems the refresh token and calls Graph /me; it returns the
// result and the rotated refresh token, if Microsoft issued one. A public
// refresh token (device code) goes without the client secret: Entra
// refuses a secret on it (AADSTS700025).
func (c *Checker) delegated(ctx context.Context, tenantID, refresh string, public bool) (upgrade.CheckResult, string) {
	tok, f := c.redeemRefresh(ctx, tenantID, refresh, public)
	if f != nil && !public && secret.RefreshIfStaleCode(ctx, c.cfg.Secret, f.AADSTS) {
		// The secret was rotated since this container read it. Entra
		// authenticates the client before it looks at the refresh
		// token, so the token is unspent: try once more with the new
		// secret.
		tok, f = c.redeemRefresh(ctx, tenantID, refresh, public)
	}
	if f != nil {
		return failed(*f), ""
	}
	proof, f := c.graphGet(ctx, "/v1.0/me", tok.AccessToken)
	if f != nil {
		return failed(*f), tok.RefreshToken
	}
	return delegatedPassed(proof), tok.RefreshToken
}

// redeemRefresh posts the refresh token grant, confidential (with the
// client secret as it reads now) unless public.
func (c *Checker) redeemRefresh(ctx context.Context, tenantID, refresh string, public bool) (tokenAnswer, *upgrade.CheckFailure) {
	form := url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "client_id": {c.cfg.ClientID},
		// Everything the tenant granted for Graph, and a new refresh token.
		"scope": {c.resource + "/.default offline_access"},
	}
	if !public {
		s, err := c.cfg.Secret.ClientSecret(ctx)
		if err != nil {
			c.log.ErrorContext(ctx, "delegated check cannot start", "error", err)
			return tokenAnswer{}, &upgrade.CheckFailure{Code: upgrade.FailureSecretInvalid, Transient: true,
				Reason: "The operator application's credential could not be read; check Secrets Manager."}
		}
		form.Set("client_secret", s)
	}
	endpoint := c.cfg.AuthorityHost + "/" + url.PathEscape(tenantID) + "/oauth2/v2.0/token"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return tokenAnswer{}, &upgrade.CheckFailure{Code: upgrade.FailureOther, Reason: "The token endpoint address is not valid."}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.http.Do(req)
	if err != nil {
		f := fromTransport(err)
		return tokenAnswer{}, &f
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxGraphBody))
	if err != nil {
		f := fromTransport(err)
		return tokenAnswer{}, &f
	}
	if resp.StatusCode != http.StatusOK {
		f := fromIdentity(resp.StatusCode, resp.Header, body)
		return tokenAnswer{}, &f
	}
	var tok tokenAnswer
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
		return tokenAnswer{}, &upgrade.CheckFailure{Code: upgrade.FailureOther, Reason: "Microsoft answered the token request without a token."}
	}
	return tok, nil
}

// delegatedPassed builds the passing result from Graph's /me answer.
func delegatedPassed(p graphProof) upgrade.CheckResult {
	var me struct {
		ID                string `json:"id"`
		UserPrincipalName string `json:"userPrincipalName"`
	}
	if err := json.Unmarshal(p.body, &me); err != nil || me.UserPrincipalName == "" {
		return failed(upgrade.CheckFailure{Code: upgrade.FailureGraphRefused, Reason: "Microsoft Graph answered /me without an account."})
	}
	return upgrade.CheckResult{Passed: true, Account: me.UserPrincipalName}
}
