package identity_test

import (
	"context"
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
