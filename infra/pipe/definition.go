// Package pipe is a local stand-in for an Amazon EventBridge pipe from a
// DynamoDB stream to an event bus: the AWS::Pipes::Pipe resources of
// template.yaml, run against DynamoDB Local's stream and the local bus
// (infra/eventbus).
//
// It does what the pipe does, as AWS documents it: it polls every shard of
// the table's stream (parents before children, one batch at a time, so
// records keep their order within a shard), drops the records that match
// none of the FilterCriteria (EventBridge's pattern language, the bus's own
// matcher), renders the InputTemplate and the dynamic target parameters,
// puts the batch on the bus with PutEvents, retries failed entries up to
// MaximumRetryAttempts and then hands the batch to the dead-letter queue.
// A shard's checkpoint (the last sequence number handled) advances only
// after its batch is delivered or dead-lettered, and is kept in a file, so
// a pipe killed between the two delivers the batch again when it starts
// again: at least once, never skipped.
//
// Whatever the template asks of a pipe that this package does not do is
// an error when the pipe is read, never ignored.
package pipe

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/ocpro/upgrade/infra/eventbus"
	"github.com/ocpro/upgrade/infra/template"
)

// ResourceType is the CloudFormation type this package runs.
const ResourceType = "AWS::Pipes::Pipe"

// maxEventBusBatch is the largest batch an event bus target takes (one
// PutEvents call); AWS refuses a pipe with a larger BatchSize.
const maxEventBusBatch = 10

// defaultBatchSize is the API's default BatchSize for a DynamoDB stream.
const defaultBatchSize = 100

// Starting positions of a stream source.
const (
	TrimHorizon = "TRIM_HORIZON"
	Latest      = "LATEST"
)

// Definition is one pipe of the template, checked and compiled.
type Definition struct {
	// Name is the pipe's logical id (its Name property when it has one).
	Name string
	// SourceARN is the stream's ARN as the template resolves it, and Table
	// the table it belongs to.
	SourceARN, Table string
	// TargetARN is the event bus's ARN, and Bus its name.
	TargetARN, Bus string
	// StartingPosition is TRIM_HORIZON or LATEST.
	StartingPosition string
	BatchSize        int
	// MaxRetries is MaximumRetryAttempts: -1 retries until the record
	// leaves the stream.
	MaxRetries int
	// DeadLetterARN is the DeadLetterConfig's queue; empty when none.
	DeadLetterARN string
	// Stopped is true when DesiredState is STOPPED.
	Stopped bool

	filters    []*eventbus.Pattern
	input      *inputTemplate // nil: the record itself
	source     parameter
	detailType parameter
}

// Definitions reads every AWS::Pipes::Pipe of the template, in the order
// of their logical ids.
func Definitions(t *template.Template) ([]*Definition, error) {
	ids := make([]string, 0)
	for id, r := range t.Resources {
		if r.Type == ResourceType {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	out := make([]*Definition, 0, len(ids))
	for _, id := range ids {
		d, err := Parse(id, t.Resources[id].Properties)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// Parse checks the resolved properties of one AWS::Pipes::Pipe and compiles
// them. Anything the local pipe does not implement is an error.
func Parse(logicalID string, props map[string]any) (*Definition, error) {
	d, err := parse(logicalID, props)
	if err != nil {
		return nil, fmt.Errorf("pipe %s: %w", logicalID, err)
	}
	return d, nil
}

func parse(logicalID string, props map[string]any) (*Definition, error) {
	// RoleArn is IAM, which the local stack does not enforce (the template
	// tests check the role); Description and Tags change nothing.
	if err := only(props, "", "Name", "Description", "Tags", "RoleArn", "DesiredState",
		"Source", "SourceParameters", "Target", "TargetParameters"); err != nil {
		return nil, err
	}
	d := &Definition{Name: logicalID, BatchSize: defaultBatchSize, MaxRetries: -1}
	if n, ok := props["Name"].(string); ok && n != "" {
		d.Name = n
	}
	switch s := str(props["DesiredState"]); s {
	case "", "RUNNING":
	case "STOPPED":
		d.Stopped = true
	default:
		return nil, fmt.Errorf("DesiredState %q: want RUNNING or STOPPED", s)
	}
	if str(props["RoleArn"]) == "" {
		return nil, errors.New("RoleArn is required")
	}

	d.SourceARN = str(props["Source"])
	table, ok := template.StreamTable(d.SourceARN)
	if !ok {
		return nil, fmt.Errorf("property Source %q: only a DynamoDB stream is implemented locally", d.SourceARN)
	}
	d.Table = table
	if err := d.parseSource(props["SourceParameters"]); err != nil {
		return nil, err
	}

	d.TargetARN = str(props["Target"])
	_, bus, ok := strings.Cut(d.TargetARN, ":event-bus/")
	if !ok || !strings.HasPrefix(d.TargetARN, "arn:aws:events:") || bus == "" {
		return nil, fmt.Errorf("property Target %q: only an event bus is implemented locally", d.TargetARN)
	}
	d.Bus = bus
	if err := d.parseTarget(props["TargetParameters"]); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Definition) parseSource(v any) error {
	sp, ok := v.(map[string]any)
	if !ok {
		return errors.New("SourceParameters.DynamoDBStreamParameters is required for a DynamoDB stream")
	}
	if err := only(sp, "SourceParameters.", "DynamoDBStreamParameters", "FilterCriteria"); err != nil {
		return err
	}
	ddb, ok := sp["DynamoDBStreamParameters"].(map[string]any)
	if !ok {
		return errors.New("SourceParameters.DynamoDBStreamParameters is required for a DynamoDB stream")
	}
	const at = "SourceParameters.DynamoDBStreamParameters."
	// MaximumBatchingWindowInSeconds, MaximumRecordAgeInSeconds,
	// OnPartialBatchItemFailure and ParallelizationFactor are not
	// implemented: only refuses them.
	if err := only(ddb, at, "StartingPosition", "BatchSize", "MaximumRetryAttempts", "DeadLetterConfig"); err != nil {
		return err
	}
	switch d.StartingPosition = str(ddb["StartingPosition"]); d.StartingPosition {
	case TrimHorizon, Latest:
	default:
		return fmt.Errorf("%sStartingPosition %q: want TRIM_HORIZON or LATEST", at, d.StartingPosition)
	}
	var err error
	if d.BatchSize, err = integer(ddb, "BatchSize", defaultBatchSize, 1, 10000); err != nil {
		return fmt.Errorf("%s%w", at, err)
	}
	if d.BatchSize > maxEventBusBatch {
		return fmt.Errorf("%sBatchSize %d: an event bus target takes at most %d records per batch", at, d.BatchSize, maxEventBusBatch)
	}
	if d.MaxRetries, err = integer(ddb, "MaximumRetryAttempts", -1, -1, 10000); err != nil {
		return fmt.Errorf("%s%w", at, err)
	}
	if dl, present := ddb["DeadLetterConfig"]; present {
		m, ok := dl.(map[string]any)
		if !ok {
			return fmt.Errorf("%sDeadLetterConfig: want an object with Arn", at)
		}
		if err := only(m, at+"DeadLetterConfig.", "Arn"); err != nil {
			return err
		}
		d.DeadLetterARN = str(m["Arn"])
		if !strings.HasPrefix(d.DeadLetterARN, "arn:aws:sqs:") && !strings.HasPrefix(d.DeadLetterARN, "arn:aws:sns:") {
			return fmt.Errorf("%sDeadLetterConfig.Arn %q: want an SQS queue or SNS topic", at, d.DeadLetterARN)
		}
	}

	if fc, present := sp["FilterCriteria"]; present {
		m, ok := fc.(map[string]any)
		if !ok {
			return errors.New("SourceParameters.FilterCriteria: want an object with Filters")
		}
		if err := only(m, "SourceParameters.FilterCriteria.", "Filters"); err != nil {
			return err
		}
		filters, _ := m["Filters"].([]any)
		if m["Filters"] != nil && filters == nil {
			return errors.New("SourceParameters.FilterCriteria.Filters: want a list")
		}
		// The API's limit: at most five patterns, of at most 4096
		// characters each.
		if len(filters) > 5 {
			return fmt.Errorf("SourceParameters.FilterCriteria.Filters: %d patterns, at most 5", len(filters))
		}
		for i, f := range filters {
			fm, ok := f.(map[string]any)
			if !ok {
				return fmt.Errorf("SourceParameters.FilterCriteria.Filters[%d]: want an object with Pattern", i)
			}
			if err := only(fm, fmt.Sprintf("SourceParameters.FilterCriteria.Filters[%d].", i), "Pattern"); err != nil {
				return err
			}
			text, ok := fm["Pattern"].(string)
			if !ok || text == "" {
				return fmt.Errorf("SourceParameters.FilterCriteria.Filters[%d].Pattern: want the pattern's JSON text", i)
			}
			if len(text) > 4096 {
				return fmt.Errorf("SourceParameters.FilterCriteria.Filters[%d].Pattern: %d characters, at most 4096", i, len(text))
			}
			p, err := eventbus.CompilePattern(text)
			if err != nil {
				return fmt.Errorf("SourceParameters.FilterCriteria.Filters[%d]: %w", i, err)
			}
			d.filters = append(d.filters, p)
		}
	}
	return nil
}

func (d *Definition) parseTarget(v any) error {
	tp, ok := v.(map[string]any)
	if !ok {
		return errors.New("TargetParameters.EventBridgeEventBusParameters is required: the local pipe implements no default Source or DetailType")
	}
	if err := only(tp, "TargetParameters.", "InputTemplate", "EventBridgeEventBusParameters"); err != nil {
		return err
	}
	if raw, present := tp["InputTemplate"]; present {
		text, ok := raw.(string)
		if !ok || text == "" {
			return errors.New("TargetParameters.InputTemplate: want a string")
		}
		in, err := parseInputTemplate(text)
		if err != nil {
			return fmt.Errorf("TargetParameters.InputTemplate: %w", err)
		}
		d.input = in
	}
	eb, ok := tp["EventBridgeEventBusParameters"].(map[string]any)
	if !ok {
		return errors.New("TargetParameters.EventBridgeEventBusParameters is required: the local pipe implements no default Source or DetailType")
	}
	const at = "TargetParameters.EventBridgeEventBusParameters."
	// EndpointId, Resources and Time are not implemented.
	if err := only(eb, at, "Source", "DetailType"); err != nil {
		return err
	}
	var err error
	if d.source, err = parseParameter(eb["Source"]); err != nil {
		return fmt.Errorf("%sSource: %w", at, err)
	}
	if d.detailType, err = parseParameter(eb["DetailType"]); err != nil {
		return fmt.Errorf("%sDetailType: %w", at, err)
	}
	return nil
}

// only refuses any key of m but the allowed ones, naming it with prefix.
func only(m map[string]any, prefix string, allowed ...string) error {
	var extra []string
	for k := range m {
		if !slices.Contains(allowed, k) {
			extra = append(extra, prefix+k)
		}
	}
	if len(extra) == 0 {
		return nil
	}
	sort.Strings(extra)
	return fmt.Errorf("%s: not implemented by the local pipe", strings.Join(extra, ", "))
}

// integer reads an optional integer property within [lo, hi].
func integer(m map[string]any, key string, def, lo, hi int) (int, error) {
	v, present := m[key]
	if !present {
		return def, nil
	}
	var n int
	switch x := v.(type) {
	case int:
		n = x
	case string:
		var err error
		if n, err = strconv.Atoi(x); err != nil {
			return 0, fmt.Errorf("%s %q: want an integer", key, x)
		}
	default:
		return 0, fmt.Errorf("%s: want an integer, got %T", key, v)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%s %d: want %d to %d", key, n, lo, hi)
	}
	return n, nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// Event is what a pipe puts on its bus for one record.
type Event struct {
	Source, DetailType, Detail string
}

// Filter reports whether a record, as the pipe receives it (the JSON of a
// stream record, with its attribute values in DynamoDB's JSON), passes
// the pipe's FilterCriteria.
func (d *Definition) Filter(record []byte) (bool, error) {
	return d.matches(record)
}

// Render is what the pipe puts on its bus for a record that passed the
// filter: the InputTemplate's output as the detail, and the Source and
// DetailType parameters. It is the one rendering of the local pipe, for
// tests elsewhere that check what the template makes of an outbox item;
// reserved variables name the pipe as the local stack runs it.
func (d *Definition) Render(record []byte) (Event, error) {
	return d.render(record, pipeVars{
		name: d.Name, arn: "arn:aws:pipes:eu-west-1:000000000000:pipe/" + d.Name,
		sourceARN: d.SourceARN, targetARN: d.TargetARN,
		ingestionTime: "1970-01-01T00:00:00Z", event: record,
	})
}

func (d *Definition) render(record []byte, vars pipeVars) (Event, error) {
	var doc any
	if err := decodeJSON(record, &doc); err != nil {
		return Event{}, err
	}
	e := Event{Detail: string(record)}
	if d.input != nil {
		var err error
		if e.Detail, err = d.input.render(doc, vars); err != nil {
			return Event{}, err
		}
	}
	var err error
	if e.Source, err = d.source.value(doc); err != nil {
		return Event{}, fmt.Errorf("parameter Source: %w", err)
	}
	if e.DetailType, err = d.detailType.value(doc); err != nil {
		return Event{}, fmt.Errorf("parameter DetailType: %w", err)
	}
	return e, nil
}
