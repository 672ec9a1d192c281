// Package testenv gives integration tests the local stand-ins: DynamoDB Local
// and aws-ses-v2-local, one of each per test binary, started on first use on
// free ports. The processes die with the test binary.
//
// Plain `go test -short ./...` skips the tests that need them; `make test`
// installs them (make deps) and runs everything. The stand-ins are looked up
// in $OCPRO_CACHE (set by the Makefile) or else <repository>/.cache, and in
// <repository>/infra/node_modules.
//
// Isolation: DynamoDB gives every call a fresh table of its own. The SES
// server's mailbox is shared by every test of the binary, so each test must
// send to recipient addresses of its own (UniqueAddress makes one) and read
// its mails with seslocal.MailsTo or seslocal.WaitForMail, never
// seslocal.Clear.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ocpro/upgrade/infra/dynamolocal"
	"github.com/ocpro/upgrade/infra/seslocal"
	"github.com/ocpro/upgrade/infra/template"
)

// CacheEnv names the environment variable that points at the cache folder
// where make deps installs DynamoDB Local.
const CacheEnv = "OCPRO_CACHE"

// tableLogicalID is the table of template.yaml that DynamoDB copies.
const tableLogicalID = "Table"

// cleanupTimeout bounds deleting a test's table after the test.
const cleanupTimeout = 30 * time.Second

// Integration marks a test that needs the local stand-ins: under
// `go test -short` it skips the test, otherwise it does nothing.
func Integration(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs the local stand-ins; run make test")
	}
}

// RepoRoot returns the repository root: the closest folder at or above the
// working directory that holds both go.mod and template.yaml. (The tools
// module has a go.mod of its own but no template.)
func RepoRoot(t testing.TB) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return root
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for {
		if isFile(filepath.Join(dir, "go.mod")) && isFile(filepath.Join(dir, "template.yaml")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no folder with go.mod and template.yaml above the working directory")
		}
		dir = parent
	}
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// CacheDir returns $OCPRO_CACHE, or <repository>/.cache when it is unset.
func CacheDir(t testing.TB) string {
	t.Helper()
	dir, err := cacheDir()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return dir
}

func cacheDir() (string, error) {
	if dir := os.Getenv(CacheEnv); dir != "" {
		return dir, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, ".cache"), nil
}

// dynamo is the test binary's DynamoDB Local, started by the first call to
// DynamoDB.
var dynamo struct {
	once   sync.Once
	err    error
	server *dynamolocal.Server
	client *dynamodb.Client
	table  template.Table
}

// tableSeq makes table names unique within the test binary, which owns the
// DynamoDB Local they live in.
var tableSeq atomic.Int64

// DynamoDB returns a client of the test binary's DynamoDB Local and the name
// of a fresh table, shaped like template.yaml's Table, for this test alone.
// The table is deleted when the test ends. It fails the test with the way to
// install what is missing when DynamoDB Local or Java is not there.
func DynamoDB(t testing.TB) (client *dynamodb.Client, table string) {
	t.Helper()
	Integration(t)
	dynamo.once.Do(startDynamo)
	if dynamo.err != nil {
		t.Fatalf("testenv: %v", dynamo.err)
	}

	name := tableName(t.Name(), tableSeq.Add(1))
	if err := dynamolocal.CreateTables(t.Context(), dynamo.client, []template.Table{dynamo.table},
		func(string) string { return name }); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		// t.Context is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if _, err := dynamo.client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)}); err != nil {
			t.Errorf("testenv: deleting table %s: %v", name, err)
		}
	})
	return dynamo.client, name
}

// DynamoDBEndpoint returns the endpoint of the test binary's DynamoDB Local,
// starting it if need be, for tests that hand it to another process (for
// example a function under aws-lambda-rie, as AWS_ENDPOINT_URL_DYNAMODB). It
// signs with dynamolocal.Region; DynamoDB Local accepts any credentials.
func DynamoDBEndpoint(t testing.TB) string {
	t.Helper()
	Integration(t)
	dynamo.once.Do(startDynamo)
	if dynamo.err != nil {
		t.Fatalf("testenv: %v", dynamo.err)
	}
	return dynamo.server.Endpoint()
}

func startDynamo() {
	dynamo.err = func() error {
		root, err := repoRoot()
		if err != nil {
			return err
		}
		tmpl, err := template.Load(filepath.Join(root, "template.yaml"), template.Options{})
		if err != nil {
			return fmt.Errorf("reading template.yaml: %w", err)
		}
		found := false
		for _, tb := range tmpl.Tables {
			if tb.LogicalID == tableLogicalID {
				dynamo.table, found = tb, true
			}
		}
		if !found {
			return fmt.Errorf("template.yaml has no table %q", tableLogicalID)
		}

		cache, err := cacheDir()
		if err != nil {
			return err
		}
		dir := filepath.Join(cache, "dynamodb")
		if !isFile(filepath.Join(dir, "DynamoDBLocal.jar")) {
			return fmt.Errorf("DynamoDB Local is not installed: run `make deps` (make test does this); looked in %s", dir)
		}
		// The server outlives the test that happened to start it, so no
		// test's context may bound it.
		ctx := context.Background()
		dynamo.server, err = dynamolocal.Start(ctx, dynamolocal.Options{Dir: dir})
		if err != nil {
			return err
		}
		dynamo.client, err = dynamolocal.NewClient(ctx, dynamo.server.Endpoint())
		return err
	}()
}

// invalidTableChars are the characters a DynamoDB table name may not hold.
var invalidTableChars = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// tableName makes a valid, readable table name from a test name: DynamoDB
// allows 3 to 255 characters of [a-zA-Z0-9_.-].
func tableName(testName string, seq int64) string {
	base := strings.Trim(invalidTableChars.ReplaceAllString(testName, "-"), "-")
	if len(base) > 200 {
		base = base[:200]
	}
	return fmt.Sprintf("t%d-%s", seq, base)
}

// ses is the test binary's aws-ses-v2-local, started by the first call to SES.
var ses struct {
	once   sync.Once
	err    error
	server *seslocal.Server
}

// SES returns the endpoint of the test binary's aws-ses-v2-local, for the
// sesv2 client's BaseEndpoint and for the seslocal readers. Its mailbox is
// shared: see the package comment on isolation.
func SES(t testing.TB) (endpoint string) {
	t.Helper()
	Integration(t)
	ses.once.Do(func() {
		ses.err = func() error {
			root, err := repoRoot()
			if err != nil {
				return err
			}
			nm := filepath.Join(root, "infra", "node_modules")
			if !isFile(filepath.Join(nm, "aws-ses-v2-local", "dist", "cli.js")) {
				return fmt.Errorf("aws-ses-v2-local is not installed: run `make deps` (make test does this); looked in %s", nm)
			}
			ses.server, err = seslocal.Start(context.Background(), seslocal.Options{NodeModules: nm})
			return err
		}()
	})
	if ses.err != nil {
		t.Fatalf("testenv: %v", ses.err)
	}
	return ses.server.Endpoint()
}

// nonAlnum matches what UniqueAddress leaves out of a test name.
var nonAlnum = regexp.MustCompile(`[^a-z0-9]+`)

// addressSeq makes UniqueAddress unique within the test binary.
var addressSeq atomic.Int64

// UniqueAddress returns a mail address that no other test of the binary uses,
// in the reserved example.com domain, so that a test can find its own mails
// in the shared SES mailbox.
func UniqueAddress(t testing.TB, local string) string {
	t.Helper()
	tag := strings.Trim(nonAlnum.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(tag) > 40 {
		tag = tag[:40]
	}
	return fmt.Sprintf("%s+%s-%d-%d@example.com", local, tag, os.Getpid(), addressSeq.Add(1))
}
