package api_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/ocpro/upgrade/infra/template"
)

// openAPIPath is the portal API's document, kept next to template.yaml.
var openAPIPath = filepath.Join("..", "..", "openapi.yaml")

func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile(openAPIPath)
	if err != nil {
		t.Fatalf("load %s: %v", openAPIPath, err)
	}
	return doc
}

// The document is a valid OpenAPI 3.1 document: kin-openapi checks its
// structure, every $ref, and its schemas with the JSON Schema 2020-12 rules
// that 3.1 uses.
func TestOpenAPIDocumentIsValid(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi = %q, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.yaml is not valid: %v", err)
	}
}

// Every portal route of template.yaml is in openapi.yaml and the other way
// round; the public pages are not portal routes.
func TestOpenAPIRoutesMatchTemplate(t *testing.T) {
	t.Parallel()
	tmpl, err := template.Load(filepath.Join("..", "..", "template.yaml"), template.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var inTemplate []string
	for _, r := range tmpl.Routes {
		if !r.Public {
			inTemplate = append(inTemplate, r.Method+" "+r.Path)
		}
	}
	var inDoc []string
	for path, item := range loadOpenAPI(t).Paths.Map() {
		for method := range item.Operations() {
			inDoc = append(inDoc, method+" "+path)
		}
	}
	slices.Sort(inTemplate)
	slices.Sort(inDoc)
	if missing := difference(inTemplate, inDoc); len(missing) > 0 {
		t.Errorf("routes in template.yaml but not in openapi.yaml: %v", missing)
	}
	if extra := difference(inDoc, inTemplate); len(extra) > 0 {
		t.Errorf("routes in openapi.yaml but not in template.yaml: %v", extra)
	}
	for _, rk := range inDoc {
		if !strings.HasPrefix(strings.SplitN(rk, " ", 2)[1], "/v1/") {
			t.Errorf("%s: a portal route outside /v1", rk)
		}
	}
}

// Every operation needs the operator's token with the portal scope, and
// declares what the gateway answers before any function runs.
func TestOpenAPIOperationsNeedTheScope(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	if s := doc.Components.SecuritySchemes["operatorJwt"]; s == nil || s.Value.Scheme != "bearer" || s.Value.BearerFormat != "JWT" {
		t.Fatalf("operatorJwt scheme = %+v", s)
	}
	if len(doc.Security) != 1 || !slices.Equal(doc.Security[0]["operatorJwt"], []string{"Upgrades.Manage"}) {
		t.Fatalf("top-level security = %v", doc.Security)
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.Security != nil {
				t.Errorf("%s %s overrides the security requirement", method, path)
			}
			for _, status := range []string{"401", "403", "500"} {
				if op.Responses.Value(status) == nil {
					t.Errorf("%s %s does not declare %s", method, path, status)
				}
			}
		}
	}
}

// difference returns the members of a that b lacks; both are sorted.
func difference(a, b []string) []string {
	var out []string
	for _, s := range a {
		if _, ok := slices.BinarySearch(b, s); !ok {
			out = append(out, s)
		}
	}
	return out
}
