// Command bench measures the functions against a minimal handler and writes
// one table: Markdown to stdout and <out>/latest.md, JSON to
// <out>/latest.json. make bench runs it; infra/bench/README.md says how to
// read the table.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ocpro/upgrade/infra/bench"
)

func main() {
	root := flag.String("root", ".", "repository root")
	out := flag.String("out", "", "folder for latest.md, latest.json and the builds (default <root>/.cache/bench)")
	rie := flag.String("rie", "", "aws-lambda-rie executable (default <root>/.cache/bin/aws-lambda-rie)")
	starts := flag.Int("starts", bench.DefaultStarts, "cold starts per function")
	iterations := flag.Int("gateway-iterations", bench.DefaultGatewayIterations, "requests per path for the gateway overhead")
	goBench := flag.Bool("go", true, "run the go test benchmarks")
	packages := flag.String("packages", "./internal/...", "space-separated go test patterns for the benchmarks")
	eventsDir := flag.String("events", "", "folder of <LogicalId>.json probe events replacing the built-in ones")
	flag.Parse()

	if err := run(*root, *out, *rie, *starts, *iterations, *goBench, *packages, *eventsDir); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(root, out, rie string, starts, iterations int, goBench bool, packages, eventsDir string) error {
	root, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	if out == "" {
		out = filepath.Join(root, ".cache", "bench")
	}
	if rie == "" {
		rie = filepath.Join(root, ".cache", "bin", "aws-lambda-rie")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	cfg := bench.Config{
		Root:              root,
		BuildDir:          filepath.Join(out, "build"),
		RIE:               rie,
		Starts:            starts,
		GatewayIterations: iterations,
		EventsDir:         eventsDir,
		// Progress goes to stderr so that stdout is the table alone.
		Progress: os.Stderr,
	}
	if goBench {
		cfg.GoPackages = strings.Fields(packages)
	}
	report, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}

	var md, js bytes.Buffer
	if err := report.Markdown(&md); err != nil {
		return err
	}
	if err := report.JSON(&js); err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for name, data := range map[string][]byte{"latest.md": md.Bytes(), "latest.json": js.Bytes()} {
		if err := os.WriteFile(filepath.Join(out, name), data, 0o644); err != nil {
			return err
		}
	}
	_, err = os.Stdout.Write(md.Bytes())
	return err
}
