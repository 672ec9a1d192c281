package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ocpro/upgrade/internal/fault"
)

// ProblemTypeBase prefixes the stable type URIs of problem documents.
const ProblemTypeBase = "https://errors.ocpro.example/"

// problem is an RFC 9457 problem document.
type problem struct {
	Type      string         `json:"type"`
	Title     string         `json:"title"`
	Status    int            `json:"status"`
	Detail    string         `json:"detail,omitempty"`
	Instance  string         `json:"instance,omitempty"`
	RequestID string         `json:"requestId,omitempty"`
	Errors    []problemField `json:"errors,omitempty"`
}

type problemField struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// httpError is a refusal that exists only at the HTTP layer (authentication,
// media type, size, routes not built yet).
type httpError struct {
	status int
	typ    string
	title  string
	detail string
}

func (e *httpError) Error() string { return e.title + ": " + e.detail }

// kinds maps each fault kind to its status, type and title. It is the one
// place where domain errors become HTTP.
var kinds = map[fault.Kind]struct {
	status int
	typ    string
	title  string
}{
	fault.Invalid:            {http.StatusBadRequest, "validation", "Your request is not valid."},
	fault.Unprocessable:      {http.StatusUnprocessableEntity, "rule-violation", "Your request breaks a rule."},
	fault.NotFound:           {http.StatusNotFound, "not-found", "Not found."},
	fault.Conflict:           {http.StatusConflict, "conflict", "Your request conflicts with an existing resource."},
	fault.PreconditionFailed: {http.StatusConflict, "state-conflict", "The resource is not in a state that allows this."},
	fault.Gone:               {http.StatusGone, "gone", "The resource is gone."},
	fault.TooManyRequests:    {http.StatusTooManyRequests, "too-many-requests", "Too many requests."},
	fault.Unavailable:        {http.StatusServiceUnavailable, "unavailable", "The service is busy; try again shortly."},
	fault.Internal:           {http.StatusInternalServerError, "internal", "Something went wrong on our side."},
}

// errorResponse turns any error into a problem response. Internal errors are
// logged with their cause and answered with a generic document that carries
// the request id, never the error text.
func (h *Handler) errorResponse(ctx context.Context, req events.APIGatewayV2HTTPRequest, err error) events.APIGatewayV2HTTPResponse {
	p := problem{Instance: req.RawPath, RequestID: req.RequestContext.RequestID}
	headers := map[string]string{}
	var he *httpError
	if errors.As(err, &he) {
		p.Status, p.Type, p.Title, p.Detail = he.status, ProblemTypeBase+he.typ, he.title, he.detail
	} else {
		k := fault.KindOf(err)
		m, ok := kinds[k]
		if !ok {
			k, m = fault.Internal, kinds[fault.Internal]
		}
		p.Status, p.Type, p.Title = m.status, ProblemTypeBase+m.typ, m.title
		if k != fault.Internal {
			p.Detail = fault.DetailOf(err)
		}
		for _, f := range fault.FieldsOf(err) {
			p.Errors = append(p.Errors, problemField(f))
		}
		if k == fault.TooManyRequests || k == fault.Unavailable {
			headers["Retry-After"] = retryAfter(fault.RetryAfterOf(err))
		}
	}
	attrs := []any{"route", req.RouteKey, "status", p.Status, "apiRequestId", p.RequestID}
	if p.Status >= 500 {
		h.log.ErrorContext(ctx, "request failed", append(attrs, "error", err)...)
	} else {
		h.log.InfoContext(ctx, "request refused", append(attrs, "type", p.Type)...)
	}
	return respond(p.Status, "application/problem+json", p, headers)
}

// retryAfter formats a wait as Retry-After delay-seconds, rounded up. An
// unknown wait (zero) becomes one second: the header promises the client
// that trying again makes sense, and Microsoft's own Retry-After (kept by the
// validation) is passed on as it came.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(int(math.Ceil(max(d.Seconds(), 1))))
}

// respond encodes body as JSON. Encoding the service's own DTOs cannot fail;
// if it ever did, the client still gets a well-formed 500.
func respond(status int, contentType string, body any, headers map[string]string) events.APIGatewayV2HTTPResponse {
	b, err := json.Marshal(body)
	if err != nil {
		slog.Error("encode response", "error", err)
		status, contentType = http.StatusInternalServerError, "application/problem+json"
		b = []byte(`{"type":"` + ProblemTypeBase + `internal","title":"Something went wrong on our side.","status":500}`)
	}
	hs := map[string]string{"Content-Type": contentType, "Cache-Control": "no-store"}
	for k, v := range headers {
		hs[k] = v
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: hs, Body: string(b)}
}
