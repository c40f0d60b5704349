// Package audit writes one record per invocation (AU-02): who called what,
// what was decided, how it ended and why. Records never carry secrets,
// tokens or message bodies; the internal reason of a fault is kept here and
// nowhere in the response.
package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Record is one audit record. Field names are the JSON keys operators query.
type Record struct {
	Time          time.Time `json:"time"`
	CorrelationID string    `json:"correlationId"`
	MessageID     string    `json:"messageId,omitempty"`
	Listener      string    `json:"listener,omitempty"`
	Remote        string    `json:"remote,omitempty"`
	Caller        string    `json:"caller,omitempty"`
	Subject       string    `json:"subject,omitempty"`
	Issuer        string    `json:"issuer,omitempty"`
	Roles         []string  `json:"roles,omitempty"`
	Audience      string    `json:"audience,omitempty"`
	TokenID       string    `json:"tokenId,omitempty"`
	Service       string    `json:"service,omitempty"`
	Operation     string    `json:"operation,omitempty"`
	SOAPVersion   string    `json:"soapVersion,omitempty"`
	Outcome       string    `json:"outcome"`
	Status        int       `json:"status"`
	FaultCode     string    `json:"faultCode,omitempty"`
	Reason        string    `json:"reason,omitempty"`
	BackendStatus int       `json:"backendStatus,omitempty"`
	BytesIn       int64     `json:"bytesIn"`
	BytesOut      int64     `json:"bytesOut"`
	DurationMS    float64   `json:"durationMs"`
}

// Outcomes of a record.
const (
	OutcomeOK    = "ok"    // the backend answered and the answer was returned
	OutcomeFault = "fault" // the gateway refused or failed the request
)

// Sink receives encoded records, one JSON object per call, newline included.
type Sink interface {
	WriteRecord(line []byte) error
	Close() error
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
// one fails; the joined error is returned.
func (l *Log) Write(r *Record) error {
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("audit: encode record: %w", err)
	}
	line = append(line, '\n')
	var errs []error
	for _, s := range l.sinks {
		if err := s.WriteRecord(line); err != nil {
			errs = append(errs, err)
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
	mu     sync.Mutex
	w      io.Writer
	closer io.Closer
}

func (s *writerSink) WriteRecord(line []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.w.Write(line)
	return err
}

func (s *writerSink) Close() error {
	if s.closer == nil {
		return nil
	}
	return s.closer.Close()
}

// Stdout is a sink on standard output.
func Stdout() Sink { return &writerSink{w: os.Stdout} }

// Writer is a sink on any writer (tests, pipes).
func Writer(w io.Writer) Sink { return &writerSink{w: w} }

// File opens (creating, appending) a JSON-lines file sink. The file is
// opened with O_APPEND so that each record lands whole at the end.
func File(path string) (Sink, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return &writerSink{w: f, closer: f}, nil
}
