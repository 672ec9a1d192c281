package config

import "testing"

func TestRequire(t *testing.T) {
	t.Parallel()
	env := map[string]string{"TABLE_NAME": "t", "EVENT_BUS_NAME": "b"}
	getenv := func(k string) string { return env[k] }
	tests := []struct {
		name    string
		names   []string
		wantErr string
	}{
		{"all set", []string{"TABLE_NAME", "EVENT_BUS_NAME"}, ""},
		{"one missing", []string{"TABLE_NAME", "PUBLIC_BASE_URL"}, "not set: PUBLIC_BASE_URL"},
		{"every missing one, sorted", []string{"TOKEN_KMS_KEY_ID", "TABLE_NAME", "LINK_KEY_SECRET_ARN"}, "not set: LINK_KEY_SECRET_ARN, TOKEN_KMS_KEY_ID"},
		{"nothing asked", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Require(getenv, tt.names...)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range tt.names {
				if got[n] != env[n] {
					t.Errorf("%s = %q, want %q", n, got[n], env[n])
				}
			}
		})
	}
}
