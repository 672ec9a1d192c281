// Command stack runs the whole service locally until interrupted; make run
// starts it after installing the stand-ins and building the bootstraps.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ocpro/upgrade/infra/entra"
	"github.com/ocpro/upgrade/infra/stack"
)

func main() {
	root := flag.String("root", ".", "repository root")
	apiPort := flag.Int("api-port", 3000, "port of the API and the public pages")
	mailPort := flag.Int("mail-port", 8005, "port of the SES stand-in and its mailbox page")
	instances := flag.Int("instances", 4, "most runtime instances per function")
	verbose := flag.Bool("verbose", false, "keep aws-lambda-rie's own informational lines")
	console := flag.String("console", "", "folder of the operator console's built files (console/dist); empty serves none")
	flag.Parse()

	if err := run(*root, *apiPort, *mailPort, *instances, *verbose, *console); err != nil {
		fmt.Fprintln(os.Stderr, "stack:", err)
		os.Exit(1)
	}
}

func run(root string, apiPort, mailPort, instances int, verbose bool, console string) error {
	root, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	cache := filepath.Join(root, ".cache")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	started := time.Now()
	fmt.Println("starting the local stack ...")
	s, err := stack.Start(ctx, stack.Options{
		Root:         root,
		Cache:        cache,
		Bootstraps:   filepath.Join(cache, "build"),
		StateDir:     filepath.Join(cache, "stack"),
		APIPort:      apiPort,
		MailPort:     mailPort,
		MaxInstances: instances,
		Verbose:      verbose,
		ConsoleDir:   console,
		Output:       os.Stdout,
		Logger:       slog.New(slog.NewTextHandler(os.Stdout, nil)),
	})
	if err != nil {
		return err
	}
	defer s.Close()
	printURLs(os.Stdout, s, time.Since(started))

	<-ctx.Done()
	fmt.Println("\nstopping ...")
	return s.Close()
}

// printURLs tells where every part of the running stack answers.
func printURLs(w io.Writer, s *stack.Stack, took time.Duration) {
	fmt.Fprintf(w, `
Operator Connect Pro upgrade service, local stack up in %s
  Operator console       %s
    sign in as %s, password %s
  API and public pages   %s   (portal routes under /v1 need: make token)
  Mailbox (SES local)    %s
  Entra emulator         %s   (CA: %s)
  DynamoDB Local         %s   (table %s)
  EventBridge, Secrets Manager, KMS stand-ins   %s
    trigger the reminder sweep now: curl -X POST %s/_local/schedules/%s/trigger
Ctrl-C stops everything.
`, took.Round(10*time.Millisecond), s.ConsoleURL, s.StaffUser, entra.DefaultPassword, s.APIURL, s.MailURL, s.EntraURL, s.CAFile,
		s.DynamoURL, s.TableName, s.AWSURL, s.AWSURL, firstSchedule(s))
}

func firstSchedule(s *stack.Stack) string {
	for _, sc := range s.Template.Schedules {
		// The bus knows a schedule by Function.Event whether or not the
		// template names it (CloudFormation names it when it does not).
		return sc.Function + "." + sc.Event
	}
	return "NAME"
}
