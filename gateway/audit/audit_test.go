package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type failingSink struct{}

func (failingSink) WriteRecord([]byte) error { return errors.New("disk full") }
func (failingSink) Close() error             { return nil }

func TestLogWritesWholeLinesConcurrently(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "audit.log")
	f, err := File(path)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	var errs atomic.Int64
	l := New(f, Writer(&buf), failingSink{})
	l.OnError = func(error) { errs.Add(1) }
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				r := &Record{Time: time.Unix(0, 0), CorrelationID: "c", Outcome: OutcomeOK, Status: 200 + i, BytesIn: int64(j)}
				err := l.Write(r)
				mu.Lock()
				if err == nil {
					t.Error("failing sink error was swallowed")
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	recs, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := len(recs)
	if n != 1000 {
		t.Errorf("file has %d records, want 1000", n)
	}
	if errs.Load() != 1000 {
		t.Errorf("OnError called %d times, want 1000", errs.Load())
	}
	if bytes.Count(buf.Bytes(), []byte("\n")) != 1000 {
		t.Error("writer sink missed records")
	}
}

// TestRecordJSONKeys pins the keys a record is encoded with (the list in
// doc.go). Every field is set, so a new field shows up here whatever its
// tag: adding one, and checking it can never carry a secret (invariant 10),
// is a conscious change to this list.
func TestRecordJSONKeys(t *testing.T) {
	want := []string{
		"audience", "authn", "backendStatus", "bytesIn", "bytesOut", "caller", "compensation", "correlationId",
		"decision", "delegation", "durationMs", "faultCode", "hop", "issuer", "legacyDomain", "legacyUser", "listener", "mapping", "messageId", "operation",
		"outcome", "reason", "remote", "roles", "rule", "service", "soapVersion", "status",
		"subject", "time", "tokenId",
	}
	var r Record
	v := reflect.ValueOf(&r).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch {
		case f.Type() == reflect.TypeFor[time.Time]():
			f.Set(reflect.ValueOf(time.Unix(1, 0)))
		case f.Kind() == reflect.String:
			f.SetString("x")
		case f.CanInt():
			f.SetInt(1)
		case f.CanFloat():
			f.SetFloat(1)
		case f.Kind() == reflect.Bool:
			f.SetBool(true)
		case f.Type() == reflect.TypeFor[[]string]():
			f.Set(reflect.ValueOf([]string{"x"}))
		default:
			t.Fatalf("field %s has type %s: teach this test to fill it", v.Type().Field(i).Name, f.Type())
		}
	}
	data, err := json.Marshal(&r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	got := slices.Sorted(maps.Keys(m))
	if !slices.Equal(got, want) {
		t.Errorf("record keys changed:\n got  %q\n want %q\nupdate doc.go and this list only for fields that can never hold a body, token or credential", got, want)
	}
	if !r.Durable {
		t.Error("Durable was not set, so the test proves nothing about it")
	}
}

// TestLogReportsEverySinkError checks that OnError sees the errors of all
// sinks of one write and that the healthy sink still got the record.
func TestLogReportsEverySinkError(t *testing.T) {
	var buf bytes.Buffer
	var reported []error
	l := New(failingSink{}, Writer(&buf), failingSink{})
	l.OnError = func(err error) { reported = append(reported, err) }
	err := l.Write(&Record{CorrelationID: "c", Outcome: OutcomeFault, Durable: true})
	if err == nil || len(reported) != 1 || reported[0] != err {
		t.Fatalf("Write error %v, reported %v", err, reported)
	}
	if n := strings.Count(err.Error(), "disk full"); n != 2 {
		t.Errorf("error %q names %d sink failures, want 2", err, n)
	}
	if !strings.Contains(buf.String(), `"correlationId":"c"`) {
		t.Errorf("healthy sink got %q", buf.String())
	}
	if strings.Contains(buf.String(), "urable") {
		t.Errorf("Durable leaked into the record: %q", buf.String())
	}
}
