package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/gateway/audit"
	"github.com/gatehouse/gatehouse/gateway/internal/demo"
)

// Issue 18, items 2 and 3, through the real binary: what SIGTERM does to
// requests in flight, to readiness and to the listeners.

// getBalance posts the demo GetBalance to the edge's accounts service.
func getBalance(client *http.Client, edge string, trace *httptrace.ClientTrace) (*http.Response, string, error) {
	body, err := os.ReadFile(filepath.Join(requests, "get-balance-11.xml"))
	if err != nil {
		return nil, "", err
	}
	req, _ := http.NewRequest("POST", "https://"+edge+"/services/accounts", bytes.NewReader(body))
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `"urn:gatehouse:demo:accounts:GetBalance"`)
	if trace != nil {
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

// waitExit waits (bounded) for the process to exit and fails unless it
// exited with status 0.
func waitExit(t *testing.T, srv *running, within time.Duration) {
	t.Helper()
	select {
	case err := <-srv.done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, srv.stderr.String())
		}
	case <-time.After(within):
		t.Fatalf("gatehouse did not stop within %s of SIGTERM\n%s", within, srv.stderr.String())
	}
}

// waitNotReady polls /readyz until it answers 503 and returns when it did.
func waitNotReady(t *testing.T, admin string, within time.Duration) time.Time {
	t.Helper()
	readyz := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if resp, err := readyz.Get("http://" + admin + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusServiceUnavailable {
				return time.Now()
			}
		}
	}
	t.Fatalf("/readyz did not answer 503 within %s", within)
	return time.Time{}
}

// metricValue reads one unlabelled sample from the admin listener's /metrics.
func metricValue(t *testing.T, admin, name string) string {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return v
		}
	}
	t.Fatalf("no %s in /metrics", name)
	return ""
}

// TestBinaryDrainAbortsInFlight is issue 18 item 2: with -drain shorter
// than the backend, every request that was read gets exactly one audit
// record. N requests are in the backend (which takes 3 s) when SIGTERM
// comes; at the 1 s drain deadline the gateway cancels them, each client
// gets a 503 fault, and each has one record with outcome aborted, written
// and synced before the process exits.
func TestBinaryDrainAbortsInFlight(t *testing.T) {
	const n = 8
	bin := buildBinary(t)
	dir := t.TempDir()
	var hits atomic.Int64
	accounts := &demo.Accounts{}
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select {
		case <-time.After(3 * time.Second):
			accounts.ServeHTTP(w, r)
		case <-r.Context().Done(): // the gateway gave the call up
		}
	}))
	defer backend.Close()
	edge, admin := freeAddr(t), freeAddr(t)
	cfgPath := writeDemo(t, dir, backend.URL+"/accounts", edge, admin)
	srv := serveDemo(t, bin, cfgPath, admin, "-drain", "1s", "-shutdown-delay", "0")
	client := mtlsClient(t, filepath.Join(dir, "pki"))

	type result struct {
		status        int
		correlationID string
		body          string
		err           error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, body, err := getBalance(client, edge, nil)
			results[i].err, results[i].body = err, body
			if resp != nil {
				results[i].status, results[i].correlationID = resp.StatusCode, resp.Header.Get("X-Correlation-ID")
			}
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); hits.Load() < n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the backend got %d of %d requests\n%s", hits.Load(), n, srv.stderr.String())
		}
	}
	// Requests read by the gateway: all n, and all still in flight.
	if v := metricValue(t, admin, "gatehouse_requests_in_flight"); v != "8" {
		t.Fatalf("gatehouse_requests_in_flight = %s, want %d", v, n)
	}

	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	sigterm := time.Now()
	waitExit(t, srv, 10*time.Second)
	stopped := time.Since(sigterm)
	wg.Wait()
	t.Logf("stopped %s after SIGTERM", stopped)

	if stopped < 900*time.Millisecond {
		t.Errorf("stopped %s after SIGTERM, before the 1s drain ended", stopped)
	}
	sent := map[string]bool{}
	for i, r := range results {
		switch {
		case r.err != nil:
			t.Errorf("request %d: no answer: %v", i, r.err)
		case r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, "shutting down"):
			t.Errorf("request %d: HTTP %d, want 503 with a fault saying the gateway is shutting down\n%s", i, r.status, r.body)
		default:
			sent[r.correlationID] = true
		}
	}

	recs := readAudit(t, filepath.Join(dir, "run", "audit.log"))
	byID := map[string]int{}
	for _, r := range recs {
		byID[r.CorrelationID]++
		if r.Outcome != audit.OutcomeAborted || !strings.HasPrefix(r.Reason, "aborted: shutdown") {
			t.Errorf("audit record %s: outcome %q, reason %q; want aborted, aborted: shutdown…", r.CorrelationID, r.Outcome, r.Reason)
		}
		if r.Service != "accounts" || r.Caller == "" {
			t.Errorf("audit record %s: service %q, caller %q; want the request's", r.CorrelationID, r.Service, r.Caller)
		}
	}
	if got := hits.Load(); len(recs) != n || len(byID) != n || got != n {
		t.Errorf("requests read %d, backend hits %d, audit records %d (%d correlation ids); want %d of each", n, got, len(recs), len(byID), n)
	}
	for id := range sent {
		if byID[id] != 1 {
			t.Errorf("correlation id %s answered to a client has %d audit records, want 1", id, byID[id])
		}
	}
	if log := srv.stderr.String(); !strings.Contains(log, "drain deadline passed: aborting in-flight requests") {
		t.Errorf("the log does not say that requests were aborted:\n%s", log)
	}
}

// TestBinaryShutdownDelay is issue 18 item 3: on SIGTERM /readyz turns 503
// at once, the listener keeps serving for -shutdown-delay (its answers carry
// Connection: close, also on a keep-alive connection opened before), and
// only then stops accepting.
func TestBinaryShutdownDelay(t *testing.T) {
	const delay = 2 * time.Second
	bin := buildBinary(t)
	dir := t.TempDir()
	accounts := &demo.Accounts{}
	backend := httptest.NewServer(accounts)
	defer backend.Close()
	edge, admin := freeAddr(t), freeAddr(t)
	cfgPath := writeDemo(t, dir, backend.URL+"/accounts", edge, admin)
	srv := serveDemo(t, bin, cfgPath, admin, "-shutdown-delay", delay.String(), "-drain", "5s")
	client := mtlsClient(t, filepath.Join(dir, "pki"))

	// A keep-alive connection, idle in the client's pool when SIGTERM comes.
	resp, body, err := getBalance(client, edge, nil)
	if err != nil || resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("call before SIGTERM: %v %v close=%v\n%s", err, resp, resp != nil && resp.Close, body)
	}

	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	sigterm := time.Now()
	notReady := waitNotReady(t, admin, 3*time.Second)
	if d := notReady.Sub(sigterm); d > 500*time.Millisecond {
		t.Errorf("/readyz turned 503 %s after SIGTERM, want promptly", d)
	}

	// During the delay: served, on the idle keep-alive connection, with
	// Connection: close; then on a new connection, also with it.
	for _, want := range []struct {
		what   string
		reused bool
	}{{"on the keep-alive connection", true}, {"on a new connection", false}} {
		var reused bool
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
		resp, body, err := getBalance(client, edge, trace)
		if err != nil {
			t.Fatalf("call %s during the delay: %v\n%s", want.what, err, srv.stderr.String())
		}
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "GetBalanceResponse") {
			t.Errorf("call %s during the delay: HTTP %d\n%s", want.what, resp.StatusCode, body)
		}
		// net/http's client turns an HTTP/1.1 response's Connection: close
		// into resp.Close (and removes the header).
		if resp.ProtoMajor != 1 || resp.ProtoMinor != 1 || !resp.Close {
			t.Errorf("call %s during the delay: %s without Connection: close", want.what, resp.Proto)
		}
		if reused != want.reused {
			t.Errorf("call %s during the delay: connection reused = %v", want.what, reused)
		}
	}

	// The listener refuses connections only after the delay.
	var refused time.Time
	for refused.IsZero() {
		if time.Since(sigterm) > delay+5*time.Second {
			t.Fatalf("the listener still accepts %s after SIGTERM\n%s", time.Since(sigterm), srv.stderr.String())
		}
		c, err := net.DialTimeout("tcp", edge, time.Second)
		if err == nil {
			c.Close()
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dial %s: %v", edge, err)
		}
		refused = time.Now()
	}
	const tolerance = 250 * time.Millisecond
	if d := refused.Sub(notReady); d < delay-tolerance {
		t.Errorf("the listener closed %s after readiness dropped, want at least the delay (%s)", d, delay)
	}
	waitExit(t, srv, 10*time.Second)

	recs := readAudit(t, filepath.Join(dir, "run", "audit.log"))
	if len(recs) != 3 || accounts.Calls() != 3 {
		t.Errorf("%d audit records, %d backend calls; want 3 of each", len(recs), accounts.Calls())
	}
	for _, r := range recs {
		if r.Outcome != audit.OutcomeOK {
			t.Errorf("audit record %s: outcome %q, want ok", r.CorrelationID, r.Outcome)
		}
	}
	log := srv.stderr.String()
	for _, phase := range []string{"shutdown: signal received", "shutdown: not ready, still serving", "shutdown: listeners closing, draining in-flight requests", `"msg":"stopped"`} {
		if !strings.Contains(log, phase) {
			t.Errorf("the log does not have the phase %q:\n%s", phase, log)
		}
	}
}

// TestBinaryShutdownDelaySecondSignal: a second SIGTERM during the delay
// ends it; the process does not wait for the rest of a long delay.
func TestBinaryShutdownDelaySecondSignal(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	edge, admin := freeAddr(t), freeAddr(t)
	cfgPath := writeDemo(t, dir, "http://127.0.0.1:1/accounts", edge, admin)
	srv := serveDemo(t, bin, cfgPath, admin, "-shutdown-delay", "60s")
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitNotReady(t, admin, 5*time.Second)
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitExit(t, srv, 10*time.Second)
	if !strings.Contains(srv.stderr.String(), "delay ended early") {
		t.Errorf("the log does not say the delay was cut short:\n%s", srv.stderr.String())
	}
}
