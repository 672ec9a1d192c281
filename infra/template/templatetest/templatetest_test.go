package templatetest

import (
	"slices"
	"testing"
)

func TestRecorderRemembersEveryNameOnce(t *testing.T) {
	t.Parallel()
	r := NewRecorder(map[string]string{"B": "b"})
	if r.Getenv("B") != "b" || r.Getenv("A") != "" || r.Getenv("B") != "b" {
		t.Fatal("Getenv does not answer from the map")
	}
	if got := r.Names(); !slices.Equal(got, []string{"A", "B"}) {
		t.Errorf("Names() = %v, want [A B]", got)
	}
}

func TestEnvIsTheDeployedEnvironment(t *testing.T) {
	t.Parallel()
	env := Env(t, "UpgradeRequestsFunction")
	for name, want := range map[string]string{
		"AWS_REGION":      "eu-west-1",              // from Lambda
		"PUBLIC_BASE_URL": samples["PublicBaseUrl"], // a sample for a parameter without default
		"OPERATOR_CLAIM":  "operator_id",            // a parameter's default
		"TABLE_NAME":      "Table",                  // a resource, from Globals
		"SIP_DOMAIN":      Template(t).Parameters["SipDomain"].Default,
	} {
		if env[name] != want {
			t.Errorf("%s = %q, want %q", name, env[name], want)
		}
	}
}
