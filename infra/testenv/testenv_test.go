package testenv_test

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/ocpro/upgrade/infra/seslocal"
	"github.com/ocpro/upgrade/infra/testenv"
)

// helperEnv makes the test binary call testenv.DynamoDB once with a recorder
// instead of running the tests, so that a test can watch what it does in a
// process whose shared server state is its own.
const helperEnv = "TESTENV_HELPER_DYNAMODB"

// recorder is a testing.TB that prints the first fatal message and exits.
type recorder struct{ testing.TB }

func (recorder) Helper()      {}
func (recorder) Name() string { return "Helper" }
func (recorder) Fatalf(format string, args ...any) {
	fmt.Printf("fatal: "+format+"\n", args...)
	os.Exit(3)
}

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		flag.Parse() // testing.Short reads the flags
		testenv.DynamoDB(recorder{})
		fmt.Println("no fatal")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestRepoRootHoldsTheTemplate(t *testing.T) {
	t.Parallel()
	root := testenv.RepoRoot(t)
	for _, f := range []string{"go.mod", "template.yaml"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("RepoRoot %s has no %s: %v", root, f, err)
		}
	}
}

func TestCacheDir(t *testing.T) {
	// Not parallel: it sets the environment.
	root := testenv.RepoRoot(t)
	tests := []struct {
		name, env, want string
	}{
		{"from the environment", "/somewhere/cache", "/somewhere/cache"},
		{"beside the repository", "", filepath.Join(root, ".cache")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(testenv.CacheEnv, tt.env)
			if got := testenv.CacheDir(t); got != tt.want {
				t.Errorf("CacheDir = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDynamoDBWithoutInstallFailsWithTheFix(t *testing.T) {
	t.Parallel()
	testenv.Integration(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1", testenv.CacheEnv+"="+t.TempDir())
	out, err := cmd.Output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("helper: %v, output %q; want exit 3 from Fatalf", err, out)
	}
	want := "DynamoDB Local is not installed: run `make deps` (make test does this)"
	if !strings.Contains(string(out), want) {
		t.Errorf("helper said %q, want it to say %q", out, want)
	}
}

func TestDynamoDBGivesEachTestItsOwnTable(t *testing.T) {
	t.Parallel()
	var names [2]string
	var client *dynamodb.Client
	t.Run("first", func(t *testing.T) {
		c, table := testenv.DynamoDB(t)
		client, names[0] = c, table
		_, err := c.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: "ONLY#first"},
			"SK": &types.AttributeValueMemberS{Value: "META"},
		}})
		if err != nil {
			t.Fatal(err)
		}

		// A second table while the first still exists: nothing is shared.
		// The name has characters a table name may not hold.
		t.Run("second: ünïcode & spaces", func(t *testing.T) {
			c, table := testenv.DynamoDB(t)
			names[1] = table
			if table == names[0] {
				t.Fatalf("both calls got table %s", table)
			}
			got, err := c.Scan(t.Context(), &dynamodb.ScanInput{TableName: aws.String(table)})
			if err != nil {
				t.Fatal(err)
			}
			if got.Count != 0 {
				t.Errorf("fresh table %s holds %d items", table, got.Count)
			}
			ttl, err := c.DescribeTimeToLive(t.Context(), &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
			if err != nil {
				t.Fatal(err)
			}
			if d := ttl.TimeToLiveDescription; d.TimeToLiveStatus != types.TimeToLiveStatusEnabled || aws.ToString(d.AttributeName) != "ttl" {
				t.Errorf("TTL = %s on %q, want ENABLED on ttl", d.TimeToLiveStatus, aws.ToString(d.AttributeName))
			}
		})
	})
	if t.Failed() {
		return
	}
	for _, name := range names {
		_, err := client.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		var gone *types.ResourceNotFoundException
		if !errors.As(err, &gone) {
			t.Errorf("table %s after its test: DescribeTable error = %v, want ResourceNotFoundException", name, err)
		}
	}
}

func TestDynamoDBEndpointIsTheSharedServer(t *testing.T) {
	t.Parallel()
	_, table := testenv.DynamoDB(t)
	if got := testenv.DynamoDBEndpoint(t); !strings.HasPrefix(got, "http://127.0.0.1:") {
		t.Fatalf("DynamoDBEndpoint = %q, want http://127.0.0.1:port", got)
	}
	if table == "" {
		t.Fatal("no table")
	}
}

func TestSESIsSharedAndAddressesIsolate(t *testing.T) {
	t.Parallel()
	first, second := testenv.SES(t), testenv.SES(t)
	if first != second {
		t.Fatalf("SES started two servers: %s and %s", first, second)
	}
	mine, theirs := testenv.UniqueAddress(t, "admin"), testenv.UniqueAddress(t, "admin")
	client := sesv2.New(sesv2.Options{
		Region:       "eu-west-1",
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		BaseEndpoint: aws.String(first),
	})
	for _, to := range []string{mine, theirs} {
		_, err := client.SendEmail(t.Context(), &sesv2.SendEmailInput{
			FromEmailAddress: aws.String("no-reply@ocpro.example"),
			Destination:      &sestypes.Destination{ToAddresses: []string{to}},
			Content: &sestypes.EmailContent{Simple: &sestypes.Message{
				Subject: &sestypes.Content{Data: aws.String("for " + to)},
				Body:    &sestypes.Body{Text: &sestypes.Content{Data: aws.String("hello")}},
			}},
		})
		if err != nil {
			t.Fatalf("SendEmail to %s: %v", to, err)
		}
	}
	mails, err := seslocal.MailsTo(t.Context(), first, mine)
	if err != nil {
		t.Fatal(err)
	}
	if len(mails) != 1 || mails[0].Subject != "for "+mine {
		t.Errorf("MailsTo(%s) = %+v, want only the mail sent to it", mine, mails)
	}
}

func TestUniqueAddress(t *testing.T) {
	t.Parallel()
	valid := regexp.MustCompile(`^admin\+[a-z0-9-]+@example\.com$`)
	seen := map[string]bool{}
	for range 3 {
		a := testenv.UniqueAddress(t, "admin")
		if !valid.MatchString(a) {
			t.Errorf("UniqueAddress = %q, not of the form admin+tag@example.com", a)
		}
		if seen[a] {
			t.Errorf("UniqueAddress repeated %q", a)
		}
		seen[a] = true
	}
}
