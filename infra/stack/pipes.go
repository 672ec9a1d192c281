package stack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ocpro/upgrade/infra/dynamolocal"
	"github.com/ocpro/upgrade/infra/pipe"
)

// pipes runs the template's EventBridge pipes, each in a goroutine of its
// own that a test may stop and start again, as a crash and a restart of
// the pipe would.
type pipes struct {
	mu      sync.Mutex
	log     *slog.Logger
	configs map[string]pipe.Config
	running map[string]*runningPipe
}

type runningPipe struct {
	pipe   *pipe.Pipe
	cancel context.CancelFunc
	done   chan error
}

// startPipes starts every AWS::Pipes::Pipe of the template against
// DynamoDB Local's stream and the local bus (through its PutEvents API, as
// the pipe calls it). Their checkpoints live in stateDir/pipes. A pipe
// whose dead-letter queue is one of the template's queues dead-letters to
// the bus's list of dead letters, the local stand-in of those queues.
func (s *Stack) startPipes(ctx context.Context, stateDir string, log *slog.Logger) error {
	defs, err := pipe.Definitions(s.Template)
	if err != nil {
		return err
	}
	streams, err := dynamolocal.NewStreamsClient(ctx, s.DynamoURL)
	if err != nil {
		return err
	}
	bus, err := pipe.NewBusClient(ctx, s.AWSURL, Region)
	if err != nil {
		return err
	}
	s.pipes = &pipes{log: log, configs: map[string]pipe.Config{}, running: map[string]*runningPipe{}}
	for _, d := range defs {
		cfg := pipe.Config{
			Definition: d, Streams: streams, Bus: bus,
			StateDir: filepath.Join(stateDir, "pipes"),
			Region:   Region, AccountID: AccountID,
			Log: log.With("part", "pipes"),
		}
		if s.isTemplateQueue(d.DeadLetterARN) {
			cfg.DeadLetters = s.Bus
		}
		s.pipes.configs[d.Name] = cfg
		if err := s.pipes.start(d.Name, pipe.Hooks{}); err != nil {
			return err
		}
		log.Info("pipe started", "pipe", d.Name, "table", d.Table, "bus", d.Bus,
			"startingPosition", d.StartingPosition, "batchSize", d.BatchSize, "maximumRetryAttempts", d.MaxRetries)
	}
	s.closers = append(s.closers, s.pipes.stopAll)
	return nil
}

// isTemplateQueue reports whether arn is an SQS queue of the template,
// which the bus's dead-letter list stands in for.
func (s *Stack) isTemplateQueue(arn string) bool {
	if !strings.HasPrefix(arn, "arn:aws:sqs:") {
		return false
	}
	name := arn[strings.LastIndexByte(arn, ':')+1:]
	r, ok := s.Template.Resources[name]
	return ok && r.Type == "AWS::SQS::Queue"
}

// start runs the named pipe with hooks.
func (p *pipes) start(name string, hooks pipe.Hooks) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	cfg, ok := p.configs[name]
	if !ok {
		return fmt.Errorf("stack: no pipe %q", name)
	}
	if p.running[name] != nil {
		return fmt.Errorf("stack: pipe %q is running", name)
	}
	cfg.Hooks = hooks
	pp, err := pipe.New(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningPipe{pipe: pp, cancel: cancel, done: make(chan error, 1)}
	p.running[name] = r
	go func() {
		err := pp.Run(ctx)
		if err != nil {
			p.log.Warn("pipe stopped", "pipe", name, "err", err)
		}
		r.done <- err
	}()
	return nil
}

// stop stops the named pipe, waits for it and returns how its Run ended
// (nil when stopped here, a hook's error when a hook stopped it first).
func (p *pipes) stop(name string) error {
	p.mu.Lock()
	r := p.running[name]
	delete(p.running, name)
	p.mu.Unlock()
	if r == nil {
		return fmt.Errorf("stack: pipe %q is not running", name)
	}
	r.cancel()
	return <-r.done
}

func (p *pipes) stopAll() error {
	p.mu.Lock()
	names := make([]string, 0, len(p.running))
	for n := range p.running {
		names = append(names, n)
	}
	p.mu.Unlock()
	var errs []error
	for _, n := range names {
		if err := p.stop(n); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// RestartPipe stops the template's pipe name (its logical id) as a crash
// would, with no checkpoint written after that moment, and starts a new one
// with hooks, which goes on from the checkpoints in the state folder. Tests
// use it to kill the pipe mid-way; it returns how the stopped pipe's Run
// ended.
func (s *Stack) RestartPipe(name string, hooks pipe.Hooks) error {
	if s.pipes == nil {
		return errors.New("stack: no pipes")
	}
	stopped := s.pipes.stop(name)
	if err := s.pipes.start(name, hooks); err != nil {
		return err
	}
	return stopped
}

// Pipe returns the running pipe of that logical id, or nil.
func (s *Stack) Pipe(name string) *pipe.Pipe {
	if s.pipes == nil {
		return nil
	}
	s.pipes.mu.Lock()
	defer s.pipes.mu.Unlock()
	if r := s.pipes.running[name]; r != nil {
		return r.pipe
	}
	return nil
}

// Settle waits until the stack has nothing in flight: every pipe has read
// its stream to the end and the bus has no delivery pending, again and
// again until a round in which no pipe delivered anything (a delivery can
// make a function write outbox items, which the pipes then carry). Only
// then does counting effects prove that no other effect is coming.
func (s *Stack) Settle(ctx context.Context) error {
	for {
		before := s.pipesDelivered()
		if err := s.waitPipesIdle(ctx); err != nil {
			return err
		}
		if err := s.Bus.Drain(ctx); err != nil {
			return err
		}
		if err := s.waitPipesIdle(ctx); err != nil {
			return err
		}
		if s.pipesDelivered() == before {
			return s.Bus.Drain(ctx)
		}
	}
}

func (s *Stack) runningPipes() []*pipe.Pipe {
	if s.pipes == nil {
		return nil
	}
	s.pipes.mu.Lock()
	defer s.pipes.mu.Unlock()
	out := make([]*pipe.Pipe, 0, len(s.pipes.running))
	for _, r := range s.pipes.running {
		out = append(out, r.pipe)
	}
	return out
}

func (s *Stack) waitPipesIdle(ctx context.Context) error {
	for _, p := range s.runningPipes() {
		if err := p.WaitIdle(ctx); err != nil {
			return err
		}
	}
	return nil
}

// pipesDelivered counts the events the running pipes delivered.
func (s *Stack) pipesDelivered() int {
	n := 0
	for _, p := range s.runningPipes() {
		n += p.Stats().Delivered
	}
	return n
}
