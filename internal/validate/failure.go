package validate

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ocpro/upgrade/internal/upgrade"
)

// identityError is the error body of the Microsoft identity platform's
// token endpoint.
type identityError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	Codes       []int  `json:"error_codes"`
}

// Compiled on first use rather than at package init, which every cold
// start would pay.
var aadstsPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`AADSTS(\d{4,9})`) })

// aadstsOf finds Microsoft's error number in a token endpoint error body:
// error_codes first, else the first AADSTS number of the description.
func aadstsOf(e identityError) int {
	if len(e.Codes) > 0 {
		return e.Codes[0]
	}
	if m := aadstsPattern().FindStringSubmatch(e.Description); m != nil {
		n, _ := strconv.Atoi(m[1]) // the pattern admits digits only
		return n
	}
	return 0
}

// identityFailures maps the AADSTS numbers the service meets to what the
// operator should read. Reasons say what happened and what to do; they
// never quote Microsoft's description, which may name internals.
var identityFailures = map[int]struct{ code, reason string }{
	65001:   {upgrade.FailureConsentRevoked, "The tenant has not granted (or has revoked) consent for the application; ask the customer's administrator to consent again (Re-initiate Authentication Flow)."},
	90094:   {upgrade.FailureConsentRevoked, "Administrator consent is required in the tenant; ask a Global Administrator of the customer to consent again."},
	700016:  {upgrade.FailureAppNotInTenant, "The application is not present in the customer's tenant: consent was removed or never granted. Re-initiate Authentication Flow."},
	7000222: {upgrade.FailureSecretExpired, "The operator application's client secret has expired; renew the credential in Secrets Manager."},
	7000215: {upgrade.FailureSecretInvalid, "The operator application's client secret is not valid; check the credential in Secrets Manager."},
	7000218: {upgrade.FailureSecretInvalid, "The operator application's credential is missing; check the credential in Secrets Manager."},
	700082:  {upgrade.FailureRefreshTokenExpired, "The kept tenant account credential expired after 90 days without use; re-initiate the Authentication Flow."},
	50173:   {upgrade.FailureRefreshTokenRevoked, "The kept tenant account credential was revoked (password change or revoked sessions); re-initiate the Authentication Flow."},
	70008:   {upgrade.FailureRefreshTokenExpired, "The kept tenant account credential has expired; re-initiate the Authentication Flow."},
	70000:   {upgrade.FailureRefreshTokenRevoked, "The kept tenant account credential is no longer valid; re-initiate the Authentication Flow."},
	53003:   {upgrade.FailureConditionalAccess, "A Conditional Access policy of the customer's tenant blocked the sign-in; the customer's administrator must allow it."},
	50020:   {upgrade.FailureWrongTenant, "The account does not belong to the customer's tenant; re-initiate the Authentication Flow with an account of the tenant."},
	90002:   {upgrade.FailureNoTenant, "Microsoft does not know the customer's tenant id."},
}

// fromIdentity classifies a failed token endpoint answer.
func fromIdentity(status int, header http.Header, body []byte) upgrade.CheckFailure {
	var e identityError
	_ = json.Unmarshal(body, &e) // a body that is not JSON still has a status to classify
	n := aadstsOf(e)
	if f, ok := transientStatus(status, header); ok {
		f.AADSTS = n
		return f
	}
	if m, ok := identityFailures[n]; ok {
		return upgrade.CheckFailure{Code: m.code, Reason: m.reason, AADSTS: n}
	}
	if e.Error == "invalid_grant" {
		return upgrade.CheckFailure{Code: upgrade.FailureRefreshTokenRevoked, AADSTS: n,
			Reason: "Microsoft refused the kept tenant account credential; re-initiate the Authentication Flow."}
	}
	return upgrade.CheckFailure{Code: upgrade.FailureOther, AADSTS: n,
		Reason: fmt.Sprintf("Microsoft refused the token request (HTTP %d, %s).", status, safeWord(e.Error))}
}

// fromGraph classifies a failed Graph answer.
func fromGraph(status int, header http.Header, body []byte) upgrade.CheckFailure {
	if f, ok := transientStatus(status, header); ok {
		return f
	}
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &e) // the status alone still classifies
	code := safeWord(e.Error.Code)
	if status == http.StatusForbidden {
		return upgrade.CheckFailure{Code: upgrade.FailureMissingPermissions,
			Reason: fmt.Sprintf("Microsoft Graph refused the call for lack of permissions (%s); the tenant must grant the application's permissions again.", code)}
	}
	return upgrade.CheckFailure{Code: upgrade.FailureGraphRefused,
		Reason: fmt.Sprintf("Microsoft Graph refused the call (HTTP %d, %s).", status, code)}
}

// transientStatus recognises answers that a later try may turn around:
// throttling and server errors, with Microsoft's Retry-After.
func transientStatus(status int, header http.Header) (upgrade.CheckFailure, bool) {
	retry := retryAfter(header.Get("Retry-After"))
	switch {
	case status == http.StatusTooManyRequests:
		return upgrade.CheckFailure{Code: upgrade.FailureThrottled, Transient: true, RetryAfter: retry,
			Reason: "Microsoft is throttling requests for the tenant; try again later."}, true
	case status >= 500:
		return upgrade.CheckFailure{Code: upgrade.FailureMicrosoftUnavailable, Transient: true, RetryAfter: retry,
			Reason: fmt.Sprintf("Microsoft is unavailable (HTTP %d); try again later.", status)}, true
	}
	return upgrade.CheckFailure{}, false
}

// fromTransport classifies an error that got no HTTP answer: timeouts and
// refused connections are transient.
func fromTransport(err error) upgrade.CheckFailure {
	var ne net.Error
	reason := "Microsoft could not be reached; try again later."
	if errors.As(err, &ne) && ne.Timeout() {
		reason = "Microsoft did not answer in time; try again later."
	}
	return upgrade.CheckFailure{Code: upgrade.FailureMicrosoftUnavailable, Transient: true, Reason: reason}
}

// retryAfter reads Retry-After in seconds or as an HTTP date; zero when
// absent or unreadable.
func retryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// safeWord keeps an error code from a remote body only when it is a short
// identifier, so that nothing odd reaches the operator or the logs.
func safeWord(s string) string {
	if s == "" || len(s) > 64 {
		return "no error code"
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.') {
			return "no error code"
		}
	}
	return s
}
