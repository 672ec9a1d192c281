package entra

import (
	"encoding/json"
	"net/http"
	"time"
)

// maxControlBytes bounds control API request bodies.
const maxControlBytes = 16 << 10

// maxControlLifetime caps expiresIn so that a typo cannot mint a token that
// outlives every test run.
const maxControlLifetime = 24 * time.Hour

// The control API is the emulator's own surface, not Microsoft's: tests and
// the local stack use it to get tokens without a browser and, later, to
// approve codes and inject faults.
func (e *Emulator) controlRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /_control/operator-token", e.logged(e.handleOperatorToken))
	e.controlFlowRoutes(mux)
	e.spaControlRoutes(mux)
	e.idTokenControlRoutes(mux)
	e.propagationControlRoutes(mux)
}

// operatorTokenRequest is the body of POST /_control/operator-token.
type operatorTokenRequest struct {
	Operator  string   `json:"operator"`
	Scopes    []string `json:"scopes"`
	Audience  string   `json:"audience"`
	ExpiresIn *int64   `json:"expiresIn"`
}

// operatorTokenResponse mirrors the token endpoint's field names, so that
// scripts can treat both alike.
type operatorTokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// controlError is the control API's error body.
type controlError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

func (e *Emulator) handleOperatorToken(w http.ResponseWriter, r *http.Request) {
	var req operatorTokenRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxControlBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, controlError{"invalid_request", "body must be a JSON object with operator, scopes, audience, expiresIn"})
		return
	}
	if err := validOperator(req.Operator); err != nil {
		writeJSON(w, http.StatusBadRequest, controlError{"invalid_request", err.Error()})
		return
	}
	var opts []TokenOption
	if req.Scopes != nil {
		opts = append(opts, WithScopes(req.Scopes...))
	}
	if req.Audience != "" {
		opts = append(opts, WithAudience(req.Audience))
	}
	if req.ExpiresIn != nil {
		d := time.Duration(*req.ExpiresIn) * time.Second
		if d <= 0 || d > maxControlLifetime {
			writeJSON(w, http.StatusBadRequest, controlError{"invalid_request", "expiresIn must be 1 to 86400 seconds"})
			return
		}
		opts = append(opts, WithLifetime(d))
	}
	tok, err := e.operatorToken(e.baseFor(r), req.Operator, false, opts...)
	if err != nil {
		e.log.ErrorContext(r.Context(), "entra emulator operator token", "err", err)
		writeJSON(w, http.StatusInternalServerError, controlError{"server_error", "could not issue the token"})
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, operatorTokenResponse{AccessToken: tok.Value, TokenType: "Bearer", ExpiresIn: tok.ExpiresIn})
}
