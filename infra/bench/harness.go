package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/ocpro/upgrade/infra/template"
)

// Defaults applied by Run to zero Config fields.
const (
	DefaultStarts            = 20
	DefaultGatewayIterations = 500
)

// Config says what Run measures.
type Config struct {
	// Root is the repository root, where template.yaml and go.mod live.
	Root string
	// BuildDir receives the binaries.
	BuildDir string
	// RIE is the aws-lambda-rie executable. Without it the cold start and
	// gateway sections are skipped with a note.
	RIE string
	// Starts is the number of cold starts per function. Default DefaultStarts.
	Starts int
	// GatewayIterations is the number of requests per path for the gateway
	// overhead. Default DefaultGatewayIterations.
	GatewayIterations int
	// GoPackages are the go test patterns whose benchmarks are collected;
	// none skips that section.
	GoPackages []string
	// EventsDir may hold <LogicalId>.json probe events that replace the
	// built-in ones (see ProbeFor).
	EventsDir string
	// Progress, when not nil, gets a line per step and go test's output.
	Progress io.Writer
}

// Run measures everything cfg asks for and returns the report. A section
// that cannot run leaves a note and the others go on; Run fails only when
// nothing can be measured (no template).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Root == "" || cfg.BuildDir == "" {
		return nil, errors.New("bench: Config.Root and Config.BuildDir are required")
	}
	if cfg.Starts == 0 {
		cfg.Starts = DefaultStarts
	}
	if cfg.GatewayIterations == 0 {
		cfg.GatewayIterations = DefaultGatewayIterations
	}
	progress := cfg.Progress
	if progress == nil {
		progress = io.Discard
	}
	r := &Report{Started: time.Now(), Machine: DescribeMachine(ctx)}
	note := func(format string, args ...any) {
		r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
		fmt.Fprintf(progress, "note: "+format+"\n", args...)
	}

	tmpl, err := probeTemplate(filepath.Join(cfg.Root, "template.yaml"))
	if err != nil {
		return nil, err
	}
	functions := Functions(tmpl)

	fmt.Fprintln(progress, "building for linux/arm64 ...")
	r.Sizes, err = MeasureSizes(ctx, cfg.Root, functions, "linux", "arm64", filepath.Join(cfg.BuildDir, "arm64"))
	if err != nil {
		note("binary sizes: %v", err)
	}

	if err := checkExecutable(cfg.RIE); err != nil {
		note("cold starts and gateway overhead skipped: aws-lambda-rie: %v (make deps builds it)", err)
	} else {
		hostDir := filepath.Join(cfg.BuildDir, runtime.GOARCH)
		fmt.Fprintf(progress, "building for linux/%s ...\n", runtime.GOARCH)
		host, err := MeasureSizes(ctx, cfg.Root, functions, "linux", runtime.GOARCH, hostDir)
		if err != nil {
			note("cold starts and gateway overhead skipped: %v", err)
		} else {
			minimal := filepath.Join(hostDir, "minimal", "bootstrap")
			if err := coldStarts(ctx, r, cfg, tmpl, host, minimal, progress); err != nil {
				note("cold starts: %v", err)
			}
			fmt.Fprintln(progress, "measuring the local gateway's overhead ...")
			if r.Gateway, err = MeasureGateway(ctx, cfg.RIE, minimal, cfg.GatewayIterations); err != nil {
				note("gateway overhead: %v", err)
			}
		}
	}

	if r.Sizes != nil {
		fmt.Fprintln(progress, "measuring what each library adds ...")
		hostDir := filepath.Join(cfg.BuildDir, runtime.GOARCH)
		minimalHost := filepath.Join(hostDir, "minimal", "bootstrap")
		if checkExecutable(minimalHost) != nil {
			hostDir = "" // sizes only
		}
		r.Libraries = MeasureLibraryCosts(ctx, cfg.Root, r.Sizes, filepath.Join(cfg.BuildDir, r.Sizes.GOARCH), runtime.GOARCH, hostDir, minimalHost, cfg.Starts)
	}

	if len(cfg.GoPackages) > 0 {
		fmt.Fprintln(progress, "running the go test benchmarks ...")
		if r.GoBenchmarks, err = RunGoBench(ctx, cfg.Root, cfg.GoPackages, progress); err != nil {
			note("go test benchmarks: %v", err)
		}
	}
	return r, nil
}

// probeTemplate loads the template with ProbeParameters.
func probeTemplate(path string) (*template.Template, error) {
	first, err := template.Load(path, template.Options{})
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	t, err := template.Load(path, template.Options{Parameters: ProbeParameters(first)})
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	return t, nil
}

func coldStarts(ctx context.Context, r *Report, cfg Config, tmpl *template.Template, host *SizeSection, minimal string, progress io.Writer) error {
	var probed []Probed
	for _, f := range host.Functions {
		p := Probed{Name: f.Function, Status: f.Status, Error: f.Error,
			Bootstrap: filepath.Join(cfg.BuildDir, runtime.GOARCH, f.Function, "bootstrap"),
			Env:       ProbeEnv(tmpl.Functions[f.Function])}
		if f.FloorBytes > 0 {
			p.Floor = FloorBootstrap(filepath.Join(cfg.BuildDir, runtime.GOARCH), f.Function)
		}
		var err error
		if p.Probe, err = ProbeFor(tmpl, f.Function, cfg.EventsDir); err != nil {
			return err
		}
		probed = append(probed, p)
	}
	floor := Probed{Name: MinimalName, Bootstrap: minimal, Env: ProbeEnv(nil), Probe: HTTPProbe()}
	fmt.Fprintf(progress, "cold-starting %d functions and the %s %d times each ...\n", len(probed), MinimalName, cfg.Starts)
	var err error
	r.ColdStarts, err = MeasureColdStarts(ctx, cfg.RIE, floor, probed, cfg.Starts, progress)
	if err != nil {
		return err
	}
	fmt.Fprintln(progress, "tracing package init ...")
	measureInit := func(c *ColdStart, bootstrap string) {
		if c.Status != StatusOK {
			return
		}
		cost, err := MeasureInit(ctx, bootstrap, cfg.Starts)
		if err != nil {
			r.Notes = append(r.Notes, fmt.Sprintf("package init of %s: %v", c.Function, err))
			return
		}
		c.Init = &cost
	}
	measureInit(&r.ColdStarts.Minimal, minimal)
	for i := range r.ColdStarts.Functions {
		c := &r.ColdStarts.Functions[i]
		measureInit(c, probed[i].Bootstrap)
		if c.Floor != nil {
			if cost, err := MeasureInit(ctx, probed[i].Floor, cfg.Starts); err == nil {
				c.FloorInit = &cost
			} else {
				r.Notes = append(r.Notes, fmt.Sprintf("package init of the floor of %s: %v", c.Function, err))
			}
		}
	}
	return nil
}

func checkExecutable(path string) error {
	if path == "" {
		return errors.New("no path given")
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not executable", path)
	}
	return nil
}
