package secret_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/ocpro/upgrade/infra/testenv"
	"github.com/ocpro/upgrade/internal/link"
	"github.com/ocpro/upgrade/internal/secret"
)

const linkKeyARN = "arn:aws:secretsmanager:eu-west-1:000000000000:secret:ocpro/link-key-Ab12Cd"

func key(c byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{c}, 32)) }

// localSecrets is the local Secrets Manager stand-in holding the link key.
func localSecrets(t *testing.T) *testenv.Secrets {
	t.Helper()
	return testenv.LocalSecrets(t, map[string]string{linkKeyARN: key('1')})
}

func rotate(t *testing.T, sm *testenv.Secrets, value string) {
	t.Helper()
	if _, err := sm.Manager.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{SecretId: aws.String(linkKeyARN),
		SecretString: aws.String(value)}); err != nil {
		t.Fatal(err)
	}
}

// container is one warm Lambda container: its own secrets extension (with
// the template's cache setting), cached key and signer.
func container(t *testing.T, sm *testenv.Secrets, c *testenv.Clock) (*secret.Key, *link.Signer) {
	t.Helper()
	k, err := secret.NewKey(sm.FunctionExtension(t), linkKeyARN, link.MinKeySize)
	if err != nil {
		t.Fatal(err)
	}
	secret.SetClock(k, c.Now)
	s, err := link.NewSigner(k, "https://portal.example.net")
	if err != nil {
		t.Fatal(err)
	}
	return k, s
}

// A rotation of the link key kills no live link and leaves no two
// containers disagreeing: a container that cached the old key reads the
// new one when it meets a link made with it, and links made with the old
// key work until the next rotation.
func TestLinkKeyRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sm := localSecrets(t)
	c := testenv.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	generation := func(context.Context, string) (int, bool, error) { return 1, true, nil }

	oldKey, warm := container(t, sm, c)
	before, err := warm.Token(ctx, "inv1", 1)
	if err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Hour)
	rotate(t, sm, key('2'))
	_, fresh := container(t, sm, c)

	// The fresh container makes links with the new key and still accepts
	// the link mailed before the rotation.
	after, err := fresh.Token(ctx, "inv1", 1)
	if err != nil {
		t.Fatal(err)
	}
	if after == before {
		t.Fatal("the new key makes the same link")
	}
	if _, err := fresh.Verify(ctx, before, generation); err != nil {
		t.Errorf("a link made before the rotation is refused: %v", err)
	}
	// The warm container has the old key cached; the new link makes it
	// read the secret again, and it accepts both.
	if _, err := warm.Verify(ctx, after, generation); err != nil {
		t.Errorf("the warm container refuses a link made with the new key: %v", err)
	}
	if _, err := warm.Verify(ctx, before, generation); err != nil {
		t.Errorf("the warm container refuses the old link after reading the new key: %v", err)
	}
	if got, err := warm.Token(ctx, "inv1", 1); err != nil || got != after {
		t.Errorf("the warm container still makes links with the old key: %v", err)
	}
	// A forged link cannot make every request a Secrets Manager call: the
	// key is read again at most once per MinRefreshInterval.
	if read, err := oldKey.Refresh(ctx); err != nil || read {
		t.Errorf("Refresh right after a read = %v, %v; want no read", read, err)
	}
	// After the next rotation the oldest key is gone, and so are its links.
	rotate(t, sm, key('3'))
	_, next := container(t, sm, c)
	if _, err := next.Verify(ctx, before, generation); err == nil {
		t.Error("a link two rotations old still works")
	}
	if _, err := next.Verify(ctx, after, generation); err != nil {
		t.Errorf("a link one rotation old is refused: %v", err)
	}
	if strings.Contains(before, key('1')) {
		t.Fatal("the token holds the key")
	}
}

// A rotated client secret is read again when Microsoft refuses the cached
// one, at most once per MinRefreshInterval, and only a changed secret
// calls for a retry.
func TestCredentialRefresh(t *testing.T) {
	t.Parallel()
	const arn = "arn:aws:secretsmanager:eu-west-1:000000000000:secret:ocpro/entra-Ab12Cd"
	sm := testenv.LocalSecrets(t, map[string]string{arn: `{"clientSecret":"first"}`})
	ctx := context.Background()
	c, err := secret.NewCredential(sm.FunctionExtension(t), arn)
	if err != nil {
		t.Fatal(err)
	}
	clk := testenv.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	secret.SetCredentialClock(c, clk.Now)
	if s, err := c.ClientSecret(ctx); err != nil || s != "first" {
		t.Fatalf("ClientSecret = %q, %v", s, err)
	}
	if _, err := sm.Manager.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String(`{"clientSecret":"second"}`)}); err != nil {
		t.Fatal(err)
	}
	if s, err := c.ClientSecret(ctx); err != nil || s != "first" {
		t.Fatalf("the cached secret changed without a refresh: %q, %v", s, err)
	}
	refused := errors.New("invalid_client: AADSTS7000215: Invalid client secret provided.")
	if !secret.RefreshIfStale(ctx, c, refused) {
		t.Fatal("a refused secret did not make the credential read the rotated one")
	}
	if s, err := c.ClientSecret(ctx); err != nil || s != "second" {
		t.Fatalf("ClientSecret after the refresh = %q, %v", s, err)
	}
	if secret.RefreshIfStale(ctx, c, refused) {
		t.Error("a second refresh within the interval read again")
	}
	clk.Advance(secret.MinRefreshInterval)
	if secret.RefreshIfStale(ctx, c, refused) {
		t.Error("a refresh that read the same secret asked for a retry")
	}
	for _, err := range []error{nil, errors.New("AADSTS700016: application not found"), errors.New("AADSTS70002150")} {
		if secret.Stale(err) {
			t.Errorf("Stale(%v) = true", err)
		}
	}
	if !secret.Stale(errors.New("AADSTS7000222: The provided client secret keys are expired.")) {
		t.Error("an expired secret is not stale")
	}
}
