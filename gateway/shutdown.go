package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/gateway/audit"
	"github.com/gatehouse/gatehouse/soap"
)

// A graceful stop has three phases:
//
//  1. BeginShutdown: /readyz answers 503, so that load balancers take the
//     instance out, while the listeners keep serving; every response carries
//     Connection: close, so that keep-alive clients reconnect (elsewhere).
//  2. Shutdown: the listeners stop accepting; in-flight requests may finish
//     until the drain deadline (Shutdown's ctx).
//  3. Past the deadline, every transaction still running is aborted: its
//     context is cancelled with errShutdown, so that backend, store and
//     composite calls end; the handler answers with a 503 Receiver fault and
//     its finish writes the record with outcome "aborted". A transaction that
//     has not ended abortGrace later gets its record from Shutdown (what was
//     known of it at its last checkpoint). Then, and only then, the audit
//     sinks are closed, which flushes and fsyncs them.
//
// Every transaction gets exactly one record: whoever writes it first claims
// transaction.recorded (finish, or Shutdown for one that outlived the drain).

// errShutdown is the cause of a transaction's cancellation at the drain
// deadline.
var errShutdown = errors.New("the drain deadline passed")

// abortedReason starts the audit Reason of every aborted record.
const abortedReason = "aborted: shutdown"

const (
	// abortGrace is how long aborted transactions have to end on their own
	// (their calls were cancelled) before Shutdown records them itself.
	abortGrace = time.Second
	// flushGrace is how long aborted requests' answers have to reach their
	// clients before the connections are closed.
	flushGrace = 250 * time.Millisecond
	// recordWait bounds the wait for a record that is being written when
	// Shutdown wants to close the audit log.
	recordWait = 5 * time.Second
)

// drain is the gateway's registry of in-flight transactions.
type drain struct {
	mu  sync.Mutex
	txs map[*transaction]struct{}
	// aborting: the drain deadline passed; a transaction that begins now is
	// cancelled at once. sealed: Shutdown has taken the list of transactions
	// it records itself; one that begins now is recorded at once by track.
	// auditClosed: nothing can record anything any more.
	aborting, sealed, auditClosed bool
}

// aborted reports whether ctx was cancelled because the gateway shut down.
func aborted(ctx context.Context) bool { return errors.Is(context.Cause(ctx), errShutdown) }

// shutdownFault is the answer to a request the gateway gave up at shutdown;
// the reason says what it was doing (err's reason).
func shutdownFault(err error) *soap.Fault {
	return soap.ReceiverFault("service unavailable: shutting down", fmt.Errorf("%s: %s", abortedReason, soap.AsFault(err).Reason())).
		WithStatus(http.StatusServiceUnavailable)
}

// markAborted makes rec the record of a request aborted at shutdown.
func markAborted(rec *audit.Record) {
	rec.Outcome = audit.OutcomeAborted
	switch {
	case rec.Reason == "":
		rec.Reason = abortedReason
	case !strings.HasPrefix(rec.Reason, abortedReason):
		rec.Reason = abortedReason + ": " + rec.Reason
	}
}

// checkpoint publishes the record as far as it is filled, for Shutdown to
// write should the transaction outlive the drain (rec itself belongs to the
// handler's goroutine).
func (tx *transaction) checkpoint() {
	tx.mu.Lock()
	tx.known = tx.rec
	tx.mu.Unlock()
}

// track registers a transaction that begins.
func (g *Gateway) track(tx *transaction) {
	d := &g.drain
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.auditClosed:
		tx.cancel(errShutdown)
		tx.recorded.Store(true)
		g.log.Error("request read after the audit log was closed: answered 503, not audited",
			"correlationId", tx.rec.CorrelationID, "remote", tx.rec.Remote)
	case d.sealed:
		// Written under d.mu: Shutdown closes the audit log only after
		// taking it.
		tx.cancel(errShutdown)
		tx.recorded.Store(true)
		g.writeUnfinished(tx, "the request arrived after the drain ended")
	case d.aborting:
		tx.cancel(errShutdown)
		d.txs[tx] = struct{}{}
	default:
		d.txs[tx] = struct{}{}
	}
}

// untrack removes a transaction whose handler is done.
func (g *Gateway) untrack(tx *transaction) {
	d := &g.drain
	d.mu.Lock()
	delete(d.txs, tx)
	d.mu.Unlock()
	tx.cancel(nil)
	close(tx.done)
}

// inFlight returns the transactions in flight, setting the state first.
func (d *drain) inFlight(set func(*drain)) []*transaction {
	d.mu.Lock()
	defer d.mu.Unlock()
	set(d)
	txs := make([]*transaction, 0, len(d.txs))
	for tx := range d.txs {
		txs = append(txs, tx)
	}
	return txs
}

// writeUnfinished writes the record of a transaction that did not end: what
// was known at its last checkpoint, outcome aborted, no status (the client
// got no answer from it).
func (g *Gateway) writeUnfinished(tx *transaction, why string) {
	tx.mu.Lock()
	rec := tx.known
	tx.mu.Unlock()
	rec.Time = tx.start.UTC()
	rec.DurationMS = float64(g.now().Sub(tx.start).Microseconds()) / 1000
	rec.Status, rec.BytesOut = 0, 0
	rec.Reason = abortedReason + ": " + why
	rec.Outcome, rec.Durable = audit.OutcomeAborted, true
	svc := rec.Service
	if svc == "" {
		svc = "-"
	}
	g.metrics.requests.WithLabelValues(svc, rec.Outcome).Inc()
	_ = g.audit.Write(&rec) // failures are counted through audit.Log.OnError
}

// BeginShutdown is the first phase of a graceful stop: /readyz answers 503
// while the listeners keep serving, and every response from now on carries
// Connection: close. Idle keep-alive connections are left open, so that a
// request already on its way over one is served, and closed after their next
// response. Shutdown calls it; it is idempotent.
func (g *Gateway) BeginShutdown() {
	g.closing.Store(true)
	g.ready.Store(false)
}

// Shutdown stops accepting, lets in-flight requests finish until ctx ends,
// aborts (and audits) those still running, then closes the audit sinks
// (flushing and fsyncing them), the store and the compiled schemas. See the
// phases above. It returns ctx's error when the drain did not finish.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.BeginShutdown()
	if g.stopWatch != nil {
		g.stopWatch()
	}
	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, l := range g.listeners {
		if l.server == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.server.Shutdown(ctx); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("listener %s: %w", l.name, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	g.abortInFlight()
	if g.admin != nil {
		if err := g.admin.Shutdown(ctx); err != nil {
			_ = g.admin.Close()
			errs = append(errs, fmt.Errorf("admin listener: %w", err))
		}
	}
	g.wg.Wait()
	// Last: every record of a transaction is written by now (or the log
	// says which could not be).
	g.drain.mu.Lock()
	g.drain.auditClosed = true
	g.drain.mu.Unlock()
	errs = append(errs, g.audit.Close(), g.store.Close(), g.tracing.shutdown())
	g.closeSchemas()
	return errors.Join(errs...)
}

// abortInFlight ends the transactions still running after the drain: it
// cancels them, gives them abortGrace to end and record themselves, lets
// their answers out, closes the connections and records what is left.
func (g *Gateway) abortInFlight() {
	txs := g.drain.inFlight(func(d *drain) { d.aborting = true })
	if len(txs) > 0 {
		g.log.Warn("drain deadline passed: aborting in-flight requests", "inFlight", len(txs))
		for _, tx := range txs {
			tx.cancel(errShutdown)
		}
		grace := time.NewTimer(abortGrace)
		defer grace.Stop()
	wait:
		for _, tx := range txs {
			select {
			case <-tx.done:
			case <-grace.C:
				break wait
			}
		}
	}
	// The aborted handlers' faults are written; net/http closes each
	// connection after its answer. Then close whatever is left.
	flushCtx, cancel := context.WithTimeout(context.Background(), flushGrace)
	defer cancel()
	for _, l := range g.listeners {
		if l.server == nil {
			continue
		}
		if len(txs) > 0 {
			_ = l.server.Shutdown(flushCtx)
		}
		_ = l.server.Close()
	}
	rest := g.drain.inFlight(func(d *drain) { d.sealed = true })
	var unfinished int
	for _, tx := range rest {
		if tx.recorded.CompareAndSwap(false, true) {
			unfinished++
			g.writeUnfinished(tx, fmt.Sprintf("still running %s after the drain deadline; its connection was closed", abortGrace))
			continue
		}
		// Its finish is writing the record: the audit log stays open for it.
		select {
		case <-tx.done:
		case <-time.After(recordWait):
			tx.mu.Lock()
			id := tx.known.CorrelationID
			tx.mu.Unlock()
			g.log.Error("audit record still being written at shutdown", "correlationId", id)
		}
	}
	if len(txs) > 0 || unfinished > 0 {
		// unfinished of them are recorded by Shutdown, the others recorded
		// themselves (outcome aborted, or ok for one that made it).
		g.log.Warn("in-flight requests aborted and audited", "aborted", len(txs), "unfinished", unfinished)
	}
}
