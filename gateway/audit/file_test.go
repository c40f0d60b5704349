package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// never is a flusher setting that does not fire during a test, so that only
// the behaviour under test can sync.
const never = time.Hour

func openFile(t *testing.T, path string, o FileOptions) (*Log, *fileSink) {
	t.Helper()
	s, err := FileWithOptions(path, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return New(s), s.(*fileSink)
}

// readRecords parses every line of the file; a partial or glued line fails.
func readRecords(t *testing.T, path string) []Record {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Fatalf("%s does not end with a newline", path)
	}
	if len(data) == 0 {
		return nil
	}
	var out []Record
	for i, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		var r Record
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil || dec.More() {
			t.Fatalf("%s line %d is not one whole record (%v): %q", path, i+1, err, line)
		}
		out = append(out, r)
	}
	return out
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func rec(id string, seq int) *Record {
	return &Record{
		Time: time.Unix(1700000000, 0).UTC(), CorrelationID: id, Service: "accounts",
		Operation: "GetBalance", Caller: "spiffe://corp/consumer", Outcome: OutcomeOK,
		Status: 200, BytesIn: int64(seq), BytesOut: 512, DurationMS: 1.5,
	}
}

func TestDurableRecordIsSyncedBeforeWriteReturns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, fs := openFile(t, path, FileOptions{SyncEvery: 1 << 30, SyncInterval: never})

	if err := l.Write(rec("plain", 0)); err != nil {
		t.Fatal(err)
	}
	if got := fs.synced.Load(); got != 0 {
		t.Fatalf("a non-durable record was synced at once (synced=%d): batching is off", got)
	}
	r := rec("denied", 1)
	r.Outcome, r.Status, r.FaultCode, r.Durable = OutcomeFault, 500, "wsse:FailedAuthentication", true
	if err := l.Write(r); err != nil {
		t.Fatal(err)
	}
	// Checked before anything else runs: Write must not return first.
	if got := fs.synced.Load(); got != 2 {
		t.Fatalf("durable Write returned with %d of 2 records synced", got)
	}
	recs := readRecords(t, path)
	if len(recs) != 2 || recs[1].CorrelationID != "denied" || recs[1].FaultCode != "wsse:FailedAuthentication" {
		t.Fatalf("file holds %+v", recs)
	}
}

func TestDurableWritersShareFsyncs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, fs := openFile(t, path, FileOptions{SyncEvery: 1 << 30, SyncInterval: never})
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := range 50 {
				r := rec(fmt.Sprintf("w%d-%d", w, i), i)
				r.Durable = true
				if err := l.Write(r); err != nil {
					t.Error(err)
					return
				}
				if fs.synced.Load() < 1 {
					t.Error("durable Write returned before any fsync")
				}
			}
		})
	}
	wg.Wait()
	if got := fs.synced.Load(); got != 800 {
		t.Errorf("synced %d of 800 durable records", got)
	}
	if n := len(readRecords(t, path)); n != 800 {
		t.Errorf("file holds %d records, want 800", n)
	}
}

func TestNonDurableRecordsAreSyncedInBatches(t *testing.T) {
	t.Run("interval", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "audit.log")
		l, fs := openFile(t, path, FileOptions{SyncEvery: 1 << 30, SyncInterval: 20 * time.Millisecond})
		for i := range 10 {
			if err := l.Write(rec("c", i)); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(readRecords(t, path)); n != 10 {
			t.Fatalf("records are written at once, but the file holds %d of 10", n)
		}
		waitFor(t, "flusher syncs after SyncInterval", func() bool { return fs.synced.Load() == 10 })
	})
	t.Run("count", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "audit.log")
		l, fs := openFile(t, path, FileOptions{SyncEvery: 10, SyncInterval: never})
		for i := range 10 {
			if err := l.Write(rec("c", i)); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, "flusher syncs after SyncEvery records", func() bool { return fs.synced.Load() == 10 })
	})
	t.Run("close", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "audit.log")
		l, fs := openFile(t, path, FileOptions{SyncEvery: 1 << 30, SyncInterval: never})
		for i := range 50 {
			if err := l.Write(rec("c", i)); err != nil {
				t.Fatal(err)
			}
		}
		if got := fs.synced.Load(); got != 0 {
			t.Fatalf("synced=%d before Close; nothing should have synced yet", got)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if got := fs.synced.Load(); got != 50 {
			t.Errorf("Close synced %d of 50 records", got)
		}
		if n := len(readRecords(t, path)); n != 50 {
			t.Errorf("file holds %d of 50 records after Close", n)
		}
		if err := l.Write(rec("late", 0)); !errors.Is(err, os.ErrClosed) {
			t.Errorf("Write after Close: %v, want os.ErrClosed", err)
		}
		if err := l.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
}

func TestFileOptionsValidation(t *testing.T) {
	for _, tt := range []struct {
		name string
		o    FileOptions
		want string
	}{
		{"rotation without backups", FileOptions{MaxBytes: 1 << 20}, "MaxBackups must be at least 1"},
		{"negative sync count", FileOptions{SyncEvery: -1}, "may not be negative"},
		{"negative interval", FileOptions{SyncInterval: -time.Second}, "may not be negative"},
		{"negative size", FileOptions{MaxBytes: -1, MaxBackups: 1}, "may not be negative"},
		{"negative backups", FileOptions{MaxBackups: -1}, "may not be negative"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := FileWithOptions(filepath.Join(t.TempDir(), "audit.log"), tt.o)
			if err == nil {
				s.Close()
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to say %q", err, tt.want)
			}
		})
	}
}

// filesOf returns path and its numbered backups that exist.
func filesOf(t *testing.T, path string) []string {
	t.Helper()
	matches, err := filepath.Glob(path + "*")
	if err != nil {
		t.Fatal(err)
	}
	return matches
}

func TestRotationKeepsEveryRecordOnceUnderConcurrentWriters(t *testing.T) {
	const writers, perWriter, maxBytes = 16, 500, 8 << 10
	path := filepath.Join(t.TempDir(), "audit.log")
	// Every backup is kept, so every record can be counted; the flusher runs
	// all the time and every 7th record is durable, so syncs race rotations.
	l, fs := openFile(t, path, FileOptions{
		MaxBytes: maxBytes, MaxBackups: 10000, SyncEvery: 5, SyncInterval: time.Millisecond,
	})
	var errs atomic.Int64
	l.OnError = func(err error) { errs.Add(1); t.Error(err) }
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				r := rec(fmt.Sprintf("w%02d-%03d", w, i), i)
				r.Durable = i%7 == 0
				_ = l.Write(r)
			}
		})
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if errs.Load() > 0 {
		t.Fatalf("%d writes failed", errs.Load())
	}
	if got := fs.synced.Load(); got != writers*perWriter {
		t.Errorf("synced %d records after Close, want %d", got, writers*perWriter)
	}

	seen := map[string]int{}
	files := filesOf(t, path)
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > maxBytes {
			t.Errorf("%s has %d bytes, more than MaxBytes %d", f, st.Size(), maxBytes)
		}
		for _, r := range readRecords(t, f) {
			seen[r.CorrelationID]++
		}
	}
	if len(files) < 50 {
		t.Errorf("only %d files: the test did not rotate much", len(files))
	}
	for w := range writers {
		for i := range perWriter {
			id := fmt.Sprintf("w%02d-%03d", w, i)
			if seen[id] != 1 {
				t.Errorf("record %s found %d times, want once", id, seen[id])
			}
		}
	}
	if len(seen) != writers*perWriter {
		t.Errorf("%d distinct records, want %d", len(seen), writers*perWriter)
	}
}

func TestRotationKeepsMaxBackups(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	// Left over from a larger MaxBackups: removed at the first rotation.
	for _, stale := range []string{path + ".4", path + ".5"} {
		if err := os.WriteFile(stale, []byte("{}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const maxBytes, total = 1000, 200
	l, _ := openFile(t, path, FileOptions{MaxBytes: maxBytes, MaxBackups: 3})
	for i := range total {
		if err := l.Write(rec("c", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	want := []string{path, path + ".1", path + ".2", path + ".3"}
	if got := filesOf(t, path); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("files %q, want %q", got, want)
	}
	// Oldest backup first, the current file last: one unbroken run of
	// sequence numbers that ends with the last record written.
	var seqs []int64
	for _, f := range []string{path + ".3", path + ".2", path + ".1", path} {
		recs := readRecords(t, f)
		if len(recs) == 0 {
			t.Errorf("%s is empty", f)
		}
		for _, r := range recs {
			seqs = append(seqs, r.BytesIn)
		}
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Fatalf("sequence breaks at %d → %d: backups out of order", seqs[i-1], seqs[i])
		}
	}
	if last := seqs[len(seqs)-1]; last != total-1 {
		t.Errorf("last record %d, want %d", last, total-1)
	}
	if seqs[0] == 0 {
		t.Error("the oldest records were not dropped")
	}
}

// TestFailedRotationKeepsRecords makes the rename to path.1 fail (a
// non-empty directory is in the way): the sink keeps appending to the
// current file and every affected write reports the failure.
func TestFailedRotationKeepsRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	blocker := path + ".1"
	if err := os.MkdirAll(filepath.Join(blocker, "x"), 0o750); err != nil {
		t.Fatal(err)
	}
	l, _ := openFile(t, path, FileOptions{MaxBytes: 600, MaxBackups: 1})
	var reported []error
	l.OnError = func(err error) { reported = append(reported, err) }
	const total = 20
	failed := 0
	for i := range total {
		if err := l.Write(rec("c", i)); err != nil {
			if !strings.Contains(err.Error(), "rotate") || !strings.Contains(err.Error(), "still writing to the current file") {
				t.Fatalf("write %d: %v", i, err)
			}
			failed++
		}
	}
	if failed == 0 || failed >= total || len(reported) != failed {
		t.Fatalf("%d writes failed, %d reported; want some of %d, all reported", failed, len(reported), total)
	}
	if n := len(readRecords(t, path)); n != total {
		t.Fatalf("current file holds %d of %d records", n, total)
	}

	// Once the obstacle is gone the next write rotates.
	if err := os.RemoveAll(blocker); err != nil {
		t.Fatal(err)
	}
	if err := l.Write(rec("c", total)); err != nil {
		t.Fatalf("write after the obstacle went: %v", err)
	}
	if n := len(readRecords(t, blocker)); n != total {
		t.Errorf("path.1 holds %d records, want %d", n, total)
	}
	if recs := readRecords(t, path); len(recs) != 1 || recs[0].BytesIn != total {
		t.Errorf("new file holds %+v", recs)
	}
}

func BenchmarkFileSink(b *testing.B) {
	open := func(b *testing.B) *Log {
		s, err := File(filepath.Join(b.TempDir(), "audit.log"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return New(s)
	}
	b.Run("nondurable", func(b *testing.B) {
		l := open(b)
		r := rec("bench", 0)
		b.ReportAllocs()
		for b.Loop() {
			if err := l.Write(r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("durable", func(b *testing.B) {
		l := open(b)
		r := rec("bench", 0)
		r.Durable = true
		b.ReportAllocs()
		for b.Loop() {
			if err := l.Write(r); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Concurrent durable writers share fsyncs.
	b.Run("durable-parallel", func(b *testing.B) {
		l := open(b)
		b.ReportAllocs()
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			r := rec("bench", 0)
			r.Durable = true
			for pb.Next() {
				if err := l.Write(r); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
