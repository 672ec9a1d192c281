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
	w := newRotationWorld(t, arn)
	id := w.id
	ctx := context.Background()
	if _, err := id.AppGrant(ctx, entra.ContosoTenantID); err != nil {
		t.Fatalf("before the rotation: %v", err)
	}
	const rotated = "the-rotated-secret"
	w.rotate(t, rotated)
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
	w := newRotationWorld(t, arn)
	em, c, id := w.em, w.cred, w.id
	ctx := context.Background()
	// The container reads the secret before the rotation.
	if _, err := c.ClientSecret(ctx); err != nil {
		t.Fatal(err)
	}
	const rotated = "the-rotated-secret"
	w.rotate(t, rotated)
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

// rotationWorld is the operator's app in the emulator, consented in
// Contoso, with its client secret in Secrets Manager read through the
// Lambda extension stand-in, as a function reads it.
type rotationWorld struct {
	em   *entra.Emulator
	base string
	arn  string
	sm   *testenv.Secrets
	cred *cred.Credential
	id   *identity.Entra
}

func newRotationWorld(t *testing.T, arn string) *rotationWorld {
	t.Helper()
	w := &rotationWorld{arn: arn}
	w.em, w.base = newEmulator(t)
	w.sm = testenv.LocalSecrets(t, map[string]string{arn: secret})
	var err error
	if w.cred, err = cred.NewCredential(w.sm.FunctionExtension(t), arn); err != nil {
		t.Fatal(err)
	}
	if w.id, err = identity.New(identity.Config{AuthorityHost: w.base, ClientID: clientID, Secret: w.cred, RedirectURI: redirect,
		HTTPClient: w.em.Client(), GraphBaseURL: w.base}); err != nil {
		t.Fatal(err)
	}
	if err := w.em.GrantAdminConsent(entra.ContosoTenantID, clientID); err != nil {
		t.Fatal(err)
	}
	return w
}

// rotate puts a new client secret in Entra and in Secrets Manager, as a
// rotation does, behind the back of a warm container.
func (w *rotationWorld) rotate(t *testing.T, secret string) {
	t.Helper()
	if err := w.em.RotateAppSecret(clientID, secret); err != nil {
		t.Fatal(err)
	}
	if _, err := w.sm.Manager.PutSecretValue(t.Context(), &secretsmanager.PutSecretValueInput{SecretId: aws.String(w.arn), SecretString: aws.String(secret)}); err != nil {
		t.Fatal(err)
	}
}
