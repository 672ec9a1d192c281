package identity_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/ocpro/upgrade/infra/entra"
	"github.com/ocpro/upgrade/infra/testenv"
	"github.com/ocpro/upgrade/internal/identity"
	cred "github.com/ocpro/upgrade/internal/secret"
)

// The wizard's proof of consent survives a client secret rotated while
// the container is warm: AADSTS7000215 with the cached secret makes it
// read the credential again and ask once more.
func TestAppGrantAfterSecretRotation(t *testing.T) {
	t.Parallel()
	const arn = "arn:aws:secretsmanager:eu-west-1:000000000000:secret:ocpro/entra-Ab12Cd"
	em, base := newEmulator(t)
	sm := testenv.LocalSecrets(t, map[string]string{arn: secret})
	c, err := cred.NewCredential(sm.FunctionExtension(t), arn)
	if err != nil {
		t.Fatal(err)
	}
	id, err := identity.New(identity.Config{AuthorityHost: base, ClientID: clientID, Secret: c, RedirectURI: redirect, HTTPClient: em.Client(), GraphBaseURL: base})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := em.GrantAdminConsent(entra.ContosoTenantID, clientID); err != nil {
		t.Fatal(err)
	}
	if _, err := id.AppGrant(ctx, entra.ContosoTenantID); err != nil {
		t.Fatalf("before the rotation: %v", err)
	}
	const rotated = "the-rotated-secret"
	if err := em.RotateAppSecret(clientID, rotated); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.Manager.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String(rotated)}); err != nil {
		t.Fatal(err)
	}
	if g, err := id.AppGrant(ctx, entra.ContosoTenantID); err != nil || g.TenantID != entra.ContosoTenantID {
		t.Fatalf("after the rotation: %+v, %v", g, err)
	}
}

// The administrator's sign-in survives a client secret rotated while the
// container is warm: the code redemption meets AADSTS7000215 with the
// cached secret, reads the credential again and redeems the same code,
// which Entra has not spent on a client it could not authenticate.
func TestRedeemCodeAfterSecretRotation(t *testing.T) {
	t.Parallel()
	const arn = "arn:aws:secretsmanager:eu-west-1:000000000000:secret:ocpro/entra-Ef34Gh"
	em, base := newEmulator(t)
	sm := testenv.SecretsManager(t, map[string]string{arn: secret})
	c, err := cred.NewCredential(sm, arn)
	if err != nil {
		t.Fatal(err)
	}
	id, err := identity.New(identity.Config{AuthorityHost: base, ClientID: clientID, Secret: c, RedirectURI: redirect, HTTPClient: em.Client(), GraphBaseURL: base})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := em.GrantAdminConsent(entra.ContosoTenantID, clientID); err != nil {
		t.Fatal(err)
	}
	// The container reads the secret before the rotation.
	if _, err := c.ClientSecret(ctx); err != nil {
		t.Fatal(err)
	}
	const rotated = "the-rotated-secret"
	if err := em.RotateAppSecret(clientID, rotated); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String(rotated)}); err != nil {
		t.Fatal(err)
	}
	verifier := strings.Repeat("v", 43)
	sum := sha256.Sum256([]byte(verifier))
	u, err := id.AuthorizeURL(ctx, "st-rotation", base64.RawURLEncoding.EncodeToString(sum[:]))
	if err != nil {
		t.Fatal(err)
	}
	code, err := em.SignInForCode(ctx, u, entra.ContosoAdmin)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := id.RedeemCode(ctx, code, verifier)
	if err != nil {
		t.Fatalf("redeem after the rotation: %v", err)
	}
	if tok.TenantID != entra.ContosoTenantID || tok.RefreshToken == "" {
		t.Errorf("tokens = tenant %q, refresh token kept %v", tok.TenantID, tok.RefreshToken != "")
	}
	if s, err := c.ClientSecret(ctx); err != nil || s != rotated {
		t.Errorf("the credential holds %q, %v; want the rotated secret", s, err)
	}
}
