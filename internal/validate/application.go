package validate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"

	"github.com/ocpro/upgrade/internal/graph"
	"github.com/ocpro/upgrade/internal/secret"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// maxGraphBody bounds what is read of a Graph or token endpoint answer.
const maxGraphBody = 1 << 20

// graphProof is a Graph answer with status 200 to a request that carried
// a token. Only graphGet makes one, and a passing CheckResult is only ever
// built from one: that is what makes a success without a used token
// impossible.
type graphProof struct {
	path string
	body []byte
}

// graphGet calls Graph with the access token; it returns a proof on 200
// and the classified failure otherwise.
func (c *Checker) graphGet(ctx context.Context, path, accessToken string) (graphProof, *upgrade.CheckFailure) {
	if accessToken == "" {
		return graphProof{}, &upgrade.CheckFailure{Code: upgrade.FailureOther, Reason: "No token was obtained, so Graph was not called."}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.cfg.GraphBaseURL+path, nil)
	if err != nil {
		return graphProof{}, &upgrade.CheckFailure{Code: upgrade.FailureOther, Reason: "The Graph address is not valid."}
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		f := fromTransport(err)
		return graphProof{}, &f
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxGraphBody))
	if err != nil {
		f := fromTransport(err)
		return graphProof{}, &f
	}
	if resp.StatusCode != http.StatusOK {
		f := fromGraph(resp.StatusCode, resp.Header, body)
		return graphProof{}, &f
	}
	return graphProof{path: path, body: body}, nil
}

// application runs the application check for one tenant.
func (c *Checker) application(ctx context.Context, tenantID string) upgrade.CheckResult {
	app, err := c.client(ctx)
	if err != nil {
		// Without the secret nothing can be checked; that is the
		// operator's configuration, reported as such.
		c.log.ErrorContext(ctx, "application check cannot start", "error", err)
		return failed(upgrade.CheckFailure{Code: upgrade.FailureSecretInvalid, Transient: true,
			Reason: "The operator application's credential could not be read; check Secrets Manager."})
	}
	res, err := app.AcquireTokenByCredential(ctx, []string{c.resource + "/.default"}, confidential.WithTenantID(tenantID))
	if secret.RefreshIfStale(ctx, c.cfg.Secret, err) {
		// The secret was rotated since this container read it: build the
		// client with the new one and try once more.
		if app, err = c.rebuild(ctx); err == nil {
			res, err = app.AcquireTokenByCredential(ctx, []string{c.resource + "/.default"}, confidential.WithTenantID(tenantID))
		}
	}
	if err != nil {
		return failed(c.msalFailure(ctx, err))
	}
	// The token came from the authority over TLS for this request; its
	// signature is for Graph to check. Its claims say what Microsoft
	// granted, and Graph's answer below proves the tenant.
	claims, err := graph.ReadToken(res.AccessToken, tenantID, c.cfg.AuthorityHost, c.resource, c.clock())
	if err != nil {
		c.log.WarnContext(ctx, "app token refused", "tenantId", tenantID, "error", err)
		c.forgetTokens()
		return failed(upgrade.CheckFailure{Code: upgrade.FailureWrongTenant,
			Reason: "The token Microsoft issued was not for the customer's tenant and Microsoft Graph (tenant, issuer, audience or lifetime)."})
	}
	if m := missing(c.cfg.RequiredRoles, claims.Roles); len(m) > 0 {
		c.forgetTokens()
		return failed(upgrade.CheckFailure{Code: upgrade.FailureMissingPermissions, Missing: m,
			Reason: "The tenant has not granted the application these permissions: " + strings.Join(m, ", ") +
				". Consent grants what the application's registration in Entra asks for: check that its API permissions list them" +
				" (Microsoft Graph, Application), then ask the customer's administrator to consent again (Re-initiate Authentication Flow)."})
	}
	proof, f := c.graphGet(ctx, "/v1.0/organization", res.AccessToken)
	if f != nil {
		return failed(*f)
	}
	return applicationPassed(proof, tenantID, claims.Roles)
}

// applicationPassed builds the passing result from Graph's organization
// answer, which must name the tenant.
func applicationPassed(p graphProof, tenantID string, roles []string) upgrade.CheckResult {
	org, err := graph.ParseOrganization(p.body, tenantID)
	if errors.Is(err, graph.ErrOtherOrganization) {
		return failed(upgrade.CheckFailure{Code: upgrade.FailureWrongTenant, Reason: "Microsoft Graph answered for another organization than the customer's tenant."})
	}
	if err != nil {
		return failed(upgrade.CheckFailure{Code: upgrade.FailureGraphRefused, Reason: "Microsoft Graph answered the organization request with something unexpected."})
	}
	return upgrade.CheckResult{Passed: true, Permissions: slices.Sorted(slices.Values(roles)), TenantDomain: org.DefaultDomain()}
}

// msalFailure classifies an error of MSAL: Microsoft's answer when there
// was one, a transport failure otherwise.
func (c *Checker) msalFailure(ctx context.Context, err error) upgrade.CheckFailure {
	var ce msalerrors.CallErr
	if errors.As(err, &ce) && ce.Resp != nil {
		// MSAL puts the answer's body after the first line of its message.
		_, body, _ := strings.Cut(ce.Err.Error(), "\n")
		return fromIdentity(ce.Resp.StatusCode, ce.Resp.Header, []byte(body))
	}
	if ctx.Err() != nil || isTransport(err) {
		return fromTransport(err)
	}
	// MSAL also fails before any request (bad authority, discovery); the
	// detail goes to the log, never to the operator.
	c.log.WarnContext(ctx, "MSAL failed without an answer from Microsoft", "error", err)
	return upgrade.CheckFailure{Code: upgrade.FailureMicrosoftUnavailable, Transient: true,
		Reason: fmt.Sprintf("The Microsoft identity platform could not be used (%s); try again later.", "no answer")}
}

func isTransport(err error) bool {
	var ue interface{ Timeout() bool }
	return errors.As(err, &ue) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF)
}
