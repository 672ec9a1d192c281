// Package secrets is a local stand-in for AWS Secrets Manager and for the
// AWS Parameters and Secrets Lambda Extension in front of it. The Secrets
// Manager stand-in answers GetSecretValue and PutSecretValue over the AWS
// JSON 1.1 protocol, so that the extension (NewExtension) reads secrets
// from it as the real one reads them with the function's role, and tests
// rotate them with the real secretsmanager client as a rotation function
// would. The functions reach only the extension, as in Lambda.
//
// Versions and their staging labels behave as in Secrets Manager: a new
// value becomes AWSCURRENT, the version that was current becomes
// AWSPREVIOUS, and the one that was previous loses its label and can no
// longer be asked for by stage.
package secrets

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// The staging labels Secrets Manager moves on its own.
const (
	StageCurrent  = "AWSCURRENT"
	StagePrevious = "AWSPREVIOUS"
)

// targetPrefix is the X-Amz-Target prefix of every Secrets Manager operation.
const targetPrefix = "secretsmanager."

// defaultARNPrefix names secrets given by name only, in the region and
// account the local template resolves to.
const defaultARNPrefix = "arn:aws:secretsmanager:eu-west-1:000000000000:secret:"

// maxBody bounds a request body; GetSecretValue requests are tiny.
const maxBody = 64 << 10

// secret is one stored secret with the identifiers it answers to and its
// versions, oldest first.
type secret struct {
	arn      string
	name     string
	versions []*version
}

// version is one value of a secret with its staging labels.
type version struct {
	id      string
	value   string
	stages  []string
	created time.Time
}

// handler serves the Secrets Manager API over a set of secrets.
type handler struct {
	mu      sync.Mutex
	secrets []*secret
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
		s := &secret{versions: []*version{{id: versionID(key, value), value: value, stages: []string{StageCurrent}, created: h.created}}}
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
	h.mu.Lock()
	defer h.mu.Unlock()
	switch op {
	case "GetSecretValue":
		h.getSecretValue(w, r)
	case "PutSecretValue":
		h.putSecretValue(w, r)
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
	if !ok {
		writeError(w, http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
		return
	}
	// As Secrets Manager: no version or stage asks for AWSCURRENT; a
	// version id and a stage must name the same version.
	stage := in.VersionStage
	if in.VersionID == "" && stage == "" {
		stage = StageCurrent
	}
	var v *version
	for _, c := range s.versions {
		if (in.VersionID == "" || c.id == in.VersionID) && (stage == "" || slices.Contains(c.stages, stage)) {
			v = c
		}
	}
	if v == nil {
		if in.VersionID != "" && in.VersionStage != "" {
			writeError(w, http.StatusBadRequest, "InvalidRequestException",
				"You provided a VersionStage that is not associated to the provided VersionId.")
			return
		}
		writeError(w, http.StatusBadRequest, "ResourceNotFoundException",
			"Secrets Manager can't find the specified secret value for the given version or staging label.")
		return
	}
	writeJSON(w, getSecretValueOutput{
		ARN:           s.arn,
		Name:          s.name,
		SecretString:  v.value,
		VersionID:     v.id,
		VersionStages: slices.Clone(v.stages),
		CreatedDate:   float64(v.created.Unix()),
	})
}

type putSecretValueInput struct {
	SecretID           string   `json:"SecretId"`
	ClientRequestToken string   `json:"ClientRequestToken"`
	SecretString       *string  `json:"SecretString"`
	SecretBinary       *string  `json:"SecretBinary"`
	VersionStages      []string `json:"VersionStages"`
}

type putSecretValueOutput struct {
	ARN           string   `json:"ARN"`
	Name          string   `json:"Name"`
	VersionID     string   `json:"VersionId"`
	VersionStages []string `json:"VersionStages"`
}

// putSecretValue stores a new version, as a rotation function's setSecret
// and finishSecret steps together: without VersionStages the new version
// becomes AWSCURRENT and the one before AWSPREVIOUS. The same
// ClientRequestToken with the same value is a retry; with another value it
// is refused.
func (h *handler) putSecretValue(w http.ResponseWriter, r *http.Request) {
	var in putSecretValueInput
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", "The request body is not valid JSON.")
		return
	}
	switch {
	case in.SecretID == "":
		writeError(w, http.StatusBadRequest, "InvalidParameterException", "SecretId is required.")
		return
	case in.SecretBinary != nil:
		writeError(w, http.StatusBadRequest, "InvalidParameterException", "SecretBinary is not supported locally; use SecretString.")
		return
	case in.SecretString == nil:
		writeError(w, http.StatusBadRequest, "InvalidParameterException", "You must provide either SecretString or SecretBinary.")
		return
	case len(in.ClientRequestToken) < 32 || len(in.ClientRequestToken) > 64:
		writeError(w, http.StatusBadRequest, "InvalidParameterException", "ClientRequestToken must be 32 to 64 characters.")
		return
	}
	s, ok := h.find(in.SecretID)
	if !ok {
		writeError(w, http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
		return
	}
	for _, v := range s.versions {
		if v.id != in.ClientRequestToken {
			continue
		}
		if v.value != *in.SecretString {
			writeError(w, http.StatusBadRequest, "ResourceExistsException",
				"A resource with the ID you requested already exists.")
			return
		}
		writeJSON(w, putSecretValueOutput{ARN: s.arn, Name: s.name, VersionID: v.id, VersionStages: slices.Clone(v.stages)})
		return
	}
	stages := in.VersionStages
	if len(stages) == 0 {
		stages = []string{StageCurrent}
	}
	nv := &version{id: in.ClientRequestToken, value: *in.SecretString, created: time.Now().UTC().Truncate(time.Second)}
	for _, st := range stages {
		s.move(st, nv)
	}
	s.versions = append(s.versions, nv)
	writeJSON(w, putSecretValueOutput{ARN: s.arn, Name: s.name, VersionID: nv.id, VersionStages: slices.Clone(nv.stages)})
}

// move attaches stage to v, taking it from the version that holds it. A
// version that loses AWSCURRENT gets AWSPREVIOUS, which its holder loses.
func (s *secret) move(stage string, v *version) {
	for _, o := range s.versions {
		if i := slices.Index(o.stages, stage); i >= 0 {
			o.stages = slices.Delete(o.stages, i, i+1)
			if stage == StageCurrent {
				s.move(StagePrevious, o)
			}
		}
	}
	v.stages = append(v.stages, stage)
}

// find looks a secret up by full ARN, partial ARN (without the suffix) or
// name.
func (h *handler) find(id string) (*secret, bool) {
	for _, s := range h.secrets {
		if id == s.arn || id == s.name || id == trimSuffix(s.arn) {
			return s, true
		}
	}
	return nil, false
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
