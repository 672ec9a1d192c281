package validate_test

import (
	"context"
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
