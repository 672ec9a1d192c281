package seslocal_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/ocpro/upgrade/infra/seslocal"
	"github.com/ocpro/upgrade/infra/testenv"
)

func nodeModules(t testing.TB) string {
	t.Helper()
	return filepath.Join(testenv.RepoRoot(t), "infra", "node_modules")
}

// start runs a server of the test's own and stops it after the test.
func start(t *testing.T) *seslocal.Server {
	t.Helper()
	testenv.Integration(t)
	s, err := seslocal.Start(t.Context(), seslocal.Options{NodeModules: nodeModules(t)})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func newSES(t *testing.T, endpoint string) *sesv2.Client {
	t.Helper()
	return sesv2.New(sesv2.Options{
		Region:       "eu-west-1",
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		BaseEndpoint: aws.String(endpoint),
	})
}

func send(t *testing.T, client *sesv2.Client, to, subject string) string {
	t.Helper()
	id, err := trySend(t.Context(), client, to, subject)
	if err != nil {
		t.Fatalf("SendEmail: %v", err)
	}
	return id
}

// trySend sends a simple mail as the service does, and may run on any
// goroutine.
func trySend(ctx context.Context, client *sesv2.Client, to, subject string) (string, error) {
	out, err := client.SendEmail(ctx, &sesv2.SendEmailInput{
		FromEmailAddress: aws.String("no-reply@ocpro.example"),
		ReplyToAddresses: []string{"support@ocpro.example"},
		Destination:      &types.Destination{ToAddresses: []string{to}},
		Content: &types.EmailContent{Simple: &types.Message{
			Subject: &types.Content{Data: aws.String(subject)},
			Body: &types.Body{
				Text: &types.Content{Data: aws.String("Open the link to continue.")},
				Html: &types.Content{Data: aws.String("<p>Open the <a href=\"https://x.example\">link</a>.</p>")},
			},
		}},
	})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.MessageId), nil
}

func TestStartRefusesWhatCannotRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name        string
		opts        seslocal.Options
		integration bool
		want        string
	}{
		{"not installed", seslocal.Options{NodeModules: dir}, false, "run `make deps`"},
		{"no node", seslocal.Options{Node: filepath.Join(dir, "no-such-node")}, true, "needs Node.js"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.integration {
				testenv.Integration(t)
				tt.opts.NodeModules = nodeModules(t)
			}
			_, err := seslocal.Start(t.Context(), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Start error = %v, want one saying %q", err, tt.want)
			}
		})
	}
}

func TestStartOnTakenPortFails(t *testing.T) {
	t.Parallel()
	testenv.Integration(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	_, err = seslocal.Start(t.Context(), seslocal.Options{NodeModules: nodeModules(t), Port: port})
	if err == nil || !strings.Contains(err.Error(), strconv.Itoa(port)) {
		t.Fatalf("Start on taken port %d: error = %v, want one naming the port", port, err)
	}
}

func TestSentMailsCanBeReadBack(t *testing.T) {
	t.Parallel()
	s := start(t)
	client := newSES(t, s.Endpoint())
	before := time.Now()
	idA := send(t, client, "Admin.A@contoso.example", "Upgrade to OC Pro")
	idB := send(t, client, "admin.b@fabrikam.example", "Reminder")

	all, err := seslocal.Mails(t.Context(), s.Endpoint(), time.Time{})
	if err != nil {
		t.Fatalf("Mails: %v", err)
	}
	if len(all) != 2 || all[0].MessageID != idA || all[1].MessageID != idB {
		t.Fatalf("Mails = %+v, want %s then %s", all, idA, idB)
	}
	m := all[0]
	checks := []struct{ name, got, want string }{
		{"from", m.From, "no-reply@ocpro.example"},
		{"reply-to", strings.Join(m.ReplyTo, ","), "support@ocpro.example"},
		{"to", strings.Join(m.To, ","), "Admin.A@contoso.example"},
		{"subject", m.Subject, "Upgrade to OC Pro"},
		{"text", m.Text, "Open the link to continue."},
		{"html", m.HTML, "<p>Open the <a href=\"https://x.example\">link</a>.</p>"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if m.At.Before(before.Truncate(time.Second)) || m.At.After(time.Now()) {
		t.Errorf("At = %v, want between %v and now", m.At, before)
	}

	tests := []struct {
		name    string
		address string
		want    []string
	}{
		{"exact address", "admin.b@fabrikam.example", []string{idB}},
		{"other case", "admin.a@CONTOSO.example", []string{idA}},
		{"nobody", "nobody@contoso.example", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := seslocal.MailsTo(t.Context(), s.Endpoint(), tt.address)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, m := range got {
				ids = append(ids, m.MessageID)
			}
			if strings.Join(ids, ",") != strings.Join(tt.want, ",") {
				t.Errorf("MailsTo(%s) = %v, want %v", tt.address, ids, tt.want)
			}
		})
	}

	future, err := seslocal.Mails(t.Context(), s.Endpoint(), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(future) != 0 {
		t.Errorf("Mails since an hour ahead = %d mails, want none", len(future))
	}

	if err := seslocal.Clear(t.Context(), s.Endpoint()); err != nil {
		t.Fatalf("Clear: %v", err)
	}
	if left, err := seslocal.Mails(t.Context(), s.Endpoint(), time.Time{}); err != nil || len(left) != 0 {
		t.Errorf("after Clear: %d mails, err %v; want none", len(left), err)
	}
}

func TestWaitForMail(t *testing.T) {
	t.Parallel()
	endpoint := testenv.SES(t)
	to := testenv.UniqueAddress(t, "admin")

	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if _, err := seslocal.WaitForMail(ctx, endpoint, to); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitForMail with no mail: error = %v, want deadline exceeded", err)
	}

	client := newSES(t, endpoint)
	sent := make(chan error, 1)
	go func() {
		_, err := trySend(t.Context(), client, to, "Later")
		sent <- err
	}()
	ctx, cancel = context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	m, err := seslocal.WaitForMail(ctx, endpoint, to)
	if sendErr := <-sent; sendErr != nil {
		t.Fatalf("SendEmail: %v", sendErr)
	}
	if err != nil {
		t.Fatalf("WaitForMail: %v", err)
	}
	if m.Subject != "Later" || !m.SentTo(to) {
		t.Errorf("WaitForMail = %+v, want the mail to %s", m, to)
	}
}

func TestGetAccountAnswers(t *testing.T) {
	t.Parallel()
	endpoint := testenv.SES(t)
	acct, err := newSES(t, endpoint).GetAccount(t.Context(), &sesv2.GetAccountInput{})
	if err != nil {
		t.Fatalf("GetAccount: %v", err)
	}
	if !acct.SendingEnabled || !acct.ProductionAccessEnabled {
		t.Errorf("account: sending %v, production %v; want both", acct.SendingEnabled, acct.ProductionAccessEnabled)
	}
	if acct.SendQuota == nil || acct.SendQuota.MaxSendRate != 14 {
		t.Errorf("SendQuota = %+v, want 14 mails/s", acct.SendQuota)
	}
}

func TestMailSentTo(t *testing.T) {
	t.Parallel()
	m := seslocal.Mail{To: []string{"a@x.example"}, CC: []string{"b@x.example"}, BCC: []string{" C@x.example "}}
	tests := []struct {
		address string
		want    bool
	}{
		{"a@x.example", true},
		{"B@X.example", true},
		{"c@x.example", true},
		{"d@x.example", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.address, func(t *testing.T) {
			t.Parallel()
			if got := m.SentTo(tt.address); got != tt.want {
				t.Errorf("SentTo(%q) = %v, want %v", tt.address, got, tt.want)
			}
		})
	}
}

func TestStoreErrorsAreReported(t *testing.T) {
	t.Parallel()
	// A port that was free a moment ago answers nothing.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	if _, err := seslocal.Mails(t.Context(), dead, time.Time{}); err == nil {
		t.Error("Mails from a closed port: got no error")
	}
	if err := seslocal.Clear(t.Context(), dead); err == nil {
		t.Error("Clear on a closed port: got no error")
	}
}

// helperEnv makes the test binary act as a parent that starts a server,
// prints the server's endpoint and waits to be killed.
const helperEnv = "SESLOCAL_TEST_PARENT"

func TestMain(m *testing.M) {
	if nm := os.Getenv(helperEnv); nm != "" {
		s, err := seslocal.Start(context.Background(), seslocal.Options{NodeModules: nm})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println(s.Endpoint())
		select {}
	}
	os.Exit(m.Run())
}

func TestServerDiesWithItsParent(t *testing.T) {
	t.Parallel()
	testenv.Integration(t)
	parent := exec.Command(os.Args[0], "-test.run=^$")
	parent.Env = append(os.Environ(), helperEnv+"="+nodeModules(t))
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "http://") {
		_ = parent.Process.Kill()
		t.Fatalf("parent said %q (%v), want an endpoint", line, err)
	}
	endpoint := strings.TrimSpace(line)
	if _, err := seslocal.Mails(t.Context(), endpoint, time.Time{}); err != nil {
		t.Fatalf("server of the parent not answering: %v", err)
	}

	if err := parent.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = parent.Wait()

	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", strings.TrimPrefix(endpoint, "http://"), time.Second)
		if err != nil {
			return // the server is gone
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatalf("server at %s still answers after its parent was killed", endpoint)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
