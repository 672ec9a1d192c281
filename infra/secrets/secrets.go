// Package secrets is a local stand-in for AWS Secrets Manager. It answers
// GetSecretValue over the AWS JSON 1.1 protocol from a fixed set of secrets,
// so that functions read their secrets through the real secretsmanager client
// with only the endpoint changed (AWS_ENDPOINT_URL_SECRETS_MANAGER).
package secrets

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// targetPrefix is the X-Amz-Target prefix of every Secrets Manager operation.
const targetPrefix = "secretsmanager."

// defaultARNPrefix names secrets given by name only, in the region and
// account the local template resolves to.
const defaultARNPrefix = "arn:aws:secretsmanager:eu-west-1:000000000000:secret:"

// maxBody bounds a request body; GetSecretValue requests are tiny.
const maxBody = 64 << 10

// secret is one stored secret with the identifiers it answers to.
type secret struct {
	arn     string
	name    string
	value   string
	version string
}

// handler serves the Secrets Manager API over a fixed set of secrets.
type handler struct {
	secrets []secret
	created time.Time
}

// New returns a Secrets Manager handler serving secrets, keyed by secret ARN
// or by name. A secret keyed by a full ARN (with the six-character suffix AWS
// adds) is also found by its name and by its partial ARN, as AWS does; a
// secret keyed by name gets a stable ARN in the local region and account.
// The map is copied, so later changes to it are not seen.
func New(secrets map[string]string) http.Handler {
	h := &handler{created: time.Now().UTC().Truncate(time.Second)}
	for key, value := range secrets {
		s := secret{value: value, version: versionID(key, value)}
		if name, ok := strings.CutPrefix(arnResource(key), "secret:"); ok {
			s.arn, s.name = key, trimSuffix(name)
		} else {
			s.name = key
			s.arn = defaultARNPrefix + key + "-" + suffix(key)
		}
		h.secrets = append(h.secrets, s)
	}
	return h
}

// ServeHTTP answers one Secrets Manager API call.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "UnknownOperationException", "Secrets Manager accepts POST only.")
		return
	}
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	if !ok {
		writeError(w, http.StatusBadRequest, "UnknownOperationException", "Missing or unknown X-Amz-Target.")
		return
	}
	switch op {
	case "GetSecretValue":
		h.getSecretValue(w, r)
	default:
		writeError(w, http.StatusBadRequest, "UnknownOperationException", fmt.Sprintf("Operation %s is not supported locally.", op))
	}
}

type getSecretValueInput struct {
	SecretID     string `json:"SecretId"`
	VersionID    string `json:"VersionId"`
	VersionStage string `json:"VersionStage"`
}

type getSecretValueOutput struct {
	ARN           string   `json:"ARN"`
	Name          string   `json:"Name"`
	SecretString  string   `json:"SecretString"`
	VersionID     string   `json:"VersionId"`
	VersionStages []string `json:"VersionStages"`
	CreatedDate   float64  `json:"CreatedDate"`
}

func (h *handler) getSecretValue(w http.ResponseWriter, r *http.Request) {
	var in getSecretValueInput
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", "The request body is not valid JSON.")
		return
	}
	if in.SecretID == "" {
		writeError(w, http.StatusBadRequest, "InvalidParameterException", "SecretId is required.")
		return
	}
	s, ok := h.find(in.SecretID)
	// Only the current version exists locally; asking for any other one is
	// the same as asking for a secret that is not there.
	if !ok || (in.VersionID != "" && in.VersionID != s.version) ||
		(in.VersionStage != "" && in.VersionStage != "AWSCURRENT") {
		writeError(w, http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
		return
	}
	writeJSON(w, getSecretValueOutput{
		ARN:           s.arn,
		Name:          s.name,
		SecretString:  s.value,
		VersionID:     s.version,
		VersionStages: []string{"AWSCURRENT"},
		CreatedDate:   float64(h.created.Unix()),
	})
}

// find looks a secret up by full ARN, partial ARN (without the suffix) or
// name.
func (h *handler) find(id string) (secret, bool) {
	for _, s := range h.secrets {
		if id == s.arn || id == s.name || id == trimSuffix(s.arn) {
			return s, true
		}
	}
	return secret{}, false
}

// arnResource returns the resource part of an ARN (after the fifth colon),
// or "" when s is not an ARN.
func arnResource(s string) string {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return ""
	}
	return parts[5]
}

// trimSuffix removes the "-XXXXXX" suffix Secrets Manager appends to the
// name in a secret's ARN, if it is there.
func trimSuffix(s string) string {
	i := strings.LastIndexByte(s, '-')
	if i < 0 || len(s)-i-1 != 6 {
		return s
	}
	return s[:i]
}

// suffix derives a stable six-character ARN suffix from a secret name.
func suffix(name string) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	sum := sha256.Sum256([]byte(name))
	b := make([]byte, 6)
	for i := range b {
		b[i] = alphabet[int(sum[i])%len(alphabet)]
	}
	return string(b)
}

// versionID derives a stable version id, shaped like a UUID as AWS's are.
func versionID(key, value string) string {
	sum := sha256.Sum256([]byte(key + "\x00" + value))
	return fmt.Sprintf("%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	// A failed write means the client went away; there is no one to tell.
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers with an AWS JSON 1.1 error document.
func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": message})
}
