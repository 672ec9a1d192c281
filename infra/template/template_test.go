package template

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/ocpro/upgrade/internal/config"
)

func load(t *testing.T) *Template {
	t.Helper()
	tp, err := Load(filepath.Join("..", "..", "template.yaml"), Options{
		Parameters: map[string]string{"JwtIssuer": "https://issuer.test/tid/v2.0", "JwtAudience": "api://portal", "PublicBaseUrl": "http://127.0.0.1:3000"},
		Names:      map[string]string{"Table": "local-table"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

func TestFunctionsFollowTheDesignCard(t *testing.T) {
	t.Parallel()
	tp := load(t)
	want := []string{"ConsentCallbackFunction", "InvitationEmailFunction", "InvitationRemindersFunction", "TokenValidationFunction", "UpgradeRequestsFunction"}
	var got []string
	for id, f := range tp.Functions {
		got = append(got, id)
		if f.Environment["TABLE_NAME"] != "local-table" {
			t.Errorf("%s: TABLE_NAME = %q, want the Globals value resolved to the local name", id, f.Environment["TABLE_NAME"])
		}
		if f.Environment["PUBLIC_BASE_URL"] != "http://127.0.0.1:3000" {
			t.Errorf("%s: parameter override not applied: %q", id, f.Environment["PUBLIC_BASE_URL"])
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("functions = %v, want %v", got, want)
	}
	// A function's own Timeout replaces the Globals one; its Environment
	// variables merge with the Globals ones.
	if tp.Functions["InvitationRemindersFunction"].Timeout != 120 || tp.Functions["UpgradeRequestsFunction"].Timeout != 15 {
		t.Errorf("timeouts not merged as SAM does")
	}
	if tp.Functions["UpgradeRequestsFunction"].Environment["OPERATOR_CLAIM"] != "operator_id" {
		t.Errorf("parameter default not applied")
	}
}

// Every /v1 route is behind the JWT authorizer and no public route is.
func TestRoutesAndAuthorizer(t *testing.T) {
	t.Parallel()
	tp := load(t)
	if tp.Authorizer == nil || tp.Authorizer.Issuer != "https://issuer.test/tid/v2.0" || !slices.Equal(tp.Authorizer.Audience, []string{"api://portal"}) {
		t.Fatalf("authorizer = %+v", tp.Authorizer)
	}
	if len(tp.Authorizer.Scopes) == 0 {
		t.Errorf("the authorizer requires no scope, so an ID token would pass")
	}
	seen := map[string]bool{}
	for _, r := range tp.Routes {
		if seen[r.RouteKey()] {
			t.Errorf("route %s defined twice", r.RouteKey())
		}
		seen[r.RouteKey()] = true
		v1 := strings.HasPrefix(r.Path, "/v1/")
		if v1 == r.Public {
			t.Errorf("route %s: public=%v", r.RouteKey(), r.Public)
		}
	}
	for _, key := range []string{"POST /v1/customers/{id}/upgrades", "GET /invite/{token}", "GET /consent/callback"} {
		if !seen[key] {
			t.Errorf("no route %s", key)
		}
	}
}

func TestRulesSchedulesAndTables(t *testing.T) {
	t.Parallel()
	tp := load(t)
	for _, r := range tp.Rules {
		if r.Bus == "" || len(r.Pattern) == 0 || !r.HasDLQ {
			t.Errorf("rule %s.%s = %+v", r.Function, r.Event, r)
		}
	}
	// The reminder sweep and the credential keep-alive.
	if len(tp.Schedules) != 2 || tp.Schedules[0].Expression != "rate(15 minutes)" {
		t.Fatalf("schedules = %+v", tp.Schedules)
	}
	for _, s := range tp.Schedules {
		if !s.HasDLQ {
			t.Errorf("schedule %s.%s has no dead-letter queue", s.Function, s.Event)
		}
	}
	if len(tp.Tables) != 1 {
		t.Fatalf("tables = %+v", tp.Tables)
	}
	tb := tp.Tables[0]
	if tb.Name != "local-table" || tb.TTLAttribute != "ttl" || len(tb.Indexes) != 3 {
		t.Fatalf("table = %+v", tb)
	}
	defined := map[string]bool{}
	for _, a := range tb.Attributes {
		defined[a.Name] = true
	}
	for _, ix := range append([]Index{{Name: "table", Key: tb.Key}}, tb.Indexes...) {
		for _, k := range ix.Key {
			if !defined[k.Name] {
				t.Errorf("%s key %s has no attribute definition", ix.Name, k.Name)
			}
		}
	}
}

func TestIntrinsics(t *testing.T) {
	t.Parallel()
	src := `
Parameters:
  Name: {Type: String, Default: world}
Resources:
  Bus: {Type: AWS::Events::EventBus, Properties: {Name: x}}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          A: !Sub "hello ${Name} in ${AWS::Region}"
          B: !GetAtt Bus.Arn
          C: {"Fn::Sub": "${Bus}/${AWS::AccountId}"}
          D: {Ref: Name}
`
	tp, err := Parse([]byte(src), Options{Region: "eu-north-1", AccountID: "123"})
	if err != nil {
		t.Fatal(err)
	}
	env := tp.Functions["Fn"].Environment
	want := map[string]string{"A": "hello world in eu-north-1", "B": "arn:aws:events:eu-north-1:123:event-bus/Bus", "C": "Bus/123", "D": "world"}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	for _, bad := range []string{
		"Resources: {Fn: {Type: AWS::Serverless::Function, Properties: {Environment: {Variables: {A: !Ref Nope}}}}}",
		"Resources: {Fn: {Type: AWS::Serverless::Function, Properties: {Environment: {Variables: {A: !Sub \"${Nope\"}}}}}",
		"Resources: {Fn: {Type: AWS::Serverless::Function, Properties: {Events: {E: {Type: SQS}}}}}",
		"Resources: [",
	} {
		if _, err := Parse([]byte(bad), Options{}); err == nil {
			t.Errorf("Parse(%q) succeeded, want an error", bad)
		}
	}
}

func TestFunctionDir(t *testing.T) {
	t.Parallel()
	tests := []struct{ id, want string }{
		{"UpgradeRequestsFunction", "./functions/upgraderequests"},
		{"InvitationEmailFunction", "./functions/invitationemail"},
		{"Odd", "./functions/odd"},
	}
	for _, tt := range tests {
		if got := FunctionDir(tt.id); got != tt.want {
			t.Errorf("FunctionDir(%q) = %q, want %q", tt.id, got, tt.want)
		}
	}
}

// The README's configuration section names every parameter of the template
// and every environment variable a function gets, with the functions that
// get it, and every variable internal/config defines, so that it cannot fall
// behind the template or the code. Which variables each function reads is
// checked against the template by the function's own
// TestReadsWhatTheTemplateGives.
func TestReadmeNamesEveryParameterAndVariable(t *testing.T) {
	t.Parallel()
	tp := load(t)
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for name := range tp.Parameters {
		if !strings.Contains(readme, "`"+name+"`") {
			t.Errorf("README.md does not name the parameter %s", name)
		}
	}
	given := map[string][]string{} // variable -> functions the template gives it to, in README words
	for id, fn := range tp.Functions {
		for name := range fn.Environment {
			if !strings.Contains(readme, "`"+name+"`") {
				t.Errorf("README.md does not name %s's environment variable %s", id, name)
			}
			given[name] = append(given[name], readmeName(id))
		}
	}
	for _, name := range config.Names() {
		if !strings.Contains(readme, "`"+name+"`") {
			t.Errorf("README.md does not name %s, which internal/config defines", name)
		}
		if len(given[name]) == 0 {
			t.Errorf("internal/config defines %s, which template.yaml gives no function", name)
		}
	}
	rows := variableRows(t, readme)
	for name, functions := range given {
		want := functions
		if len(functions) == len(tp.Functions) {
			want = []string{"all"}
		}
		slices.Sort(want)
		if got, ok := rows[name]; ok && !slices.Equal(got, want) {
			t.Errorf("README.md says %s goes to %v; template.yaml gives it to %v", name, got, want)
		} else if !ok {
			t.Errorf("README.md's table of variables has no row for %s", name)
		}
	}
	for name := range rows {
		if _, ok := given[name]; !ok {
			t.Errorf("README.md documents %s, which template.yaml gives no function", name)
		}
	}
}

// readmeName is how the README names a function: its logical id without
// "Function", in lower-case words ("upgrade requests").
func readmeName(logicalID string) string {
	var b strings.Builder
	for i, r := range strings.TrimSuffix(logicalID, "Function") {
		if unicode.IsUpper(r) && i > 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// variableRows reads the README's table of environment variables: for each
// variable, the functions its row names, sorted, without the remarks in
// parentheses.
func variableRows(t *testing.T, readme string) map[string][]string {
	t.Helper()
	_, section, ok := strings.Cut(readme, "\n## Configuration\n")
	if !ok {
		t.Fatal("README.md has no Configuration section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	remark := regexp.MustCompile(`\([^)]*\)`)
	rows := map[string][]string{}
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		var functions []string
		for _, f := range strings.Split(remark.ReplaceAllString(cells[2], ""), ",") {
			functions = append(functions, strings.TrimSpace(f))
		}
		slices.Sort(functions)
		for _, name := range strings.Split(cells[1], ",") {
			name = strings.Trim(strings.TrimSpace(name), "`")
			if name == strings.ToUpper(name) {
				rows[name] = functions
			}
		}
	}
	if len(rows) == 0 {
		t.Fatal("README.md's Configuration section has no table of variables")
	}
	return rows
}

// TestPublicRoutesAreThrottled fails when a route without the JWT
// authorizer has no RouteSettings of its own below the default: the public
// pages take invitation links, which must not be guessable at API speed.
func TestPublicRoutesAreThrottled(t *testing.T) {
	t.Parallel()
	tp := load(t)
	if tp.DefaultThrottle == nil || tp.DefaultThrottle.RateLimit <= 0 || tp.DefaultThrottle.BurstLimit <= 0 {
		t.Fatalf("DefaultRouteSettings = %+v, want a rate and a burst", tp.DefaultThrottle)
	}
	public := 0
	for _, r := range tp.Routes {
		th, own := tp.Throttles[r.RouteKey()]
		if !r.Public {
			if got, ok := tp.ThrottleFor(r.RouteKey()); !ok || got.RateLimit <= 0 {
				t.Errorf("%s: no throttle", r.RouteKey())
			}
			continue
		}
		public++
		switch {
		case !own:
			t.Errorf("%s is public but has no RouteSettings", r.RouteKey())
		case th.RateLimit <= 0 || th.BurstLimit <= 0:
			t.Errorf("%s: throttle %+v, want a rate and a burst", r.RouteKey(), th)
		case th.RateLimit >= tp.DefaultThrottle.RateLimit || th.BurstLimit >= tp.DefaultThrottle.BurstLimit:
			t.Errorf("%s: throttle %+v is not below the default %+v", r.RouteKey(), th, *tp.DefaultThrottle)
		}
	}
	if public == 0 {
		t.Fatal("no public routes found; the check would pass vacuously")
	}
	if th, _ := tp.ThrottleFor("GET /invite/{token}"); th.RateLimit != 10 || th.BurstLimit != 20 {
		t.Errorf("GET /invite/{token} throttle = %+v, want rate 10 burst 20 as template.yaml says", th)
	}
}

// LoggingConfig in Globals reaches every function, as SAM merges it.
func TestLoggingConfig(t *testing.T) {
	t.Parallel()
	for id, f := range load(t).Functions {
		if f.LogFormat != "JSON" || f.LogLevel != "INFO" {
			t.Errorf("%s: log format %q, level %q; want JSON and INFO from Globals", id, f.LogFormat, f.LogLevel)
		}
	}
}

// A Source read once resolves with values learnt later, as the local stack
// does with its emulator's URLs.
func TestSourceResolvesMoreThanOnce(t *testing.T) {
	t.Parallel()
	src, err := Read(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	roles, ok := src.Default("EntraRequiredRoles")
	if !ok || !strings.Contains(roles, "Organization.Read.All") {
		t.Errorf("Default(EntraRequiredRoles) = %q, %v", roles, ok)
	}
	for _, name := range []string{"JwtIssuer", "NoSuchParameter"} {
		if v, ok := src.Default(name); ok {
			t.Errorf("Default(%s) = %q, want none", name, v)
		}
	}
	for _, base := range []string{"http://127.0.0.1:3000", "http://127.0.0.1:4000"} {
		tp, err := src.Resolve(Options{Parameters: map[string]string{"PublicBaseUrl": base}})
		if err != nil {
			t.Fatal(err)
		}
		if got := tp.Functions["ConsentCallbackFunction"].Environment["PUBLIC_BASE_URL"]; got != base {
			t.Errorf("PUBLIC_BASE_URL = %q, want %q", got, base)
		}
	}
}
