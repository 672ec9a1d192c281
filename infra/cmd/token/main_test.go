package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ocpro/upgrade/infra/entra"
)

// emulator serves an Entra emulator and writes its CA to a file.
func emulator(t *testing.T) (url, caFile string) {
	t.Helper()
	e, err := entra.New(entra.Config{})
	if err != nil {
		t.Fatal(err)
	}
	url, err = e.Serve(t.Context(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, e.CACertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	return url, caFile
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestPrintsToken(t *testing.T) {
	t.Parallel()
	url, ca := emulator(t)
	envFile := filepath.Join(t.TempDir(), "env")
	content := "# written by the stack\nAPI_URL=http://127.0.0.1:3000\nENTRA_URL=" + url + "\nENTRA_CA_FILE=\"" + ca + "\"\n"
	if err := os.WriteFile(envFile, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		args         []string
		vars         map[string]string
		wantOperator string
	}{
		{"flags", []string{"-url", url, "-ca", ca, "-env", envFile, "-operator", "acme"}, nil, "acme"},
		// No flags at all: the default env file is absent here, which is fine.
		{"environment, default operator", nil, map[string]string{"ENTRA_URL": url, "ENTRA_CA_FILE": ca}, "local-operator"},
		{"env file", []string{"-env", envFile, "-operator", "globex"}, nil, "globex"},
		{"flag beats env file", []string{"-env", envFile, "-url", url}, map[string]string{"ENTRA_URL": "https://127.0.0.1:1"}, "local-operator"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			if err := run(t.Context(), tc.args, env(tc.vars), &out, &errOut); err != nil {
				t.Fatalf("run: %v (stderr %q)", err, errOut.String())
			}
			tok := strings.TrimSpace(out.String())
			claims := jwt.MapClaims{}
			if _, _, err := jwt.NewParser().ParseUnverified(tok, claims); err != nil {
				t.Fatalf("output is not a JWT: %q: %v", tok, err)
			}
			if claims["operator_id"] != tc.wantOperator {
				t.Errorf("operator_id = %v, want %s", claims["operator_id"], tc.wantOperator)
			}
		})
	}
}

func TestClearErrors(t *testing.T) {
	t.Parallel()
	url, ca := emulator(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "https://" + ln.Addr().String()
	ln.Close()
	_, otherCA := emulator(t)
	missing := filepath.Join(t.TempDir(), "absent")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"stack not running", []string{"-url", dead, "-ca", ca, "-env", os.DevNull}, "make run"},
		{"no URL anywhere", []string{"-env", os.DevNull}, "no emulator URL"},
		{"explicit env file missing", []string{"-env", missing}, "read env file"},
		{"plain http URL", []string{"-url", "http://127.0.0.1:1", "-env", os.DevNull}, "must be https"},
		{"CA file missing", []string{"-url", url, "-ca", missing, "-env", os.DevNull}, "read emulator CA"},
		{"CA file without certificates", []string{"-url", url, "-ca", os.DevNull, "-env", os.DevNull}, "holds no PEM certificate"},
		{"CA of another stack", []string{"-url", url, "-ca", otherCA, "-env", os.DevNull}, "does not trust"},
		{"operator refused", []string{"-url", url, "-ca", ca, "-env", os.DevNull, "-operator", ""}, "emulator refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			err := run(t.Context(), tc.args, env(nil), &out, &errOut)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
			if out.Len() != 0 {
				t.Errorf("printed %q on failure", out.String())
			}
		})
	}
}
