package entra

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
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

// The errors of the interactive flows, refresh tokens and consent.

func errRedirectMismatch(redirect, clientID string) aadError {
	return aadError{http.StatusBadRequest, "invalid_request", 50011, fmt.Sprintf(
		"The redirect URI '%s' specified in the request does not match the redirect URIs configured for the application '%s'. "+
			"Make sure the redirect URI sent in the request matches one added to your application in the Azure portal.", redirect, clientID)}
}

func errUserNotInTenant(user, tenantID, clientID, appName string) aadError {
	return aadError{http.StatusBadRequest, "invalid_grant", 50020, fmt.Sprintf(
		"User account '%s' from identity provider 'live.com' does not exist in tenant '%s' and cannot access the application "+
			"'%s'(%s) in that tenant. The account needs to be added as an external user in the tenant first. "+
			"Sign out and sign in again with a different Microsoft Entra user account.", user, tenantID, clientID, appName)}
}

func errConsentRequired(clientID, appName string) aadError {
	return aadError{http.StatusBadRequest, "invalid_grant", 65001, fmt.Sprintf(
		"The user or administrator has not consented to use the application with ID '%s' named '%s'. "+
			"Send an interactive authorization request for this user and resource.", clientID, appName)}
}

func errUserDeclinedConsent() aadError {
	return aadError{http.StatusBadRequest, "access_denied", 65004, "User declined to consent to access the app."}
}

func errAdminConsentRequired(appName, tenantName string) aadError {
	return aadError{http.StatusBadRequest, "access_denied", 90094, fmt.Sprintf(
		"An administrator of %s has set a policy that prevents you from granting %s the permissions it is requesting. "+
			"Contact an administrator of %s, who can grant permissions to this app on your behalf.", tenantName, appName, tenantName)}
}

func errBlockedByConditionalAccess() aadError {
	return aadError{http.StatusBadRequest, "invalid_grant", 53003,
		"Access has been blocked by Conditional Access policies. The access policy does not allow token issuance."}
}

func errSecretExpired(clientID string) aadError {
	return aadError{http.StatusUnauthorized, "invalid_client", 7000222, fmt.Sprintf(
		"The provided client secret keys for app '%s' are expired. Visit the Azure portal to create new keys for your app: "+
			"https://aka.ms/NewClientSecret, or consider using certificate credentials for added security.", clientID)}
}

func errCodeRedeemed() aadError {
	return aadError{http.StatusBadRequest, "invalid_grant", 54005,
		"OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token."}
}

func errCodeVerifier() aadError {
	return aadError{http.StatusBadRequest, "invalid_grant", 501481,
		"The Code_Verifier does not match the code_challenge supplied in the authorization request."}
}

func errReplyMismatch() aadError {
	return aadError{http.StatusBadRequest, "invalid_grant", 500112,
		"The reply address does not match the reply address provided when requesting Authorization code."}
}

func errGrantExpired() aadError {
	return aadError{http.StatusBadRequest, "invalid_grant", 70008,
		"The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource."}
}

func errRefreshInactive(issued time.Time, inactive time.Duration) aadError {
	return aadError{http.StatusBadRequest, "invalid_grant", 700082, fmt.Sprintf(
		"The refresh token has expired due to inactivity. The token was issued on %s and was inactive for %s.",
		issued.UTC().Format("2006-01-02T15:04:05.0000000Z"), inactive.Round(time.Second))}
}

func errRefreshRevoked() aadError {
	return aadError{http.StatusBadRequest, "invalid_grant", 50173,
		"The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password."}
}

func errInvalidGrant(what string) aadError {
	return aadError{http.StatusBadRequest, "invalid_grant", 9002313, fmt.Sprintf(
		"Invalid request. Request is malformed or invalid. The provided %s is not valid.", what)}
}

func errGrantClientMismatch() aadError {
	return aadError{http.StatusBadRequest, "invalid_grant", 70000,
		"Provided grant is invalid or malformed. The grant was issued to a different client."}
}

func errAuthorizationPending() aadError {
	return aadError{http.StatusBadRequest, "authorization_pending", 70016,
		"The provided request has not yet been authorized by the user. The user must input their code."}
}

func errSlowDown() aadError {
	return aadError{http.StatusBadRequest, "slow_down", 70016,
		"The client is polling too frequently. Increase the polling interval by 5 seconds."}
}

func errAuthorizationDeclined() aadError {
	return aadError{http.StatusBadRequest, "authorization_declined", 70000,
		"The user has declined the authorization request."}
}

func errDeviceCodeExpired() aadError {
	return aadError{http.StatusBadRequest, "expired_token", 70019,
		"The provided value for the input parameter 'device_code' is not valid. This device code has expired."}
}

func errBadVerificationCode() aadError {
	return aadError{http.StatusBadRequest, "bad_verification_code", 70018,
		"The provided value for the input parameter 'device_code' is not valid."}
}

func errPublicClientNotAllowed() aadError {
	return aadError{http.StatusUnauthorized, "invalid_client", 7000218,
		"The request body must contain the following parameter: 'client_assertion' or 'client_secret'."}
}

func errLoginRequired() aadError {
	return aadError{http.StatusBadRequest, "login_required", 50058,
		"A silent sign-in request was sent but no user is signed in."}
}

func errUnsupportedResponseType(rt string) aadError {
	return aadError{http.StatusBadRequest, "unsupported_response_type", 900144, fmt.Sprintf(
		"The response type '%s' is not supported. Use 'code'.", rt)}
}

func errInvalidCodeChallengeMethod() aadError {
	return aadError{http.StatusBadRequest, "invalid_request", 501491,
		"Invalid size of Code_Challenge parameter, or code_challenge_method is not 'S256' or 'plain'."}
}

// injectableErrors are the AADSTS failures the control API can inject,
// built for the client and tenant of the request that gets them.
func injectableError(number int, clientID, tenantID string) (aadError, bool) {
	switch number {
	case 65001:
		return errConsentRequired(clientID, clientID), true
	case 700016:
		return errAppNotFound(clientID, tenantID), true
	case 50020:
		return errUserNotInTenant("injected@example.invalid", tenantID, clientID, clientID), true
	case 90094:
		return errAdminConsentRequired(clientID, tenantID), true
	case 7000215:
		return errInvalidSecret(clientID), true
	case 700082:
		return errRefreshInactive(time.Time{}, refreshInactivity), true
	case 53003:
		return errBlockedByConditionalAccess(), true
	}
	return aadError{}, false
}
