package secret

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The AWS Parameters and Secrets Lambda Extension's interface: a local
// HTTP endpoint on PortVariable (DefaultPort when unset) that answers
// GET /secretsmanager/get?secretId=...&versionStage=... with
// GetSecretValue's JSON, and refuses any request without the
// environment's session token in TokenHeader (its guard against
// server-side request forgery).
const (
	PortVariable = "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"
	DefaultPort  = 2773
	TokenHeader  = "X-Aws-Parameters-Secrets-Token"
	GetPath      = "/secretsmanager/get"
)

// extensionTimeout bounds one read: the extension answers from loopback,
// and a read of Secrets Manager behind it takes tens of milliseconds.
const extensionTimeout = 5 * time.Second

// maxAnswer bounds an answer; a secret holds at most 64 KB.
const maxAnswer = 256 << 10

// Extension reads secrets through the AWS Parameters and Secrets Lambda
// Extension, which calls GetSecretValue with the function's role: the
// function links a plain HTTP client instead of the Secrets Manager
// client and its schemas. Key and Credential keep what they read for the
// container's life, so the extension's own cache would only ever answer
// the reads that must not come from a cache (a refresh after a rotation);
// the template turns it off (SECRETS_MANAGER_TTL=0), and each read here is
// one GetSecretValue, as with the SDK.
type Extension struct {
	base   string
	token  string
	client *http.Client
}

// NewExtension returns an Extension for the environment getenv reads:
// PortVariable and AWS_SESSION_TOKEN, which Lambda sets. client may be nil.
// It does no I/O: the extension does not serve during the function's init,
// so secrets are read on first need.
func NewExtension(getenv func(string) string, client *http.Client) (*Extension, error) {
	port := DefaultPort
	if v := getenv(PortVariable); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 || p > 65535 {
			return nil, fmt.Errorf("secret: %s=%q is not a port", PortVariable, v)
		}
		port = p
	}
	if client == nil {
		client = &http.Client{Timeout: extensionTimeout}
	}
	// The loopback address itself rather than "localhost", which would
	// cost a lookup and may try ::1 first.
	return &Extension{base: "http://127.0.0.1:" + strconv.Itoa(port), token: getenv("AWS_SESSION_TOKEN"), client: client}, nil
}

// GetSecretValue reads one version of a secret. A secret or stage that
// Secrets Manager does not have is ErrNotFound.
func (e *Extension) GetSecretValue(ctx context.Context, in GetSecretValueInput) (*SecretValue, error) {
	if in.SecretID == "" {
		return nil, errors.New("secret: GetSecretValue without a secret id")
	}
	if e.token == "" {
		// The extension refuses every request without the token; saying
		// so here is clearer than its 401.
		return nil, errors.New("secret: AWS_SESSION_TOKEN is not set, which the secrets extension requires")
	}
	q := url.Values{"secretId": {in.SecretID}}
	if in.VersionStage != "" {
		q.Set("versionStage", in.VersionStage)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.base+GetPath+"?"+q.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	req.Header.Set(TokenHeader, e.token)
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("secret: secrets extension: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("secret: secrets extension: reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, answerError(resp.StatusCode, body)
	}
	var out struct {
		ARN           string   `json:"ARN"`
		Name          string   `json:"Name"`
		VersionID     string   `json:"VersionId"`
		SecretString  *string  `json:"SecretString"`
		VersionStages []string `json:"VersionStages"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		// Neither the body nor the decoder's message: both may hold the value.
		return nil, errors.New("secret: secrets extension: the answer is not GetSecretValue's JSON")
	}
	if out.SecretString == nil {
		return nil, errors.New("secret: secrets extension: the secret has no SecretString (binary secrets are not read)")
	}
	return &SecretValue{ARN: out.ARN, Name: out.Name, VersionID: out.VersionID, SecretString: *out.SecretString, VersionStages: out.VersionStages}, nil
}

// answerError turns a refusal into an error. The extension passes Secrets
// Manager's errors on with their status and JSON error document
// ({"__type": "ResourceNotFoundException", ...}); its own refusals (a
// missing or wrong token, a busy extension) are short plain text. Only
// the error's type goes into the error: an answer is never logged whole.
func answerError(status int, body []byte) error {
	var doc struct {
		Type string `json:"__type"`
	}
	code := ""
	if json.Unmarshal(body, &doc) == nil {
		// Some services send "namespace#Code".
		code = doc.Type[strings.LastIndexByte(doc.Type, '#')+1:]
	} else if strings.Contains(string(body), "ResourceNotFoundException") {
		code = "ResourceNotFoundException"
	}
	if code == "ResourceNotFoundException" {
		return fmt.Errorf("%w (secrets extension: HTTP %d)", ErrNotFound, status)
	}
	if code == "" {
		code = "no error type"
	}
	return fmt.Errorf("secret: secrets extension: HTTP %d, %s", status, code)
}
