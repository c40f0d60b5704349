package audit

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Record is one audit record. Field names are the JSON keys operators query.
type Record struct {
	Time          time.Time `json:"time"`
	CorrelationID string    `json:"correlationId"`
	Hop           int       `json:"hop,omitempty"` // 0 for the invocation, n for the n-th call of a composite
	// Compensation marks a hop that undoes an earlier step of its composite.
	Compensation bool     `json:"compensation,omitempty"`
	MessageID    string   `json:"messageId,omitempty"`
	Listener     string   `json:"listener,omitempty"`
	Remote       string   `json:"remote,omitempty"`
	Caller       string   `json:"caller,omitempty"`
	Subject      string   `json:"subject,omitempty"`
	Issuer       string   `json:"issuer,omitempty"`
	Authn        string   `json:"authn,omitempty"` // how the subject authenticated
	Roles        []string `json:"roles,omitempty"`
	Audience     string   `json:"audience,omitempty"`
	TokenID      string   `json:"tokenId,omitempty"`
	// Delegation lists the actors that acted for the subject, oldest
	// first (the assertion's delegation chain; a hop of a composite names
	// "composite:NAME").
	Delegation    []string `json:"delegation,omitempty"`
	LegacyDomain  string   `json:"legacyDomain,omitempty"`
	LegacyUser    string   `json:"legacyUser,omitempty"`
	Mapping       string   `json:"mapping,omitempty"`
	Decision      string   `json:"decision,omitempty"`
	Rule          string   `json:"rule,omitempty"`
	Service       string   `json:"service,omitempty"`
	Operation     string   `json:"operation,omitempty"`
	SOAPVersion   string   `json:"soapVersion,omitempty"`
	Outcome       string   `json:"outcome"`
	Status        int      `json:"status"`
	FaultCode     string   `json:"faultCode,omitempty"`
	Reason        string   `json:"reason,omitempty"`
	BackendStatus int      `json:"backendStatus,omitempty"`
	BytesIn       int64    `json:"bytesIn"`
	BytesOut      int64    `json:"bytesOut"`
	DurationMS    float64  `json:"durationMs"`

	// Durable asks that the record be on stable storage before Write
	// returns (see Syncer). The gateway sets it for denied and faulted
	// requests, whose records matter most after a crash. It is not encoded.
	Durable bool `json:"-"`
}

// Outcomes of a record.
const (
	OutcomeOK    = "ok"    // the backend answered and the answer was returned
	OutcomeFault = "fault" // the gateway refused or failed the request
	// OutcomeAborted: the gateway gave the request up because it was
	// shutting down (the drain deadline passed); Reason starts with
	// "aborted: shutdown". The backend may have received the call.
	OutcomeAborted = "aborted"
)

// Sink receives encoded records, one JSON object per call, newline included.
// WriteRecord must not keep line after it returns.
type Sink interface {
	WriteRecord(line []byte) error
	Close() error
}

// Syncer is implemented by sinks that accept a record before it is on stable
// storage, such as the file sink, which fsyncs in batches. For a Durable
// record Log.Write calls Sync after WriteRecord; Sync returns once every
// record the sink accepted before the call is durable. It is a separate,
// optional interface so that sinks with nothing to sync (stdout, writers,
// Redis) need no change and existing Sink implementations keep compiling.
type Syncer interface {
	Sync() error
}

// Log fans records out to its sinks. It is safe for concurrent use.
type Log struct {
	sinks []Sink
	// OnError is called when a sink fails; the gateway counts it in metrics.
	OnError func(error)
}

// New returns a log writing to sinks.
func New(sinks ...Sink) *Log { return &Log{sinks: sinks} }

// Write encodes r and hands it to every sink. Every sink is tried even when
// one fails; the joined error is returned and passed to OnError. For a
// Durable record, sinks that implement Syncer are synced after all sinks
// have the record, so a slow fsync does not delay the other sinks.
func (l *Log) Write(r *Record) error {
	line, err := json.Marshal(r)
	if err != nil {
		err = fmt.Errorf("audit: encode record: %w", err)
		if l.OnError != nil {
			l.OnError(err)
		}
		return err
	}
	line = append(line, '\n')
	var errs []error
	for _, s := range l.sinks {
		if err := s.WriteRecord(line); err != nil {
			errs = append(errs, err)
		}
	}
	if r.Durable {
		// Sync even after a WriteRecord error: the error may report an
		// earlier background failure while this record was written.
		for _, s := range l.sinks {
			if sy, ok := s.(Syncer); ok {
				if err := sy.Sync(); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	err = errors.Join(errs...)
	if err != nil && l.OnError != nil {
		l.OnError(err)
	}
	return err
}

// Close closes every sink.
func (l *Log) Close() error {
	var errs []error
	for _, s := range l.sinks {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

// writerSink writes each record with one Write call under a mutex, so lines
// from concurrent requests never interleave.
type writerSink struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *writerSink) WriteRecord(line []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.w.Write(line)
	return err
}

// Close does nothing: the writer belongs to the caller.
func (s *writerSink) Close() error { return nil }

// Stdout is a sink on standard output.
func Stdout() Sink { return &writerSink{w: os.Stdout} }

// Writer is a sink on any writer (tests, pipes).
func Writer(w io.Writer) Sink { return &writerSink{w: w} }

// ReadFile reads an audit log written by the file sink: one JSON record
// per line. A line that is not a whole record is an error naming it.
func ReadFile(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var recs []Record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), maxRecordLine)
	for n := 1; sc.Scan(); n++ {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return recs, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		recs = append(recs, r)
	}
	if err := sc.Err(); err != nil {
		return recs, fmt.Errorf("%s: %w", path, err)
	}
	return recs, nil
}

// maxRecordLine bounds one line ReadFile accepts.
const maxRecordLine = 1 << 20
