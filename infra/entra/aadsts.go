package entra

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// aadError is an error in the shape the Microsoft identity platform sends:
// the OAuth error code plus an AADSTS number whose text carries the trace
// id, correlation id and timestamp.
type aadError struct {
	status  int
	code    string // OAuth 2.0 error code, for example invalid_client.
	number  int    // AADSTS number.
	message string // Text after "AADSTSnnnn: ".
}

func (e aadError) Error() string { return fmt.Sprintf("AADSTS%d: %s", e.number, e.message) }

// aadErrorBody is the JSON body of an aadError.
type aadErrorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
	ErrorURI         string `json:"error_uri"`
}

// aadTimestamp is the layout of Microsoft's error timestamps.
const aadTimestamp = "2006-01-02 15:04:05Z"

func (e *Emulator) writeAADError(w http.ResponseWriter, r *http.Request, ae aadError) {
	ts := e.now().UTC().Format(aadTimestamp)
	trace := randomGUID()
	// Microsoft echoes the client's client-request-id (MSAL sends one) as
	// the correlation id, so that both sides' logs can be joined.
	corr := r.Header.Get("client-request-id")
	if !guidPattern.MatchString(corr) {
		corr = randomGUID()
	}
	body := aadErrorBody{
		Error: ae.code,
		ErrorDescription: fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s",
			ae.number, ae.message, trace, corr, ts),
		ErrorCodes:    []int{ae.number},
		Timestamp:     ts,
		TraceID:       trace,
		CorrelationID: corr,
		ErrorURI:      fmt.Sprintf("%s/error?code=%d", e.baseFor(r), ae.number),
	}
	e.log.InfoContext(r.Context(), "entra emulator error", "path", r.URL.Path, "error", ae.code, "aadsts", ae.number)
	w.Header().Set("Cache-Control", "no-store, no-cache")
	writeJSON(w, ae.status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	// The header is out; an encoding error can only be a broken connection.
	_ = json.NewEncoder(w).Encode(v)
}

// The AADSTS errors the emulator produces, with Microsoft's wording.

func errTenantNotFound(tenant string) aadError {
	return aadError{http.StatusBadRequest, "invalid_tenant", 90002, fmt.Sprintf(
		"Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. "+
			"Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", tenant)}
}

func errTenantIdentifier(tenant string) aadError {
	return aadError{http.StatusBadRequest, "invalid_request", 900023, fmt.Sprintf(
		"Specified tenant identifier '%s' is neither a valid DNS name, nor a valid external domain.", tenant)}
}

func errNoTenantInfo() aadError {
	return aadError{http.StatusBadRequest, "invalid_request", 50059,
		"No tenant-identifying information found in either the request or implied by any provided credentials."}
}

func errMissingParameter(name string) aadError {
	return aadError{http.StatusBadRequest, "invalid_request", 900144, fmt.Sprintf(
		"The request body must contain the following parameter: '%s'.", name)}
}

func errUnsupportedGrant(grant string) aadError {
	return aadError{http.StatusBadRequest, "unsupported_grant_type", 70003, fmt.Sprintf(
		"The app requested an unsupported grant type '%s'.", grant)}
}

func errAppNotFound(clientID, tenant string) aadError {
	return aadError{http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf(
		"Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not "+
			"been installed by the administrator of the tenant or consented to by any user in the tenant. "+
			"You may have sent your authentication request to the wrong tenant.", clientID, tenant)}
}

func errMissingClientCredential() aadError {
	return aadError{http.StatusUnauthorized, "invalid_client", 7000218,
		"The request body must contain the following parameter: 'client_assertion' or 'client_secret'."}
}

func errPublicClientSecret() aadError {
	return aadError{http.StatusUnauthorized, "invalid_client", 700025,
		"Client is public so neither 'client_assertion' nor 'client_secret' should be presented."}
}

func errInvalidSecret(clientID string) aadError {
	return aadError{http.StatusUnauthorized, "invalid_client", 7000215, fmt.Sprintf(
		"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, "+
			"not the client secret ID, for a secret added to app '%s'.", clientID)}
}

func errClientCredentialsScope(scope string) aadError {
	return aadError{http.StatusBadRequest, "invalid_scope", 1002012, fmt.Sprintf(
		"The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default "+
			"suffixed to the resource identifier (application ID URI).", scope)}
}

// errScopeInvalid is what client credentials answer for a scope naming more
// than one resource: only one resource's token can be issued at a time.
func errScopeInvalid(scope string) aadError {
	return aadError{http.StatusBadRequest, "invalid_scope", 70011, fmt.Sprintf(
		"The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' "+
			"is not valid. The scope %s is not valid.", scope)}
}

func errResourceNotFound(resource, tenant string) aadError {
	return aadError{http.StatusBadRequest, "invalid_resource", 500011, fmt.Sprintf(
		"The resource principal named %s was not found in the tenant named %s. This can happen if the application has not "+
			"been installed by the administrator of the tenant or consented to by any user in the tenant. "+
			"You might have sent your authentication request to the wrong tenant.", resource, tenant)}
}

// randomGUID returns a random (version 4) GUID.
func randomGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails since Go 1.24.
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return strings.ToLower(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
}
