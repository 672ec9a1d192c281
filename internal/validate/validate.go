// Package validate is "Validate Authentication": it proves that the
// operator's access to a customer's Microsoft 365 tenant works by getting
// real tokens and using them with Microsoft Graph. Two checks, each
// reported on its own:
//
//   - application: an app-only token for the tenant from MSAL Go (client
//     credentials; MSAL answers from its cache first), read without
//     checking its signature (a Graph token's is for Graph alone; see
//     package graph), its tid equal to the tenant and its roles holding
//     every required permission, then GET /v1.0/organization with it,
//     which must answer the tenant: that answer is the proof;
//   - delegated, where a refresh token is kept: the sealed token is opened,
//     redeemed at the token endpoint (MSAL Go does not expose the refresh
//     token grant), the rotated token is sealed and stored in its place,
//     and GET /v1.0/me with the new access token names the account.
//
// A passing check can only be built from a successful Graph answer (see
// graphProof), so a check cannot report success without having obtained a
// token and used it. Every failure carries an operator-readable reason,
// Microsoft's AADSTS number and whether it is transient.
package validate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"

	"github.com/ocpro/upgrade/internal/cloud"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// maxInlineRetry is the longest Retry-After a check waits out itself
// before trying once more; longer waits are reported as transient.
const maxInlineRetry = 3 * time.Second

// ClientSecret supplies the operator application's client secret.
type ClientSecret interface {
	ClientSecret(ctx context.Context) (string, error)
}

// Credentials keeps the sealed delegated refresh tokens.
type Credentials interface {
	// Credential returns the sealed refresh token kept for an invitation,
	// upgrade.ErrNotFound when there is none.
	Credential(ctx context.Context, invitationID string) (upgrade.KeptCredential, error)
	// ReplaceCredential stores next in place of prev; it fails with
	// upgrade.ErrStateChanged when another writer replaced prev first.
	ReplaceCredential(ctx context.Context, invitationID string, prev, next []byte) error
}

// Sealer encrypts secrets bound to an encryption context.
type Sealer interface {
	Seal(ctx context.Context, plaintext []byte, encCtx map[string]string) ([]byte, error)
	Open(ctx context.Context, blob []byte, encCtx map[string]string) ([]byte, error)
}

// Config configures a Checker. Credentials and Sealer are optional
// together: without them only the application check runs.
type Config struct {
	// AuthorityHost is the identity platform, for example
	// https://login.microsoftonline.com.
	AuthorityHost string
	ClientID      string
	Secret        ClientSecret
	// GraphBaseURL is where Graph is reached, for example
	// https://graph.microsoft.com or, in the US Government cloud,
	// https://graph.microsoft.us; tokens are asked for the resource it
	// names (cloud.GraphResource).
	GraphBaseURL string
	// RequiredRoles are the application permissions an app token for the
	// tenant must carry; at least one.
	RequiredRoles []string
	Credentials   Credentials
	Sealer        Sealer
	// HTTPClient is used for every call; http.DefaultClient when nil.
	HTTPClient *http.Client
	Clock      func() time.Time
	Logger     *slog.Logger
}

// Checker runs the checks. It is safe for concurrent use and meant to live
// as long as the Lambda container: it builds its MSAL client once, on first
// need.
type Checker struct {
	cfg Config
	// resource is Graph's resource identifier, derived from GraphBaseURL.
	resource string
	http     *http.Client
	clock    func() time.Time
	log      *slog.Logger

	mu  sync.Mutex
	app *confidential.Client
}

var _ upgrade.Validator = (*Checker)(nil)

// New checks cfg and returns a Checker. It does no I/O.
func New(cfg Config) (*Checker, error) {
	switch {
	case !strings.HasPrefix(cfg.AuthorityHost, "https://"):
		return nil, fmt.Errorf("validate: authority host %q is not https", cfg.AuthorityHost)
	case cfg.ClientID == "":
		return nil, errors.New("validate: empty client id")
	case cfg.Secret == nil:
		return nil, errors.New("validate: nil client secret source")
	case cfg.GraphBaseURL == "":
		return nil, errors.New("validate: empty Graph base URL")
	case len(cfg.RequiredRoles) == 0:
		// Without them any app token would pass: the permissions are the
		// proof of the tenant's admin consent.
		return nil, errors.New("validate: no required roles")
	case (cfg.Credentials == nil) != (cfg.Sealer == nil):
		return nil, errors.New("validate: Credentials and Sealer go together")
	}
	resource, err := cloud.GraphResource(cfg.GraphBaseURL)
	if err != nil {
		return nil, fmt.Errorf("validate: %w", err)
	}
	cfg.AuthorityHost = strings.TrimRight(cfg.AuthorityHost, "/")
	cfg.GraphBaseURL = strings.TrimRight(cfg.GraphBaseURL, "/")
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Checker{cfg: cfg, resource: resource, http: cfg.HTTPClient,
		clock: cfg.Clock, log: cfg.Logger}, nil
}

// Validate runs the application check and, when a credential is kept for
// the invitation, the delegated check.
func (c *Checker) Validate(ctx context.Context, t upgrade.TenantRef) (upgrade.Validation, error) {
	v := upgrade.Validation{TenantID: t.TenantID}
	if t.TenantID == "" {
		v.At = c.clock().UTC()
		v.Application = failed(upgrade.CheckFailure{Code: upgrade.FailureNoTenant, Reason: "No tenant has been authenticated for this customer yet."})
		return v, nil
	}
	v.Application = c.propagating(t, retrying(ctx, func() upgrade.CheckResult { return c.application(ctx, t.TenantID) }))
	if c.cfg.Credentials != nil && t.InvitationID != "" {
		d, err := c.delegatedOnce(ctx, t)
		if err != nil {
			return upgrade.Validation{}, err
		}
		v.Delegated = d
	}
	v.At = c.clock().UTC()
	return v, nil
}

// retrying runs check and, when it failed transiently with a short
// Retry-After, waits that long (honouring Microsoft's request) and runs it
// once more.
func retrying(ctx context.Context, check func() upgrade.CheckResult) upgrade.CheckResult {
	r := check()
	if r.Passed || r.Failure == nil || !r.Failure.Transient || r.Failure.RetryAfter > maxInlineRetry {
		return r
	}
	wait := max(r.Failure.RetryAfter, 100*time.Millisecond)
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait+time.Second {
		return r
	}
	select {
	case <-ctx.Done():
		return r
	case <-time.After(wait):
	}
	return check()
}

func failed(f upgrade.CheckFailure) upgrade.CheckResult {
	return upgrade.CheckResult{Failure: &f}
}

// client returns the container's MSAL confidential client, building it on
// first need (it needs the secret, which init does not fetch).
func (c *Checker) client(ctx context.Context) (*confidential.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.app != nil {
		return c.app, nil
	}
	secret, err := c.cfg.Secret.ClientSecret(ctx)
	if err != nil {
		return nil, fmt.Errorf("validate: client secret: %w", err)
	}
	cred, err := confidential.NewCredFromSecret(secret)
	if err != nil {
		return nil, fmt.Errorf("validate: credential: %w", err)
	}
	// One client for every tenant: the authority names "organizations" and
	// each call names its tenant with WithTenantID, so MSAL's cache keeps
	// tokens per tenant.
	app, err := confidential.New(c.cfg.AuthorityHost+"/organizations", c.cfg.ClientID, cred,
		confidential.WithInstanceDiscovery(false), confidential.WithHTTPClient(c.http))
	if err != nil {
		return nil, fmt.Errorf("validate: MSAL client: %w", err)
	}
	c.app = &app
	return c.app, nil
}

// rebuild drops the container's MSAL client and builds it again with the
// secret as read now.
func (c *Checker) rebuild(ctx context.Context) (*confidential.Client, error) {
	c.mu.Lock()
	c.app = nil
	c.mu.Unlock()
	return c.client(ctx)
}

// missing returns the required roles not in have.
func missing(required, have []string) []string {
	var out []string
	for _, r := range required {
		if !slices.Contains(have, r) {
			out = append(out, r)
		}
	}
	return out
}
