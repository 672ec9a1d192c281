package bench

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ocpro/upgrade/infra/template"
)

const probeTemplateYAML = `
Parameters:
  PublicBaseUrl: {Type: String}
  EntraAuthorityHost: {Type: String, Default: https://login.microsoftonline.com}
  JwtIssuer: {Type: String}
  LinkKeySecretArn: {Type: String}
  EntraClientId: {Type: String}
  SenderAddress: {Type: String}
  LogLevel: {Type: String, Default: INFO}
  Mystery: {Type: String}
Resources:
  ApiFunction:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          PUBLIC_BASE_URL: !Ref PublicBaseUrl
          AUTHORITY: !Ref EntraAuthorityHost
      Events:
        Get: {Type: HttpApi, Properties: {Path: /v1/things, Method: GET}}
  MailFunction:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Mail: {Type: EventBridgeRule, Properties: {Pattern: {source: [ocpro.upgrades]}}}
  SweepFunction:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Sweep: {Type: Schedule, Properties: {Schedule: rate(15 minutes)}}
`

func parseProbeTemplate(t *testing.T, params map[string]string) *template.Template {
	t.Helper()
	tmpl, err := template.Parse([]byte(probeTemplateYAML), template.Options{Parameters: params})
	if err != nil {
		t.Fatalf("template.Parse: %v", err)
	}
	return tmpl
}

func TestProbeFor(t *testing.T) {
	t.Parallel()
	tmpl := parseProbeTemplate(t, nil)
	overrides := t.TempDir()
	if err := os.WriteFile(filepath.Join(overrides, "SweepFunction.json"), []byte(`{"custom":true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	broken := t.TempDir()
	if err := os.WriteFile(filepath.Join(broken, "ApiFunction.json"), []byte(`{not json`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, function, eventsDir string
		wantDescription           string
		wantErr                   bool
	}{
		{"HTTP function gets an unknown route", "ApiFunction", "", "GET " + probePath, false},
		{"EventBridge function gets an unmatched event", "MailFunction", "", "EventBridge Bench Probe", false},
		{"scheduled function gets the scheduled event", "SweepFunction", "", "Scheduled Event", false},
		{"a file in the events folder wins", "SweepFunction", overrides, "SweepFunction.json", false},
		{"functions without a file keep the built-in probe", "ApiFunction", overrides, "GET " + probePath, false},
		{"a file that is not JSON is an error", "ApiFunction", broken, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := ProbeFor(tmpl, tt.function, tt.eventsDir)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ProbeFor error = %v, want error %v", err, tt.wantErr)
			}
			if p.Description != tt.wantDescription {
				t.Errorf("probe = %q, want %q", p.Description, tt.wantDescription)
			}
			if !tt.wantErr && !json.Valid(p.Event) {
				t.Errorf("probe event is not JSON: %s", p.Event)
			}
		})
	}
}

func TestHTTPProbeIsAnAPIGatewayEvent(t *testing.T) {
	t.Parallel()
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(HTTPProbe().Event, &ev); err != nil {
		t.Fatalf("decoding the probe: %v", err)
	}
	if ev.Version != "2.0" || ev.RequestContext.HTTP.Method != "GET" || ev.RawPath != probePath || ev.RouteKey != "GET "+probePath {
		t.Errorf("probe is not a 2.0 GET of %s: %+v", probePath, ev)
	}
}

func TestProbeParameters(t *testing.T) {
	t.Parallel()
	params := ProbeParameters(parseProbeTemplate(t, nil))
	tests := []struct {
		param string
		want  string
	}{
		{"PublicBaseUrl", unreachable},
		{"EntraAuthorityHost", "https://127.0.0.1:1"},
		{"JwtIssuer", "https://127.0.0.1:1"},
		{"LinkKeySecretArn", "arn:aws:secretsmanager:eu-west-1:000000000000:secret:bench/LinkKeySecretArn"},
		{"EntraClientId", "00000000-0000-4000-8000-000000000000"},
		{"SenderAddress", "bench@example.com"},
		{"LogLevel", "INFO"},
		{"Mystery", "bench-mystery"},
	}
	for _, tt := range tests {
		t.Run(tt.param, func(t *testing.T) {
			t.Parallel()
			if got := params[tt.param]; got != tt.want {
				t.Errorf("%s = %q, want %q", tt.param, got, tt.want)
			}
		})
	}
}

func TestProbeEnvKeepsTheNetworkOnLoopback(t *testing.T) {
	t.Parallel()
	tmpl := parseProbeTemplate(t, ProbeParameters(parseProbeTemplate(t, nil)))
	env := ProbeEnv(tmpl.Functions["ApiFunction"])
	for k, v := range env {
		if strings.Contains(v, "://") && !strings.Contains(v, "://127.0.0.1:") {
			t.Errorf("%s=%s leaves the machine", k, v)
		}
	}
	for _, k := range []string{"AWS_ENDPOINT_URL", "AWS_REGION", "PUBLIC_BASE_URL", "AUTHORITY"} {
		if env[k] == "" {
			t.Errorf("%s is not set", k)
		}
	}
	if env["AWS_MAX_ATTEMPTS"] != "1" {
		t.Errorf("AWS_MAX_ATTEMPTS = %q: a refused call must not be retried with backoff", env["AWS_MAX_ATTEMPTS"])
	}
}

func TestOutcome(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body, want string
	}{
		{"HTTP response", `{"statusCode":404,"body":"{}"}`, "statusCode 404"},
		{"function error", `{"errorType":"errorString","errorMessage":"no"}`, "function error: errorString"},
		{"anything else", `"done"`, "6 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := outcome([]byte(tt.body)); got != tt.want {
				t.Errorf("outcome(%s) = %q, want %q", tt.body, got, tt.want)
			}
		})
	}
}
