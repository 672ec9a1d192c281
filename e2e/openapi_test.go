package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// contract is openapi.yaml with a router for the running stack. It is
// built once, after TestMain has started the stack, because the router
// matches the server URL and the stack's port is chosen at start.
var contract = sync.OnceValues(func() (routers.Router, error) {
	doc, err := openapi3.NewLoader().LoadFromFile(filepath.Join("..", "openapi.yaml"))
	if err != nil {
		return nil, fmt.Errorf("load openapi.yaml: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	doc.Servers = openapi3.Servers{{URL: env.APIURL}}
	return gorillamux.NewRouter(doc)
})

// checkContract fails t unless the response to req is one openapi.yaml
// declares for its route: the status, the content type and the body's
// schema. A request to a route the document lacks may only be refused as
// the gateway refuses unknown routes.
func checkContract(t testing.TB, req *http.Request, r response) {
	t.Helper()
	router, err := contract()
	if err != nil {
		t.Errorf("openapi: %v", err)
		return
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		if r.Status != http.StatusNotFound && r.Status != http.StatusMethodNotAllowed {
			t.Errorf("openapi: %s %s answered %d but is not in openapi.yaml: %v", req.Method, req.URL.Path, r.Status, err)
		}
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 r.Status,
		Header:                 r.Header,
		Body:                   io.NopCloser(bytes.NewReader(r.Body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(req.Context(), in); err != nil {
		var me openapi3.MultiError
		if errors.As(err, &me) {
			err = fmt.Errorf("%d problems: %w", len(me), me)
		}
		t.Errorf("openapi: %s %s answered %d %s, not as openapi.yaml says: %v\n%s",
			req.Method, req.URL.Path, r.Status, r.Header.Get("Content-Type"), err, r.Body)
	}
}
