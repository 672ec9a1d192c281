package validate

import (
	"log/slog"

	"github.com/ocpro/upgrade/internal/config"
	"github.com/ocpro/upgrade/internal/seal"
	"github.com/ocpro/upgrade/internal/secret"
)

// NewFromConfig builds the Checker a function runs from its configuration:
// the application credential read from Secrets Manager and kept delegated
// tokens opened with the KMS key, both on first need. It also returns the
// credential, whose expiry the M365 Settings page shows.
func NewFromConfig(e config.Entra, graphBaseURL string, sm secret.GetSecretValueAPI, k seal.KMSAPI, kept Credentials, log *slog.Logger) (*Checker, *secret.Credential, error) {
	cred, err := secret.NewCredential(sm, e.CredentialSecretARN)
	if err != nil {
		return nil, nil, err
	}
	sealer, err := seal.New(k, e.TokenKeyID)
	if err != nil {
		return nil, nil, err
	}
	c, err := New(Config{AuthorityHost: e.AuthorityHost, ClientID: e.ClientID, Secret: cred, GraphBaseURL: graphBaseURL,
		RequiredRoles: e.RequiredRoles, Credentials: kept, Sealer: sealer, Logger: log})
	if err != nil {
		return nil, nil, err
	}
	return c, cred, nil
}
