package pipe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	stypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	etypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/ocpro/upgrade/infra/eventbus"
)

// Streams is the part of the DynamoDB Streams API a pipe reads with.
type Streams interface {
	ListStreams(ctx context.Context, in *dynamodbstreams.ListStreamsInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.ListStreamsOutput, error)
	DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error)
	GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

// Bus is the event bus target: EventBridge's PutEvents, as the pipe calls
// it.
type Bus interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// DeadLetters is the local stand-in of the pipe's dead-letter queue.
type DeadLetters interface {
	AddDeadLetter(eventbus.DeadLetter)
}

// Hooks stop a pipe where a crash could: each is called with a batch's
// shard and last sequence number, and when it returns an error the pipe
// stops at once with that error, writing nothing more, as a killed process
// would. Tests use them; a nil hook does nothing.
type Hooks struct {
	// BeforeDeliver runs before the batch's PutEvents.
	BeforeDeliver func(shard, sequence string) error
	// BeforeCheckpoint runs after the batch is delivered (or
	// dead-lettered) and before its checkpoint is written; a batch whose
	// records were all filtered out delivers nothing and skips it.
	BeforeCheckpoint func(shard, sequence string) error
}

// Config is what a Pipe needs. Definition, Streams, Bus and StateDir are
// required.
type Config struct {
	Definition *Definition
	Streams    Streams
	Bus        Bus
	// DeadLetters receives the batches that failed every retry when the
	// definition's DeadLetterConfig names a queue the local stack stands in
	// for; nil means it does not, and such batches are logged as errors
	// and dropped, loudly, as AWS would drop them without a queue.
	DeadLetters DeadLetters
	// StateDir holds the checkpoint file, <Name>.checkpoints.json.
	StateDir string
	// Region and AccountID make the pipe's ARN and the records' region.
	Region, AccountID string
	Log               *slog.Logger
	// Poll is the wait between polls of a shard with nothing new; AWS
	// polls four times a second. RetryBase is the first retry delay of a
	// failed batch, doubled per retry up to RetryMax, so that a local run
	// never waits as long as AWS would.
	Poll, RetryBase, RetryMax time.Duration
	Hooks                     Hooks
	// Now tells the ingestion time; it defaults to time.Now.
	Now func() time.Time
}

// Pipe is one running local pipe. Create it with New and run it with Run.
type Pipe struct {
	cfg  Config
	def  *Definition
	log  *slog.Logger
	file checkpointFile
	arn  string

	mu        sync.Mutex
	delivered int // events PutEvents accepted, for Stats
	filtered  int
	dead      int
	caughtUp  chan struct{} // closed when a poll found every shard idle
	// pollSeq numbers the polls started; idleSeq is the number of the
	// latest poll that found nothing new, and polled is closed (and
	// replaced) whenever a poll ends, for WaitIdle.
	pollSeq, idleSeq int
	polled           chan struct{}
}

// Stats counts what a pipe did since it started.
type Stats struct {
	Delivered, Filtered, DeadLettered int
}

// New checks cfg.
func New(cfg Config) (*Pipe, error) {
	switch {
	case cfg.Definition == nil:
		return nil, errors.New("pipe: Definition is required")
	case cfg.Streams == nil:
		return nil, errors.New("pipe: Streams is required")
	case cfg.Bus == nil:
		return nil, errors.New("pipe: Bus is required")
	case cfg.StateDir == "":
		return nil, errors.New("pipe: StateDir is required: the checkpoints must outlive the pipe")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Region == "" {
		cfg.Region = "eu-west-1"
	}
	if cfg.AccountID == "" {
		cfg.AccountID = "000000000000"
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 250 * time.Millisecond
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = 200 * time.Millisecond
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	d := cfg.Definition
	p := &Pipe{
		cfg:      cfg,
		def:      d,
		log:      cfg.Log.With("pipe", d.Name),
		file:     checkpointFile{path: filepath.Join(cfg.StateDir, d.Name+".checkpoints.json")},
		arn:      fmt.Sprintf("arn:aws:pipes:%s:%s:pipe/%s", cfg.Region, cfg.AccountID, d.Name),
		caughtUp: make(chan struct{}),
		polled:   make(chan struct{}),
	}
	if d.DeadLetterARN != "" && cfg.DeadLetters == nil {
		p.log.Warn("pipe: no local stand-in for the dead-letter queue; batches that fail every retry will be logged and dropped",
			"deadLetterArn", d.DeadLetterARN)
	}
	return p, nil
}

// Stats returns what the pipe did so far.
func (p *Pipe) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Stats{Delivered: p.delivered, Filtered: p.filtered, DeadLettered: p.dead}
}

// CaughtUp is closed once the pipe has read every shard to its current end
// at least once: records written before it closes have been handled.
func (p *Pipe) CaughtUp() <-chan struct{} { return p.caughtUp }

// WaitIdle waits until a poll that started after the call found nothing
// new in any shard: every record written before the call has been handled
// (delivered, dead-lettered or filtered out). It waits for ever on a pipe
// that is not running; ctx bounds it.
func (p *Pipe) WaitIdle(ctx context.Context) error {
	p.mu.Lock()
	after := p.pollSeq
	p.mu.Unlock()
	for {
		p.mu.Lock()
		done, polled := p.idleSeq > after, p.polled
		p.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-polled:
		case <-ctx.Done():
			return fmt.Errorf("pipe %s: waiting for it to be idle: %w", p.def.Name, ctx.Err())
		}
	}
}

func (p *Pipe) startPoll() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pollSeq++
	return p.pollSeq
}

func (p *Pipe) endPoll(seq int, idle bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if idle {
		p.idleSeq = seq
	}
	close(p.polled)
	p.polled = make(chan struct{})
}

// Run reads the stream until ctx ends (then it returns nil) or a hook
// stops it. It waits for the table's stream to exist.
func (p *Pipe) Run(ctx context.Context) error {
	if p.def.Stopped {
		p.log.Info("pipe: DesiredState is STOPPED; not reading the stream")
		<-ctx.Done()
		return nil
	}
	stream, err := p.findStream(ctx)
	if err != nil {
		return ignoreCancel(ctx, err)
	}
	cp, stale, err := p.file.load(stream)
	if err != nil {
		return err
	}
	if stale {
		p.log.Info("pipe: the checkpoints belong to an older stream; starting afresh", "stream", stream)
	}
	r := &reader{p: p, stream: stream, cp: cp, iterators: map[string]*string{}}
	caughtUp := false
	for {
		seq := p.startPoll()
		busy, err := r.poll(ctx)
		p.endPoll(seq, !busy && err == nil)
		if err != nil {
			var stop hookError
			if errors.As(err, &stop) {
				return stop.err
			}
			if ctx.Err() != nil {
				return nil
			}
			p.log.Warn("pipe: reading the stream failed; will retry", "err", err)
		}
		if !busy && err == nil && !caughtUp {
			caughtUp = true
			close(p.caughtUp)
		}
		if busy {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(p.cfg.Poll):
		}
	}
}

func ignoreCancel(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// findStream returns the ARN of the table's enabled stream, waiting for it.
func (p *Pipe) findStream(ctx context.Context) (string, error) {
	for {
		out, err := p.cfg.Streams.ListStreams(ctx, &dynamodbstreams.ListStreamsInput{TableName: aws.String(p.def.Table)})
		if err == nil {
			// The newest stream is the table's current one.
			var newest stypes.Stream
			for _, s := range out.Streams {
				if aws.ToString(s.StreamLabel) > aws.ToString(newest.StreamLabel) {
					newest = s
				}
			}
			if newest.StreamArn != nil {
				return aws.ToString(newest.StreamArn), nil
			}
			err = fmt.Errorf("table %s has no stream yet", p.def.Table)
		}
		p.log.Debug("pipe: waiting for the stream", "err", err)
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(p.cfg.Poll):
		}
	}
}

// hookError is a hook's error: the pipe stops as if killed.
type hookError struct{ err error }

func (h hookError) Error() string { return h.err.Error() }

// reader is one Run's view of the stream.
type reader struct {
	p         *Pipe
	stream    string
	cp        checkpoints
	iterators map[string]*string // next iterator of each shard being read
}

// poll reads each readable shard once; busy reports whether any returned
// records, so that Run polls again at once.
func (r *reader) poll(ctx context.Context) (busy bool, err error) {
	shards, err := r.shards(ctx)
	if err != nil {
		return false, err
	}
	known := map[string]bool{}
	for _, s := range shards {
		known[aws.ToString(s.ShardId)] = true
	}
	for _, s := range shards {
		id := aws.ToString(s.ShardId)
		if r.cp.Shards[id].Done {
			continue
		}
		// A child shard waits until its parent is read to its end, so
		// that a key's records keep their order across a split. A parent
		// no longer listed has been trimmed away.
		if parent := aws.ToString(s.ParentShardId); parent != "" && known[parent] && !r.cp.Shards[parent].Done {
			continue
		}
		got, err := r.readShard(ctx, id)
		if err != nil {
			return busy, err
		}
		busy = busy || got
	}
	return busy, nil
}

// shards lists every shard of the stream, parents first.
func (r *reader) shards(ctx context.Context) ([]stypes.Shard, error) {
	var all []stypes.Shard
	var start *string
	for {
		out, err := r.p.cfg.Streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(r.stream), ExclusiveStartShardId: start})
		if err != nil {
			return nil, fmt.Errorf("DescribeStream: %w", err)
		}
		all = append(all, out.StreamDescription.Shards...)
		if start = out.StreamDescription.LastEvaluatedShardId; start == nil {
			break
		}
	}
	// Shard ids carry their creation time, so this also orders a
	// parent before its children.
	sort.SliceStable(all, func(i, j int) bool { return aws.ToString(all[i].ShardId) < aws.ToString(all[j].ShardId) })
	return all, nil
}

// readShard reads one batch of a shard and handles it; got reports whether
// there were records.
func (r *reader) readShard(ctx context.Context, shard string) (got bool, err error) {
	it := r.iterators[shard]
	if it == nil {
		if it, err = r.iterator(ctx, shard); err != nil {
			return false, err
		}
	}
	out, err := r.p.cfg.Streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it, Limit: aws.Int32(int32(r.p.def.BatchSize))})
	var expired *stypes.ExpiredIteratorException
	if errors.As(err, &expired) {
		// Iterators last 15 minutes; start again from the checkpoint.
		delete(r.iterators, shard)
		return true, nil
	}
	if err != nil {
		delete(r.iterators, shard)
		return false, fmt.Errorf("GetRecords %s: %w", shard, err)
	}
	if len(out.Records) > 0 {
		if err := r.handle(ctx, shard, out.Records); err != nil {
			// The batch is read again from the checkpoint.
			delete(r.iterators, shard)
			return false, err
		}
	}
	if out.NextShardIterator == nil {
		// The shard is closed and read to its end.
		delete(r.iterators, shard)
		c := r.cp.Shards[shard]
		c.Done = true
		r.cp.Shards[shard] = c
		if err := r.p.file.save(r.cp); err != nil {
			return false, fmt.Errorf("saving the checkpoint: %w", err)
		}
		r.p.log.Info("pipe: shard closed and read to its end", "shard", shard)
		return true, nil
	}
	r.iterators[shard] = out.NextShardIterator
	return len(out.Records) > 0, nil
}

// iterator starts reading a shard after its checkpoint, or at the
// pipe's StartingPosition when it has none.
func (r *reader) iterator(ctx context.Context, shard string) (*string, error) {
	in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(r.stream), ShardId: aws.String(shard)}
	if seq := r.cp.Shards[shard].Sequence; seq != "" {
		in.ShardIteratorType = stypes.ShardIteratorTypeAfterSequenceNumber
		in.SequenceNumber = aws.String(seq)
	} else {
		in.ShardIteratorType = stypes.ShardIteratorType(r.p.def.StartingPosition)
	}
	out, err := r.p.cfg.Streams.GetShardIterator(ctx, in)
	var trimmed *stypes.TrimmedDataAccessException
	if errors.As(err, &trimmed) && in.SequenceNumber != nil {
		// The checkpoint's records have left the stream (24 hours): go
		// on from the oldest record left, as AWS does.
		r.p.log.Warn("pipe: the checkpoint is past the stream's retention; reading from the oldest record", "shard", shard)
		in.ShardIteratorType, in.SequenceNumber = stypes.ShardIteratorTypeTrimHorizon, nil
		out, err = r.p.cfg.Streams.GetShardIterator(ctx, in)
	}
	if err != nil {
		return nil, fmt.Errorf("GetShardIterator %s: %w", shard, err)
	}
	return out.ShardIterator, nil
}

// handle filters, transforms and delivers one batch, then moves the
// shard's checkpoint past it. Records that pass no filter are only counted.
func (r *reader) handle(ctx context.Context, shard string, records []stypes.Record) error {
	p := r.p
	last := aws.ToString(records[len(records)-1].Dynamodb.SequenceNumber)
	var entries []entry
	filtered := 0
	for _, rec := range records {
		raw, err := encodeRecord(rec, r.stream, p.cfg.Region)
		if err != nil {
			return fmt.Errorf("record %s: %w", aws.ToString(rec.EventID), err)
		}
		ok, err := p.def.matches(raw)
		if err != nil {
			return fmt.Errorf("record %s: %w", aws.ToString(rec.EventID), err)
		}
		if !ok {
			filtered++
			continue
		}
		entries = append(entries, entry{record: rec, raw: raw})
	}
	p.count(0, filtered, 0)
	if len(entries) > 0 {
		if h := p.cfg.Hooks.BeforeDeliver; h != nil {
			if err := h(shard, last); err != nil {
				return hookError{err}
			}
		}
		if err := r.deliver(ctx, shard, entries); err != nil {
			return err
		}
		if h := p.cfg.Hooks.BeforeCheckpoint; h != nil {
			if err := h(shard, last); err != nil {
				return hookError{err}
			}
		}
	}
	c := r.cp.Shards[shard]
	c.Sequence = last
	r.cp.Shards[shard] = c
	if err := p.file.save(r.cp); err != nil {
		return fmt.Errorf("saving the checkpoint: %w", err)
	}
	return nil
}

func (p *Pipe) count(delivered, filtered, dead int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delivered += delivered
	p.filtered += filtered
	p.dead += dead
}

// entry is one record that passed the filters.
type entry struct {
	record stypes.Record
	raw    []byte
}

// matches reports whether a record passes the filters: any one of them,
// or every record when there are none.
func (d *Definition) matches(raw []byte) (bool, error) {
	if len(d.filters) == 0 {
		return true, nil
	}
	for _, f := range d.filters {
		ok, err := f.Match(raw)
		if err != nil {
			return false, err
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

// deliver puts the batch on the bus, retrying the entries that failed
// (AWS retries only the failed part of a batch) until MaxRetries, and then
// dead-letters what is left. It returns an error only when ctx ends.
func (r *reader) deliver(ctx context.Context, shard string, entries []entry) error {
	p := r.p
	pending := entries
	var lastErr error
	for attempt := 1; ; attempt++ {
		failed, err := r.put(ctx, pending)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		p.count(len(pending)-len(failed), 0, 0)
		if len(failed) == 0 {
			return nil
		}
		pending, lastErr = failed, err
		if p.def.MaxRetries >= 0 && attempt > p.def.MaxRetries {
			r.deadLetter(shard, pending, attempt, lastErr)
			return nil
		}
		delay := p.backoff(attempt)
		p.log.Warn("pipe: delivery failed, will retry", "shard", shard, "records", len(pending),
			"attempt", attempt, "retryIn", delay, "err", lastErr)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
}

// put sends the entries in one PutEvents call and returns those that
// failed, with the reason.
func (r *reader) put(ctx context.Context, entries []entry) (failed []entry, err error) {
	p := r.p
	in := &eventbridge.PutEventsInput{}
	var bad []error
	var sent []entry
	for _, e := range entries {
		pe, err := p.entry(e.raw)
		if err != nil {
			// A record the template cannot render fails alone, as an
			// entry PutEvents refused would.
			failed = append(failed, e)
			bad = append(bad, fmt.Errorf("record %s: %w", aws.ToString(e.record.EventID), err))
			continue
		}
		in.Entries = append(in.Entries, pe)
		sent = append(sent, e)
	}
	if len(sent) == 0 {
		return failed, errors.Join(bad...)
	}
	out, err := p.cfg.Bus.PutEvents(ctx, in)
	if err != nil {
		return entries, errors.Join(append(bad, fmt.Errorf("PutEvents: %w", err))...)
	}
	for i, res := range out.Entries {
		if i >= len(sent) {
			break
		}
		if res.ErrorCode != nil {
			failed = append(failed, sent[i])
			bad = append(bad, fmt.Errorf("record %s: %s: %s", aws.ToString(sent[i].record.EventID),
				aws.ToString(res.ErrorCode), aws.ToString(res.ErrorMessage)))
		}
	}
	return failed, errors.Join(bad...)
}

// entry renders one record into the PutEvents entry the pipe sends.
func (p *Pipe) entry(raw []byte) (etypes.PutEventsRequestEntry, error) {
	e, err := p.def.render(raw, pipeVars{
		name: p.def.Name, arn: p.arn, sourceARN: p.def.SourceARN, targetARN: p.def.TargetARN,
		ingestionTime: p.cfg.Now().UTC().Format(time.RFC3339Nano), event: raw,
	})
	if err != nil {
		return etypes.PutEventsRequestEntry{}, err
	}
	return etypes.PutEventsRequestEntry{
		EventBusName: aws.String(p.def.TargetARN),
		Source:       aws.String(e.Source),
		DetailType:   aws.String(e.DetailType),
		Detail:       aws.String(e.Detail),
	}, nil
}

// deadLetter hands what is left of a batch to the dead-letter queue: like
// a stream source's failure record, it names the shard and the sequence
// numbers to read the records again, not the records themselves.
func (r *reader) deadLetter(shard string, entries []entry, attempts int, err error) {
	p := r.p
	first, last := entries[0].record, entries[len(entries)-1].record
	info := map[string]any{
		"requestContext": map[string]any{
			"condition":              "RetryAttemptsExhausted",
			"approximateInvokeCount": attempts,
		},
		"DDBStreamBatchInfo": map[string]any{
			"shardId":             shard,
			"startSequenceNumber": aws.ToString(first.Dynamodb.SequenceNumber),
			"endSequenceNumber":   aws.ToString(last.Dynamodb.SequenceNumber),
			"batchSize":           len(entries),
			"streamArn":           r.stream,
		},
		"pipeArn": p.arn,
	}
	body, _ := json.Marshal(info) // maps of strings and ints always encode
	p.count(0, 0, len(entries))
	if p.cfg.DeadLetters == nil || p.def.DeadLetterARN == "" {
		p.log.Error("pipe: batch failed every retry and there is no dead-letter queue here: dropped",
			"shard", shard, "records", len(entries), "attempts", attempts, "deadLetterArn", p.def.DeadLetterARN,
			"batch", string(body), "err", err)
		return
	}
	p.log.Error("pipe: batch dead-lettered", "shard", shard, "records", len(entries), "attempts", attempts, "err", err)
	p.cfg.DeadLetters.AddDeadLetter(eventbus.DeadLetter{
		Rule:     p.def.Name,
		Event:    body,
		Attempts: attempts,
		Error:    fmt.Sprint(err),
	})
}

// backoff returns the delay before retry number attempt: doubled per
// attempt, capped, with the upper half jittered.
func (p *Pipe) backoff(attempt int) time.Duration {
	d := p.cfg.RetryMax
	if shift := attempt - 1; shift < 30 && p.cfg.RetryBase<<shift < p.cfg.RetryMax {
		d = p.cfg.RetryBase << shift
	}
	return d/2 + rand.N(d/2+1)
}
