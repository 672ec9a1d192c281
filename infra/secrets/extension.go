package secrets

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The AWS Parameters and Secrets Lambda Extension's settings, read from
// the function's environment as the extension reads them.
const (
	ExtensionTTLVariable       = "SECRETS_MANAGER_TTL"
	ExtensionCacheVariable     = "PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED"
	ExtensionCacheSizeVariable = "PARAMETERS_SECRETS_EXTENSION_CACHE_SIZE"
	ExtensionPortVariable      = "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"
	ExtensionTokenHeader       = "X-Aws-Parameters-Secrets-Token"
)

// The extension's documented defaults and limits.
const (
	DefaultExtensionTTL = 300 * time.Second
	maxExtensionTTL     = 300 * time.Second
	defaultCacheSize    = 1000
	maxCacheSize        = 1000
)

// ExtensionConfig configures one extension, as one Lambda execution
// environment runs it.
type ExtensionConfig struct {
	// Upstream is the Secrets Manager endpoint the extension calls (the
	// local stand-in's URL).
	Upstream string
	// Token is the environment's AWS_SESSION_TOKEN, which every request
	// must carry in ExtensionTokenHeader.
	Token string
	// TTL is how long an answer is served from the cache; zero turns the
	// cache off.
	TTL time.Duration
	// CacheSize bounds the cached answers; zero turns the cache off.
	CacheSize int
	// Client calls Upstream; nil is a client with a 10 s timeout.
	Client *http.Client
	// Now is the cache's clock; nil is time.Now.
	Now func() time.Time
}

// ExtensionConfigFromEnv reads the extension's cache settings from a
// function's environment as the extension does: SECRETS_MANAGER_TTL in
// seconds (0 to 300, default 300), PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED
// (default true) and PARAMETERS_SECRETS_EXTENSION_CACHE_SIZE (0 to 1000,
// default 1000). A value out of range is an error here, so that the
// template cannot hold one that AWS would not take.
func ExtensionConfigFromEnv(env map[string]string) (ExtensionConfig, error) {
	cfg := ExtensionConfig{TTL: DefaultExtensionTTL, CacheSize: defaultCacheSize}
	if v, ok := env[ExtensionTTLVariable]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || time.Duration(n)*time.Second > maxExtensionTTL {
			return ExtensionConfig{}, fmt.Errorf("secrets: %s=%q: want whole seconds from 0 to 300", ExtensionTTLVariable, v)
		}
		cfg.TTL = time.Duration(n) * time.Second
	}
	if v, ok := env[ExtensionCacheSizeVariable]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > maxCacheSize {
			return ExtensionConfig{}, fmt.Errorf("secrets: %s=%q: want 0 to 1000", ExtensionCacheSizeVariable, v)
		}
		cfg.CacheSize = n
	}
	if v, ok := env[ExtensionCacheVariable]; ok {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return ExtensionConfig{}, fmt.Errorf("secrets: %s=%q: want true or false", ExtensionCacheVariable, v)
		}
		if !on {
			cfg.CacheSize = 0
		}
	}
	return cfg, nil
}

// extension is a local stand-in for the AWS Parameters and Secrets Lambda
// Extension's Secrets Manager interface, in front of a Secrets Manager
// endpoint. It is as strict as AWS's: GET only; the session token in
// X-Aws-Parameters-Secrets-Token on every request (401 without it, 403
// with another); no X-Forwarded-For (400); secretId required (400);
// Secrets Manager's refusals passed on with their status and JSON error
// document (a secret or stage it does not have is its 400
// ResourceNotFoundException); 404 for any other path. Answers are
// GetSecretValue's JSON, cached per secretId, versionId and versionStage
// for the TTL.
type extension struct {
	cfg ExtensionConfig

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	body []byte
	at   time.Time
}

// NewExtension returns the stand-in extension for cfg.
func NewExtension(cfg ExtensionConfig) (http.Handler, error) {
	if cfg.Upstream == "" {
		return nil, fmt.Errorf("secrets: extension without an upstream Secrets Manager")
	}
	if cfg.Token == "" {
		return nil, fmt.Errorf("secrets: extension without a session token")
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &extension{cfg: cfg, cache: map[string]cached{}}, nil
}

func (e *extension) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Forwarded-For") != "" {
		plain(w, http.StatusBadRequest, "Forwarded requests are not served.")
		return
	}
	token, ok := r.Header[http.CanonicalHeaderKey(ExtensionTokenHeader)]
	switch {
	case !ok:
		plain(w, http.StatusUnauthorized, "The request has no "+ExtensionTokenHeader+" header.")
		return
	case len(token) != 1 || subtle.ConstantTimeCompare([]byte(token[0]), []byte(e.cfg.Token)) != 1:
		plain(w, http.StatusForbidden, "The "+ExtensionTokenHeader+" header does not hold this environment's session token.")
		return
	}
	if r.Method != http.MethodGet {
		plain(w, http.StatusMethodNotAllowed, "Only GET is served.")
		return
	}
	if r.URL.Path != "/secretsmanager/get" {
		plain(w, http.StatusNotFound, "Not found.")
		return
	}
	q := r.URL.Query()
	in := getSecretValueInput{SecretID: q.Get("secretId"), VersionID: q.Get("versionId"), VersionStage: q.Get("versionStage")}
	if in.SecretID == "" {
		plain(w, http.StatusBadRequest, "secretId is required.")
		return
	}
	key := in.SecretID + "\x00" + in.VersionID + "\x00" + in.VersionStage
	if body, ok := e.cached(key); ok {
		writeJSON(w, json.RawMessage(body))
		return
	}
	status, body, err := e.fetch(r, in)
	if err != nil {
		writeError(w, http.StatusBadGateway, "ConnectionError", "Secrets Manager could not be reached.")
		return
	}
	if status != http.StatusOK {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(status)
		_, _ = w.Write(body)
		return
	}
	e.store(key, body)
	writeJSON(w, json.RawMessage(body))
}

// fetch calls GetSecretValue on the upstream Secrets Manager.
func (e *extension) fetch(r *http.Request, in getSecretValueInput) (int, []byte, error) {
	// Only the fields asked for: Secrets Manager refuses an empty VersionId.
	call := map[string]string{"SecretId": in.SecretID}
	if in.VersionID != "" {
		call["VersionId"] = in.VersionID
	}
	if in.VersionStage != "" {
		call["VersionStage"] = in.VersionStage
	}
	payload, err := json.Marshal(call)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, strings.TrimSuffix(e.cfg.Upstream, "/")+"/", bytes.NewReader(payload))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", targetPrefix+"GetSecretValue")
	resp, err := e.cfg.Client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody<<2))
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, bytes.TrimSpace(body), nil
}

func (e *extension) cached(key string) ([]byte, bool) {
	if e.cfg.TTL <= 0 || e.cfg.CacheSize <= 0 {
		return nil, false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.cache[key]
	if !ok || e.cfg.Now().Sub(c.at) >= e.cfg.TTL {
		return nil, false
	}
	return c.body, true
}

func (e *extension) store(key string, body []byte) {
	if e.cfg.TTL <= 0 || e.cfg.CacheSize <= 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.cfg.Now()
	if _, ok := e.cache[key]; !ok && len(e.cache) >= e.cfg.CacheSize {
		// Full: drop the oldest answer, as a bounded cache does.
		oldest := ""
		for k, c := range e.cache {
			if oldest == "" || c.at.Before(e.cache[oldest].at) {
				oldest = k
			}
		}
		delete(e.cache, oldest)
	}
	e.cache[key] = cached{body: body, at: now}
}

func plain(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg)
}
