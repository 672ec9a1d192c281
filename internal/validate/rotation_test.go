package validate_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/ocpro/upgrade/infra/entra"
	"github.com/ocpro/upgrade/infra/testenv"
	cred "github.com/ocpro/upgrade/internal/secret"
	"github.com/ocpro/upgrade/internal/upgrade"
	"github.com/ocpro/upgrade/internal/validate"
)

// A client secret rotated in Entra and in Secrets Manager while a
// container is warm: the first check after the rotation meets
// AADSTS7000215 with the cached secret, reads the credential again and
// passes, through MSAL against the emulator.
func TestRotatedClientSecret(t *testing.T) {
	t.Parallel()
	const arn = "arn:aws:secretsmanager:eu-west-1:000000000000:secret:ocpro/entra-Ab12Cd"
	f := newFixture(t)
	must(t, f.em.GrantAdminConsent(entra.ContosoTenantID, clientID))
	must(t, f.em.GrantAdminConsent(entra.FabrikamTenantID, clientID))
	sm := testenv.LocalSecrets(t, map[string]string{arn: secret})
	c, err := cred.NewCredential(sm.FunctionExtension(t), arn)
	if err != nil {
		t.Fatal(err)
	}
	checker, err := validate.New(validate.Config{AuthorityHost: f.base, ClientID: clientID, Secret: c, GraphBaseURL: f.base,
		HTTPClient: f.client, RequiredRoles: []string{"Organization.Read.All"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if v, err := checker.Validate(ctx, contoso); err != nil || !v.Passed() {
		t.Fatalf("before the rotation: %+v, %v", v.Application.Failure, err)
	}

	const rotated = "the-rotated-secret"
	must(t, f.em.RotateAppSecret(clientID, rotated))
	if _, err := sm.Manager.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String(rotated)}); err != nil {
		t.Fatal(err)
	}
	// Another tenant, so that MSAL's token cache cannot answer for it.
	fabrikam := upgrade.TenantRef{OperatorID: "op", CustomerID: "cust2", TenantID: entra.FabrikamTenantID, InvitationID: "inv2"}
	v, err := checker.Validate(ctx, fabrikam)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Passed() {
		t.Fatalf("after the rotation: %+v", v.Application.Failure)
	}
	if s, err := c.ClientSecret(ctx); err != nil || s != rotated {
		t.Errorf("the credential holds %q, %v; want the rotated secret", s, err)
	}
}

// redirectURI is the wizard's callback in the operator's registration.
const redirectURI = "http://127.0.0.1:3000/consent/callback"

// A kept refresh token of the confidential client (the browser sign-in)
// is redeemed with the client secret. When the secret was rotated while
// the container was warm and the application check answered from MSAL's
// cache, the refresh meets AADSTS7000215, reads the credential again and
// redeems the same refresh token.
func TestRotatedClientSecretOnKeptCredential(t *testing.T) {
	t.Parallel()
	const arn = "arn:aws:secretsmanager:eu-west-1:000000000000:secret:ocpro/entra-Ij56Kl"
	f := newFixture(t)
	must(t, f.em.GrantAdminConsent(entra.ContosoTenantID, clientID))
	ctx := context.Background()
	rt := f.confidentialRefreshToken(t)
	sealed, err := plainSealer{}.Seal(ctx, []byte(rt), upgrade.CredentialContext(contoso.TenantID, contoso.InvitationID))
	must(t, err)
	creds := &memCredentials{m: map[string][]byte{contoso.InvitationID: sealed}}
	sm := testenv.LocalSecrets(t, map[string]string{arn: secret})
	c, err := cred.NewCredential(sm.FunctionExtension(t), arn)
	must(t, err)
	checker, err := validate.New(validate.Config{AuthorityHost: f.base, ClientID: clientID, Secret: c, GraphBaseURL: f.base,
		HTTPClient: f.client, RequiredRoles: []string{"Organization.Read.All"}, Credentials: creds, Sealer: plainSealer{}})
	must(t, err)
	if v, err := checker.Validate(ctx, contoso); err != nil || !v.Passed() {
		t.Fatalf("before the rotation: %+v, %v", v, err)
	}

	const rotated = "the-rotated-secret"
	must(t, f.em.RotateAppSecret(clientID, rotated))
	if _, err := sm.Manager.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String(rotated)}); err != nil {
		t.Fatal(err)
	}
	v, err := checker.Validate(ctx, contoso)
	if err != nil {
		t.Fatal(err)
	}
	if d := v.Delegated; d == nil || !d.Passed {
		t.Fatalf("delegated check after the rotation: %+v", d)
	}
	if s, err := c.ClientSecret(ctx); err != nil || s != rotated {
		t.Errorf("the credential holds %q, %v; want the rotated secret", s, err)
	}
}

// confidentialRefreshToken signs the Contoso admin in with the
// authorization code flow and PKCE and redeems the code with the client
// secret, as the wizard's browser sign-in does.
func (f *fixture) confidentialRefreshToken(t *testing.T) string {
	t.Helper()
	verifier := strings.Repeat("w", 43)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"client_id": {clientID}, "response_type": {"code"}, "redirect_uri": {redirectURI},
		"scope": {"openid profile offline_access https://graph.microsoft.com/User.Read"}, "state": {"st"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	code, err := f.em.SignInForCode(t.Context(), f.base+"/organizations/oauth2/v2.0/authorize?"+q.Encode(), entra.ContosoAdmin)
	must(t, err)
	resp, err := f.em.Client().PostForm(f.base+"/organizations/oauth2/v2.0/token", url.Values{"grant_type": {"authorization_code"},
		"client_id": {clientID}, "client_secret": {secret}, "code": {code}, "redirect_uri": {redirectURI}, "code_verifier": {verifier},
		"scope": {"openid profile offline_access https://graph.microsoft.com/User.Read"}})
	must(t, err)
	defer resp.Body.Close()
	var tok struct {
		RefreshToken string `json:"refresh_token"`
	}
	must(t, json.NewDecoder(resp.Body).Decode(&tok))
	if tok.RefreshToken == "" {
		t.Fatalf("no refresh token (status %d)", resp.StatusCode)
	}
	return tok.RefreshToken
}
