// Package templatetest checks a function's wiring against template.yaml:
// a function must read only variables the template gives it, and read
// every variable the template gives it alone.
//
// The reads are found by running the function's own wire with a getenv that
// records every name asked for, so that no list of a function's variables
// is kept by hand anywhere.
package templatetest

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ocpro/upgrade/infra/template"
)

// samples are deploy-time values for the template's parameters that have
// no default: what an operator gives sam deploy.
var samples = map[string]string{
	"JwtIssuer":                "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000001/v2.0",
	"JwtAudience":              "api://ocpro-portal",
	"PublicBaseUrl":            "https://connect.live.example.net",
	"SenderAddress":            "no-reply@live.example.net",
	"MailDomain":               "live.example.net",
	"PublicCertificateArn":     "arn:aws:acm:us-east-1:123456789012:certificate/0f8e7d6c-5b4a-4392-8170-6e5d4c3b2a19",
	"PublicWebAclArn":          "arn:aws:wafv2:us-east-1:123456789012:global/webacl/ocpro-web-acl/7c6b5a49-3827-4165-9403-f2e1d0c9b8a7",
	"EntraClientId":            "5e2a7c1d-8b3f-4a6e-9d20-1c4b7f9e0a55",
	"EntraCredentialSecretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ocpro/entra-credential",
	"LinkKeySecretArn":         "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ocpro/link-key",
}

// lambda is what Lambda adds to every function's environment that the
// functions read: the region and the role's credentials.
var lambda = map[string]string{
	"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "token",
}

// Root returns the repository root: the nearest folder above the working
// directory that holds go.mod.
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Template loads template.yaml as deployed with the parameter defaults and
// sample values for the parameters without one.
func Template(t testing.TB) *template.Template {
	t.Helper()
	tp, err := template.Load(filepath.Join(Root(t), "template.yaml"), template.Options{Parameters: samples})
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range tp.Parameters {
		if _, ok := samples[name]; !p.HasDefault && !ok {
			t.Fatalf("template parameter %s has no default; give it a sample value in infra/template/templatetest", name)
		}
	}
	return tp
}

// Env returns the environment functionID gets when deployed: its
// Environment from the template and what Lambda adds.
func Env(t testing.TB, functionID string) map[string]string {
	t.Helper()
	f, ok := Template(t).Functions[functionID]
	if !ok {
		t.Fatalf("template.yaml has no function %s", functionID)
	}
	env := maps.Clone(lambda)
	for k, v := range f.Environment {
		env[k] = v
	}
	return env
}

// Recorder is a getenv that answers from a map and remembers every name
// asked for.
type Recorder struct {
	env   map[string]string
	mu    sync.Mutex
	names []string
}

// NewRecorder returns a Recorder answering from env.
func NewRecorder(env map[string]string) *Recorder { return &Recorder{env: env} }

// Getenv answers name from the map and records it.
func (r *Recorder) Getenv(name string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.Contains(r.names, name) {
		r.names = append(r.names, name)
	}
	return r.env[name]
}

// Names returns every name asked for so far, sorted.
func (r *Recorder) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := slices.Clone(r.names)
	slices.Sort(names)
	return names
}

// CheckReads runs wire with the environment functionID gets when deployed
// and fails t when wire fails, when wire starts with none of the template's
// variables (a broken deployment must stop at init), when it reads a variable template.yaml does
// not give the function, when the function's own Environment in the
// template holds a variable it never reads, or when README.md does not
// document a variable it reads.
func CheckReads(t *testing.T, functionID string, wire func(getenv func(string) string) error) {
	t.Helper()
	tp := Template(t)
	rec := NewRecorder(Env(t, functionID))
	if err := wire(rec.Getenv); err != nil {
		t.Fatalf("%s does not start with the environment template.yaml gives it: %v", functionID, err)
	}
	if err := wire(NewRecorder(maps.Clone(lambda)).Getenv); err == nil {
		t.Errorf("%s starts without any of the variables template.yaml gives it", functionID)
	}
	reads := rec.Names()
	if !slices.ContainsFunc(reads, func(n string) bool { return !template.LambdaSets(n) }) {
		t.Fatalf("%s read no variable of its own (%v); the check would pass vacuously", functionID, reads)
	}
	undeclared, unread := tp.CheckReads(functionID, reads)
	for _, name := range undeclared {
		t.Errorf("%s reads %s, which template.yaml does not give it", functionID, name)
	}
	for _, name := range unread {
		t.Errorf("template.yaml gives %s the variable %s, which it never reads", functionID, name)
	}
	readme, err := os.ReadFile(filepath.Join(Root(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range reads {
		if !template.LambdaSets(name) && !strings.Contains(string(readme), "`"+name+"`") {
			t.Errorf("%s reads %s, which README.md does not document", functionID, name)
		}
	}
}
