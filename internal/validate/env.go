package validate

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/ocpro/upgrade/internal/seal"
	"github.com/ocpro/upgrade/internal/secret"
)

// Env is the validation's configuration as template.yaml gives it to the
// functions that validate tenants.
type Env struct {
	AuthorityHost       string // ENTRA_AUTHORITY_HOST
	ClientID            string // ENTRA_CLIENT_ID
	CredentialSecretARN string // ENTRA_CREDENTIAL_SECRET_ARN
	GraphBaseURL        string // GRAPH_BASE_URL
	RequiredRoles       []string
	TokenKeyID          string // TOKEN_KMS_KEY_ID
}

// ReadEnv reads and checks Env; ENTRA_REQUIRED_ROLES is optional (comma
// separated, DefaultRequiredRoles when empty).
func ReadEnv(getenv func(string) string) (Env, error) {
	e := Env{AuthorityHost: getenv("ENTRA_AUTHORITY_HOST"), ClientID: getenv("ENTRA_CLIENT_ID"),
		CredentialSecretARN: getenv("ENTRA_CREDENTIAL_SECRET_ARN"), GraphBaseURL: getenv("GRAPH_BASE_URL"),
		TokenKeyID: getenv("TOKEN_KMS_KEY_ID")}
	for name, v := range map[string]string{"ENTRA_AUTHORITY_HOST": e.AuthorityHost, "ENTRA_CLIENT_ID": e.ClientID,
		"ENTRA_CREDENTIAL_SECRET_ARN": e.CredentialSecretARN, "GRAPH_BASE_URL": e.GraphBaseURL, "TOKEN_KMS_KEY_ID": e.TokenKeyID} {
		if v == "" {
			return Env{}, fmt.Errorf("%s is not set", name)
		}
	}
	for _, r := range strings.Split(getenv("ENTRA_REQUIRED_ROLES"), ",") {
		if r = strings.TrimSpace(r); r != "" {
			e.RequiredRoles = append(e.RequiredRoles, r)
		}
	}
	return e, nil
}

// NewFromEnv builds the Checker a function runs from its Env: the
// application credential read from Secrets Manager and kept delegated
// tokens opened with the KMS key, both on first need. It also returns the
// credential, whose expiry the M365 Settings page shows.
func NewFromEnv(e Env, sm secret.GetSecretValueAPI, k seal.KMSAPI, kept Credentials, log *slog.Logger) (*Checker, *secret.Credential, error) {
	cred, err := secret.NewCredential(sm, e.CredentialSecretARN)
	if err != nil {
		return nil, nil, err
	}
	sealer, err := seal.New(k, e.TokenKeyID)
	if err != nil {
		return nil, nil, err
	}
	c, err := New(Config{AuthorityHost: e.AuthorityHost, ClientID: e.ClientID, Secret: cred, GraphBaseURL: e.GraphBaseURL,
		RequiredRoles: e.RequiredRoles, Credentials: kept, Sealer: sealer, Logger: log})
	if err != nil {
		return nil, nil, err
	}
	return c, cred, nil
}
