package secret_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ocpro/upgrade/internal/secret"
)

type fakeSM struct {
	calls atomic.Int32
	value string
	err   error
}

func (f *fakeSM) GetSecretValue(_ context.Context, in secret.GetSecretValueInput) (*secret.SecretValue, error) {
	f.calls.Add(1)
	if f.err != nil {
		return nil, f.err
	}
	return &secret.SecretValue{SecretString: f.value}, nil
}

func TestKey(t *testing.T) {
	t.Parallel()
	good := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("a", 32)))
	tests := []struct {
		name    string
		value   string
		err     error
		wantErr bool
	}{
		{"base64 of 32 bytes", good, nil, false},
		{"trailing newline is tolerated", good + "\n", nil, false},
		{"too short", base64.StdEncoding.EncodeToString([]byte("short")), nil, true},
		{"not base64", "%%%", nil, true},
		{"fetch fails", "", errors.New("AccessDenied"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sm := &fakeSM{value: tt.value, err: tt.err}
			k, err := secret.NewKey(sm, "arn:aws:secretsmanager:eu-west-1:1:secret:link", 32)
			if err != nil {
				t.Fatal(err)
			}
			got, err := k.Key(context.Background())
			if (err != nil) != tt.wantErr {
				t.Fatalf("Key() error = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), tt.value) && tt.value != "" {
				t.Errorf("error %q reveals the secret value", err)
			}
			if !tt.wantErr && len(got) != 32 {
				t.Errorf("Key() = %d bytes", len(got))
			}
		})
	}
}

func TestKeyIsFetchedOnceAndOnlyOnNeed(t *testing.T) {
	t.Parallel()
	sm := &fakeSM{value: base64.StdEncoding.EncodeToString(make([]byte, 32))}
	k, err := secret.NewKey(sm, "arn", 32)
	if err != nil {
		t.Fatal(err)
	}
	if n := sm.calls.Load(); n != 0 {
		t.Fatalf("NewKey made %d calls, want 0", n)
	}
	for range 3 {
		if _, err := k.Key(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := sm.calls.Load(); n != 2 {
		t.Errorf("GetSecretValue called %d times, want 2 (AWSCURRENT and AWSPREVIOUS, once)", n)
	}
}

func TestNewKeyChecksDependencies(t *testing.T) {
	t.Parallel()
	if _, err := secret.NewKey(nil, "arn", 32); err == nil {
		t.Error("nil client accepted")
	}
	if _, err := secret.NewKey(&fakeSM{}, "", 32); err == nil {
		t.Error("empty ARN accepted")
	}
}
