package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/gateway/audit"
)

// syncBuffer is an audit sink's writer that tests read while handlers write.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) records(t *testing.T) map[string][]audit.Record {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	recs := map[string][]audit.Record{}
	for _, line := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var r audit.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		recs[r.CorrelationID] = append(recs[r.CorrelationID], r)
	}
	return recs
}

// TestAbortInFlightRecordsOnce: at the drain deadline each transaction gets
// exactly one record, whichever way it ends: one that ends when cancelled
// records itself as aborted; one that completes during the race keeps its
// ok; one that ignores its cancellation is recorded by Shutdown, and its
// late finish adds nothing; one that begins after Shutdown took its list is
// recorded at once.
func TestAbortInFlightRecordsOnce(t *testing.T) {
	var sink syncBuffer
	g := &Gateway{
		log: slog.New(slog.NewTextHandler(io.Discard, nil)), now: time.Now, metrics: newMetrics(),
		audit: audit.New(audit.Writer(&sink)), drain: drain{txs: map[*transaction]struct{}{}},
	}
	l := &listener{name: "edge"}
	begin := func(svc string) *transaction {
		tx, _ := g.begin(httptest.NewRequest("POST", "/services/"+svc, nil), l, &service{name: svc})
		return tx
	}
	cancelled, completes, stuck := begin("cancelled"), begin("completes"), begin("stuck")
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // the backend call ends with the cancellation
		defer wg.Done()
		<-cancelled.ctx.Done()
		cancelled.rec.Outcome, cancelled.rec.Status, cancelled.rec.Reason = audit.OutcomeFault, 503, "aborted: shutdown: backend: context canceled"
		g.finish(cancelled)
	}()
	go func() { // the answer was on its way when the deadline came
		defer wg.Done()
		<-completes.ctx.Done()
		completes.rec.Outcome, completes.rec.Status = audit.OutcomeOK, 200
		g.finish(completes)
	}()

	start := time.Now()
	g.abortInFlight()
	wg.Wait()
	if d := time.Since(start); d < abortGrace {
		t.Errorf("abortInFlight returned after %s, before the grace for the stuck transaction (%s)", d, abortGrace)
	}
	late := begin("late") // after the list was taken
	g.finish(stuck)       // the stuck handler ends at last
	g.finish(late)

	recs := sink.records(t)
	for _, c := range []struct {
		tx      *transaction
		outcome string
		reason  string
	}{
		{cancelled, audit.OutcomeAborted, "aborted: shutdown: backend: context canceled"},
		{completes, audit.OutcomeOK, ""},
		{stuck, audit.OutcomeAborted, "aborted: shutdown: still running"},
		{late, audit.OutcomeAborted, "aborted: shutdown: the request arrived after the drain ended"},
	} {
		got := recs[c.tx.rec.CorrelationID]
		if len(got) != 1 {
			t.Errorf("%s: %d records, want 1", c.tx.rec.Service, len(got))
			continue
		}
		if r := got[0]; r.Outcome != c.outcome || !strings.HasPrefix(r.Reason, c.reason) || r.Service != c.tx.rec.Service {
			t.Errorf("%s: outcome %q, reason %q, service %q; want %q, %q…", c.tx.rec.Service, r.Outcome, r.Reason, r.Service, c.outcome, c.reason)
		}
	}
	if len(recs) != 4 {
		t.Errorf("%d correlation ids in the audit log, want 4", len(recs))
	}
	if n := len(g.drain.txs); n != 0 {
		t.Errorf("%d transactions still tracked", n)
	}
}
