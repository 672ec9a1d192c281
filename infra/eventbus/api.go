package eventbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"
)

const (
	// maxEntries and maxEntriesSize are PutEvents' limits.
	maxEntries     = 10
	maxEntriesSize = 256 << 10
	// maxBody leaves room for JSON escaping around maxEntriesSize.
	maxBody = 4 << 20
)

type putEventsInput struct {
	Entries []putEventsEntry `json:"Entries"`
}

type putEventsEntry struct {
	Source       string   `json:"Source"`
	DetailType   string   `json:"DetailType"`
	Detail       string   `json:"Detail"`
	EventBusName string   `json:"EventBusName"`
	Resources    []string `json:"Resources"`
	// Time is in epoch seconds, as the JSON protocols send timestamps.
	Time *float64 `json:"Time"`
}

type putEventsOutput struct {
	FailedEntryCount int                    `json:"FailedEntryCount"`
	Entries          []putEventsResultEntry `json:"Entries"`
}

type putEventsResultEntry struct {
	EventID      string `json:"EventId,omitempty"`
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorMessage string `json:"ErrorMessage,omitempty"`
}

// serveAWS answers an EventBridge API call. Only PutEvents exists locally:
// rules and buses come from template.yaml, not from API calls.
func (b *Bus) serveAWS(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	if target != "AWSEvents.PutEvents" {
		writeAWSError(w, "UnknownOperationException", fmt.Sprintf("Operation %q is not supported locally.", target))
		return
	}
	var in putEventsInput
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&in); err != nil {
		writeAWSError(w, "SerializationException", "The request body is not a valid PutEvents request.")
		return
	}
	if n := len(in.Entries); n < 1 || n > maxEntries {
		writeAWSError(w, "ValidationException", fmt.Sprintf(
			"1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length between 1 and %d (got %d)", maxEntries, n))
		return
	}
	if entriesSize(in.Entries) > maxEntriesSize {
		writeAWSError(w, "ValidationException", "Total size of the entries in the request is over the limit.")
		return
	}
	out := putEventsOutput{Entries: make([]putEventsResultEntry, 0, len(in.Entries))}
	for _, e := range in.Entries {
		res := b.putEntry(e)
		if res.ErrorCode != "" {
			out.FailedEntryCount++
		}
		out.Entries = append(out.Entries, res)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	// A failed write means the client went away; there is no one to tell.
	_ = json.NewEncoder(w).Encode(out)
}

// putEntry validates one entry and publishes it. Bad entries fail alone,
// as in EventBridge; the others in the request still go through.
func (b *Bus) putEntry(e putEventsEntry) putEventsResultEntry {
	fail := func(code, msg string) putEventsResultEntry {
		return putEventsResultEntry{ErrorCode: code, ErrorMessage: msg}
	}
	switch {
	case e.Source == "":
		return fail("InvalidArgument", "Parameter Source is not valid. Reason: Source is a required argument.")
	case e.DetailType == "":
		return fail("InvalidArgument", "Parameter DetailType is not valid. Reason: DetailType is a required argument.")
	case e.Detail == "":
		return fail("InvalidArgument", "Parameter Detail is not valid. Reason: Detail is a required argument.")
	}
	var detail map[string]any
	if err := json.Unmarshal([]byte(e.Detail), &detail); err != nil || detail == nil {
		return fail("MalformedDetail", "Detail is malformed.")
	}
	bus := busName(e.EventBusName)
	if b.buses != nil && !b.buses[bus] {
		return fail("ResourceNotFoundException", fmt.Sprintf("Event bus %s does not exist.", bus))
	}
	at := b.now()
	if e.Time != nil {
		if math.IsNaN(*e.Time) || math.IsInf(*e.Time, 0) {
			return fail("InvalidArgument", "Parameter Time is not valid.")
		}
		sec, frac := math.Modf(*e.Time)
		at = time.Unix(int64(sec), int64(frac*1e9))
	}
	env := b.newEnvelope(e.Source, e.DetailType, json.RawMessage(e.Detail), e.Resources, at)
	if err := b.publish(bus, env); err != nil {
		b.log.Error("eventbus: publish failed", "bus", bus, "id", env.ID, "err", err)
		return fail("InternalException", "The event could not be published.")
	}
	return putEventsResultEntry{EventID: env.ID}
}

// busName turns an EventBusName (a name or an ARN) into a bus name.
func busName(s string) string {
	if s == "" {
		return "default"
	}
	if strings.HasPrefix(s, "arn:") {
		if _, name, ok := strings.Cut(s, ":event-bus/"); ok {
			return name
		}
	}
	return s
}

// entriesSize computes the size of the entries the way AWS documents it
// for the PutEvents limit.
func entriesSize(entries []putEventsEntry) int {
	n := 0
	for _, e := range entries {
		if e.Time != nil {
			n += 14
		}
		n += len(e.Source) + len(e.DetailType) + len(e.Detail)
		for _, r := range e.Resources {
			n += len(r)
		}
	}
	return n
}

// writeAWSError answers with an AWS JSON 1.1 error document.
func writeAWSError(w http.ResponseWriter, code, message string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": message})
}

// serveTrigger fires a schedule now and reports the outcome of the one
// invocation: 200, 404 for an unknown schedule, 502 when the function failed.
func (b *Bus) serveTrigger(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	err := b.Trigger(r.Context(), name)
	switch {
	case errors.Is(err, ErrUnknownSchedule):
		writeLocal(w, http.StatusNotFound, map[string]string{"schedule": name, "error": "unknown schedule"})
	case err != nil:
		// This is a developer surface: the function's error is what they
		// asked to see.
		writeLocal(w, http.StatusBadGateway, map[string]string{"schedule": name, "error": err.Error()})
	default:
		writeLocal(w, http.StatusOK, map[string]string{"schedule": name, "status": "delivered"})
	}
}

func (b *Bus) serveDeadLetters(w http.ResponseWriter, _ *http.Request) {
	writeLocal(w, http.StatusOK, b.DeadLetters())
}

// serveDrain waits for deliveries to finish, at most ?timeout= (a Go
// duration, default 30s).
func (b *Bus) serveDrain(w http.ResponseWriter, r *http.Request) {
	timeout := 30 * time.Second
	if s := r.URL.Query().Get("timeout"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			writeLocal(w, http.StatusBadRequest, map[string]string{"error": "timeout must be a positive Go duration such as 5s"})
			return
		}
		timeout = d
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	if err := b.Drain(ctx); err != nil {
		writeLocal(w, http.StatusGatewayTimeout, map[string]string{"error": "deliveries still pending"})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func writeLocal(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
