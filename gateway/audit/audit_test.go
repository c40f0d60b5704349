package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
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
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	for sc.Scan() {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %d is not a whole record: %v", n+1, err)
		}
		n++
	}
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
