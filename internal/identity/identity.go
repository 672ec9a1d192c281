// Package identity is the Microsoft side of the consent wizard: Entra ID
// device code and authorization code sign-in, tenant-wide admin consent,
// ID token validation, and the application token that proves a tenant's
// consent.
//
// Delegated grants (device code, authorization code with PKCE) go through
// a small OAuth 2.0 client of its own: MSAL Go's device code call blocks
// until the user finishes, which cannot span Lambda invocations, and MSAL
// keeps refresh tokens inside its cache where they cannot be sealed. The
// application token that proves consent comes from MSAL's confidential
// client (client credentials), fresh for every proof.
package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/golang-jwt/jwt/v5"

	"github.com/ocpro/upgrade/internal/cloud"
	"github.com/ocpro/upgrade/internal/graph"
	"github.com/ocpro/upgrade/internal/secret"
	"github.com/ocpro/upgrade/internal/wizard"
)

// maxBody bounds what is read from Microsoft.
const maxBody = 1 << 20

// Secret yields the application's client secret (secret.Credential in
// the functions).
type Secret interface {
	ClientSecret(ctx context.Context) (string, error)
}

// Config configures an Entra.
type Config struct {
	// AuthorityHost is https://login.microsoftonline.com, or the emulator.
	AuthorityHost string
	ClientID      string
	Secret        Secret
	// RedirectURI is PUBLIC_BASE_URL + /consent/callback, registered exactly.
	RedirectURI string
	// GraphBaseURL is where Microsoft Graph is reached; scopes name the
	// Graph it is (cloud.GraphResource). Empty means the global cloud's.
	GraphBaseURL string
	// HTTPClient is used for every call; it must have a timeout.
	HTTPClient *http.Client
	// Now is the clock for ID token validation.
	Now func() time.Time
}

// Entra implements wizard.Identity.
type Entra struct {
	c    Config
	host string
	// graph is Graph's resource identifier, which every scope names.
	graph string

	mu   sync.Mutex
	meta *metadata
	keys map[string]any
}

var _ wizard.Identity = (*Entra)(nil)

// New returns an Entra. It does no network I/O; discovery and the secret
// are fetched on first need and kept for the container's life.
func New(c Config) (*Entra, error) {
	u, err := url.Parse(c.AuthorityHost)
	switch {
	case err != nil || u.Scheme != "https" || u.Host == "":
		return nil, fmt.Errorf("identity: authority host %q is not an https URL", c.AuthorityHost)
	case c.ClientID == "":
		return nil, errors.New("identity: empty client id")
	case c.Secret == nil:
		return nil, errors.New("identity: nil Secret")
	case c.HTTPClient == nil:
		return nil, errors.New("identity: nil HTTP client")
	case c.RedirectURI == "":
		return nil, errors.New("identity: empty redirect URI")
	}
	graphRes := cloud.GlobalGraph
	if c.GraphBaseURL == "" {
		c.GraphBaseURL = cloud.GlobalGraph
	} else if graphRes, err = cloud.GraphResource(c.GraphBaseURL); err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	c.GraphBaseURL = strings.TrimRight(c.GraphBaseURL, "/")
	if c.Now == nil {
		c.Now = time.Now
	}
	return &Entra{c: c, host: strings.TrimRight(c.AuthorityHost, "/"), graph: graphRes, keys: map[string]any{}}, nil
}

// metadata is the part of the organizations authority's OpenID
// configuration the wizard needs.
type metadata struct {
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	DeviceEndpoint        string `json:"device_authorization_endpoint"`
	JWKSURI               string `json:"jwks_uri"`
}

// discover reads the organizations authority's configuration once; a
// failure is not cached.
func (e *Entra) discover(ctx context.Context) (metadata, error) {
	e.mu.Lock()
	m := e.meta
	e.mu.Unlock()
	if m != nil {
		return *m, nil
	}
	var got metadata
	if err := e.getJSON(ctx, e.host+"/organizations/v2.0/.well-known/openid-configuration", &got); err != nil {
		return metadata{}, fmt.Errorf("identity: discovery: %w", err)
	}
	if got.TokenEndpoint == "" || got.AuthorizationEndpoint == "" || got.JWKSURI == "" {
		return metadata{}, errors.New("identity: discovery lacks endpoints")
	}
	if got.DeviceEndpoint == "" {
		// Microsoft derives it this way too (MSAL does the same).
		got.DeviceEndpoint = strings.Replace(got.TokenEndpoint, "/token", "/devicecode", 1)
	}
	e.mu.Lock()
	e.meta = &got
	e.mu.Unlock()
	return got, nil
}

func (e *Entra) getJSON(ctx context.Context, u string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := e.c.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", req.URL.Path, resp.StatusCode)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(out)
}

// oauthError is Microsoft's error body.
type oauthError struct {
	Error      string `json:"error"`
	ErrorCodes []int  `json:"error_codes"`
}

// tokenResponse is the delegated token response.
type tokenResponse struct {
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
}

// post sends a form to the token or devicecode endpoint. A Microsoft error
// comes back as a *wizard.SignInError; nothing of the form (codes,
// secrets) ever reaches an error text.
func (e *Entra) post(ctx context.Context, endpoint string, form url.Values, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("identity: request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := e.c.HTTPClient.Do(req)
	if err != nil {
		return &wizard.SignInError{Reason: wizard.ReasonUnavailable}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return &wizard.SignInError{Reason: wizard.ReasonUnavailable}
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return &wizard.SignInError{Reason: wizard.ReasonUnavailable}
	}
	if resp.StatusCode != http.StatusOK {
		var oe oauthError
		_ = json.Unmarshal(body, &oe) // An unreadable error body is still an error.
		return classify(oe)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("identity: decode response: %w", err)
	}
	return nil
}

// classify maps Microsoft's documented answers to the wizard's reasons.
func classify(oe oauthError) *wizard.SignInError {
	code := ""
	if len(oe.ErrorCodes) > 0 {
		code = strconv.Itoa(oe.ErrorCodes[0])
	}
	r := wizard.ReasonOther
	switch {
	case oe.Error == "authorization_pending":
		r = wizard.ReasonPending
	case oe.Error == "slow_down":
		r = wizard.ReasonSlowDown
	case oe.Error == "authorization_declined" || code == "65004":
		r = wizard.ReasonDeclined
	case oe.Error == "expired_token" || oe.Error == "bad_verification_code" || code == "70008" || code == "54005":
		r = wizard.ReasonExpired
	case code == "53003":
		r = wizard.ReasonBlocked
	case code == "65001" || code == "90094" || code == "90008":
		r = wizard.ReasonNeedsAdmin
	case code == "50020" || code == "50059":
		r = wizard.ReasonWrongAccount
	}
	return &wizard.SignInError{Reason: r, Code: code}
}

// delegatedScopes are asked for at sign-in: an ID token, a refresh token
// and the least Graph permission.
func (e *Entra) delegatedScopes() string {
	return "openid profile offline_access " + e.graph + "/User.Read"
}

// StartDeviceCode implements wizard.Identity.
func (e *Entra) StartDeviceCode(ctx context.Context) (wizard.DeviceCode, error) {
	m, err := e.discover(ctx)
	if err != nil {
		return wizard.DeviceCode{}, err
	}
	var r struct {
		DeviceCode      string `json:"device_code"`
		UserCode        string `json:"user_code"`
		VerificationURI string `json:"verification_uri"`
		ExpiresIn       int    `json:"expires_in"`
		Interval        int    `json:"interval"`
	}
	if err := e.post(ctx, m.DeviceEndpoint, url.Values{"client_id": {e.c.ClientID}, "scope": {e.delegatedScopes()}}, &r); err != nil {
		return wizard.DeviceCode{}, err
	}
	if r.DeviceCode == "" || r.UserCode == "" || r.ExpiresIn <= 0 || !strings.HasPrefix(r.VerificationURI, "https://") {
		return wizard.DeviceCode{}, errors.New("identity: incomplete device authorization response")
	}
	return wizard.DeviceCode{DeviceCode: r.DeviceCode, UserCode: r.UserCode, VerificationURI: r.VerificationURI,
		Interval: time.Duration(r.Interval) * time.Second, ExpiresIn: time.Duration(r.ExpiresIn) * time.Second}, nil
}

// PollDeviceCode implements wizard.Identity with the RFC 8628 grant type,
// as a public client: the registration allows public client flows (which
// the device code flow needs), and Entra then refuses a client secret on
// the poll (AADSTS700025). Its refresh token is public as well.
func (e *Entra) PollDeviceCode(ctx context.Context, deviceCode string) (wizard.Tokens, error) {
	t, err := e.redeem(ctx, url.Values{
		"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {deviceCode},
	}, false)
	t.Public = true
	return t, err
}

// RedeemCode implements wizard.Identity as the confidential client: the
// redirect URI is a web one, whose codes only the secret redeems.
func (e *Entra) RedeemCode(ctx context.Context, code, verifier string) (wizard.Tokens, error) {
	return e.redeem(ctx, url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e.c.RedirectURI},
		"code_verifier": {verifier}, "scope": {e.delegatedScopes()},
	}, true)
}

// redeem posts a delegated grant and validates its ID token; confidential
// adds the client secret.
func (e *Entra) redeem(ctx context.Context, form url.Values, confidential bool) (wizard.Tokens, error) {
	m, err := e.discover(ctx)
	if err != nil {
		return wizard.Tokens{}, err
	}
	form.Set("client_id", e.c.ClientID)
	var r tokenResponse
	err = e.postAs(ctx, m.TokenEndpoint, form, confidential, &r)
	if confidential && secret.RefreshIfStale(ctx, e.c.Secret, err) {
		// The secret was rotated since this container read it. Entra
		// authenticates the client before it looks at the grant, so the
		// code is still unredeemed: try once more with the new secret.
		err = e.postAs(ctx, m.TokenEndpoint, form, confidential, &r)
	}
	if err != nil {
		return wizard.Tokens{}, err
	}
	claims, err := e.validateIDToken(ctx, m, r.IDToken)
	if errors.Is(err, errKeysUnavailable) {
		return wizard.Tokens{}, &wizard.SignInError{Reason: wizard.ReasonUnavailable}
	}
	if err != nil {
		// Nothing of a refused token is trusted, and nothing of it is
		// kept: the sign-in simply did not happen.
		return wizard.Tokens{}, &wizard.SignInError{Reason: wizard.ReasonTokenRefused}
	}
	upn := claims.PreferredUsername
	return wizard.Tokens{TenantID: claims.TenantID, ObjectID: claims.ObjectID, UPN: upn, RefreshToken: r.RefreshToken,
		DirectoryRoles: claims.Roles}, nil
}

// postAs posts form to the token endpoint, with the client secret as it
// reads now when confidential.
func (e *Entra) postAs(ctx context.Context, endpoint string, form url.Values, confidential bool, out any) error {
	if confidential {
		s, err := e.c.Secret.ClientSecret(ctx)
		if err != nil {
			return fmt.Errorf("identity: client secret: %w", err)
		}
		form.Set("client_secret", s)
	}
	return e.post(ctx, endpoint, form, out)
}

// errKeysUnavailable marks a failure to read the authority's signing
// keys, which says nothing about the token.
var errKeysUnavailable = errors.New("identity: signing keys unavailable")

// idClaims are the ID token claims the wizard uses.
type idClaims struct {
	TenantID          string `json:"tid"`
	ObjectID          string `json:"oid"`
	PreferredUsername string `json:"preferred_username"`
	// Roles is wids: the account's directory role template ids, which
	// Entra puts in tokens of apps whose registration asks for them
	// (groupMembershipClaims DirectoryRole or All).
	Roles []string `json:"wids"`
	jwt.RegisteredClaims
}

// Compiled on first use rather than at package init, which every cold
// start would pay.
var guid = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
})

// validateIDToken checks the signature against the authority's keys, the
// audience (our client id), the expiry, and that the issuer is the
// authority's issuer for the token's own tenant, as Microsoft advises for
// multi-tenant apps.
func (e *Entra) validateIDToken(ctx context.Context, m metadata, raw string) (idClaims, error) {
	if raw == "" {
		return idClaims{}, errors.New("identity: token response without id_token")
	}
	var c idClaims
	_, err := jwt.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		return e.key(ctx, m, kid)
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithAudience(e.c.ClientID), jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(e.c.Now), jwt.WithLeeway(2*time.Minute))
	if err != nil {
		return idClaims{}, fmt.Errorf("identity: invalid ID token: %w", err)
	}
	if !guid().MatchString(c.TenantID) || c.ObjectID == "" || c.Issuer != e.host+"/"+c.TenantID+"/v2.0" {
		return idClaims{}, errors.New("identity: ID token issuer, tenant or object id is not acceptable")
	}
	return c, nil
}

// key returns the signing key kid, fetching the key set again once when
// it is unknown (keys roll over).
func (e *Entra) key(ctx context.Context, m metadata, kid string) (any, error) {
	e.mu.Lock()
	k, ok := e.keys[kid]
	e.mu.Unlock()
	if ok {
		return k, nil
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := e.getJSON(ctx, m.JWKSURI, &set); err != nil {
		return nil, fmt.Errorf("%w: %w", errKeysUnavailable, err)
	}
	keys := map[string]any{}
	for _, raw := range set.Keys {
		var h struct {
			Kid string `json:"kid"`
		}
		if json.Unmarshal(raw, &h) != nil || h.Kid == "" {
			continue
		}
		pub, err := parseRSAJWK(raw)
		if err != nil {
			continue
		}
		keys[h.Kid] = pub
	}
	e.mu.Lock()
	e.keys = keys
	e.mu.Unlock()
	if k, ok := keys[kid]; ok {
		return k, nil
	}
	return nil, errors.New("identity: unknown signing key")
}

// AuthorizeURL implements wizard.Identity: the authorization code request
// with state and an S256 challenge.
func (e *Entra) AuthorizeURL(ctx context.Context, state, challenge string) (string, error) {
	m, err := e.discover(ctx)
	if err != nil {
		return "", err
	}
	q := url.Values{
		"client_id": {e.c.ClientID}, "response_type": {"code"}, "redirect_uri": {e.c.RedirectURI},
		"response_mode": {"query"}, "scope": {e.delegatedScopes()}, "state": {state},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "prompt": {"select_account"},
	}
	return m.AuthorizationEndpoint + "?" + q.Encode(), nil
}

// AdminConsentURL implements wizard.Identity with the v2.0 admin consent
// endpoint of the tenant.
func (e *Entra) AdminConsentURL(tenantID, state string) string {
	q := url.Values{"client_id": {e.c.ClientID}, "redirect_uri": {e.c.RedirectURI}, "state": {state}, "scope": {e.graph + "/.default"}}
	return e.host + "/" + url.PathEscape(tenantID) + "/v2.0/adminconsent?" + q.Encode()
}

// notConsented are the AADSTS numbers of a client credentials request in a
// tenant that has not consented: 700016 (app not found in the directory),
// 7000229 (no service principal), 65001 (consent required).
// Compiled on first use rather than at package init, which every cold
// start would pay.
var notConsented = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`AADSTS(700016|7000229|65001)\b`) })

// AppGrant implements wizard.Identity with MSAL's client credentials for
// the tenant. Only a token whose tid is the tenant and whose roles hold
// permissions counts; the caller compares the roles with what it needs.
func (e *Entra) AppGrant(ctx context.Context, tenantID string) (wizard.Grant, error) {
	if !guid().MatchString(tenantID) {
		return wizard.Grant{}, wizard.ErrNotConsented
	}
	app, err := e.confidential(ctx)
	if err != nil {
		return wizard.Grant{}, err
	}
	res, err := app.AcquireTokenByCredential(ctx, []string{e.graph + "/.default"}, confidential.WithTenantID(tenantID))
	if secret.RefreshIfStale(ctx, e.c.Secret, err) {
		// The secret was rotated since this container read it: try once
		// more with the new one.
		if app, err = e.confidential(ctx); err == nil {
			res, err = app.AcquireTokenByCredential(ctx, []string{e.graph + "/.default"}, confidential.WithTenantID(tenantID))
		}
	}
	if err != nil {
		if notConsented().MatchString(err.Error()) {
			return wizard.Grant{}, wizard.ErrNotConsented
		}
		return wizard.Grant{}, fmt.Errorf("identity: app token: %w", err)
	}
	// The token came straight from the authority over TLS for this
	// request; its signature is Graph's business (package graph), its
	// claims are ours, and Graph's answer proves the tenant.
	c, err := graph.ReadToken(res.AccessToken, tenantID, e.host, e.graph, e.c.Now())
	if err != nil {
		return wizard.Grant{}, fmt.Errorf("identity: app token: %w", err)
	}
	if len(c.Roles) == 0 {
		return wizard.Grant{}, wizard.ErrNotConsented
	}
	org, err := e.organization(ctx, res.AccessToken, tenantID)
	if err != nil {
		return wizard.Grant{}, err
	}
	return wizard.Grant{TenantID: c.TenantID, Roles: c.Roles, Organization: org}, nil
}

// organization asks Graph, with the application token, which organization
// the token opens; it must be the token's tenant. Graph's 403 means the
// tenant did not grant what reading it takes: no consent to count.
func (e *Entra) organization(ctx context.Context, accessToken, tenantID string) (wizard.Organization, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.c.GraphBaseURL+"/v1.0/organization", nil)
	if err != nil {
		return wizard.Organization{}, fmt.Errorf("identity: organization request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/json")
	resp, err := e.c.HTTPClient.Do(req)
	if err != nil {
		return wizard.Organization{}, &wizard.SignInError{Reason: wizard.ReasonUnavailable}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	switch {
	case err != nil, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		return wizard.Organization{}, &wizard.SignInError{Reason: wizard.ReasonUnavailable}
	case resp.StatusCode == http.StatusForbidden:
		return wizard.Organization{}, wizard.ErrNotConsented
	case resp.StatusCode != http.StatusOK:
		return wizard.Organization{}, fmt.Errorf("identity: Graph organization: status %d", resp.StatusCode)
	}
	o, err := graph.ParseOrganization(body, tenantID)
	if err != nil {
		return wizard.Organization{}, fmt.Errorf("identity: %w", err)
	}
	out := wizard.Organization{ID: strings.ToLower(o.ID), DisplayName: o.DisplayName}
	for _, d := range o.VerifiedDomains {
		out.VerifiedDomains = append(out.VerifiedDomains, d.Name)
	}
	return out, nil
}

// confidential builds an MSAL client for one proof. The proof must not
// come from MSAL's token cache: a token cached before the tenant consented
// (or before it revoked consent) would prove the wrong thing, and MSAL Go
// has no way to skip its cache for client credentials. The secret is still
// fetched once per container.
func (e *Entra) confidential(ctx context.Context) (*confidential.Client, error) {
	secret, err := e.c.Secret.ClientSecret(ctx)
	if err != nil {
		return nil, fmt.Errorf("identity: client secret: %w", err)
	}
	cred, err := confidential.NewCredFromSecret(secret)
	if err != nil {
		return nil, fmt.Errorf("identity: credential: %w", err)
	}
	app, err := confidential.New(e.host+"/organizations", e.c.ClientID, cred,
		confidential.WithHTTPClient(e.c.HTTPClient), confidential.WithInstanceDiscovery(false))
	if err != nil {
		return nil, fmt.Errorf("identity: MSAL client: %w", err)
	}
	return &app, nil
}
