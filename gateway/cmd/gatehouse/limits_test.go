package main

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/gateway/internal/demo"
)

// Issue 18, items 4 and 6, through the real binary: a connection flood and a
// hung backend.

// rawFlood opens n TCP connections from the loopback address from
// (127.0.0.x) to addr that never send a byte, and sorts them within a
// second: those the gateway closed at once (reset while connecting, or
// closed) and those it holds.
func rawFlood(t *testing.T, from, addr string, n int) (held []net.Conn, refused int) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 2 * time.Second}
	var open []net.Conn
	for range n {
		c, err := d.Dial("tcp", addr)
		switch {
		case errors.Is(err, syscall.EADDRNOTAVAIL):
			t.Skipf("dial from %s (needs the 127.0.0.0/8 loopback network): %v", from, err)
		case errors.Is(err, syscall.ECONNRESET):
			refused++
		case err != nil:
			t.Fatalf("dial from %s: %v", from, err)
		default:
			t.Cleanup(func() { c.Close() })
			open = append(open, c)
		}
	}
	closed := make([]bool, len(open))
	var wg sync.WaitGroup
	for i, c := range open {
		wg.Add(1)
		go func() {
			defer wg.Done()
			closed[i] = closedWithin(c, time.Second)
		}()
	}
	wg.Wait()
	for i, c := range open {
		if closed[i] {
			refused++
		} else {
			held = append(held, c)
		}
	}
	return held, refused
}

// closedWithin reports whether the peer closed c within d (a read ends with
// EOF or a reset, not the deadline).
func closedWithin(c net.Conn, d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// TestBinaryConnectionFlood is issue 18 item 4: 80 connections that never
// start their TLS handshake, from one address, against limits of 50
// connections, 40 per client address and 45 handshakes. The first 40 are
// held, the other 40 closed at once; a normal mTLS client (another address)
// and the admin listener answer meanwhile; a second address gets the last
// 5 handshake places; every silent connection is closed after the 3s
// handshake timeout; the metrics count each refusal by its reason.
func TestBinaryConnectionFlood(t *testing.T) {
	const handshakeTimeout = 3 * time.Second
	bin := buildBinary(t)
	dir := t.TempDir()
	backend := httptest.NewServer(&demo.Accounts{})
	defer backend.Close()
	edge, admin := freeAddr(t), freeAddr(t)
	cfgPath := writeDemo(t, dir, backend.URL+"/accounts", edge, admin,
		`<timeouts readHeader="5s" read="30s" write="60s" idle="120s"/>`,
		`<timeouts readHeader="5s" read="30s" write="60s" idle="120s"/>
    <connections max="50" perClient="40" pendingHandshakes="45" handshakeTimeout="3s"/>`)
	srv := serveDemo(t, bin, cfgPath, admin)
	pki := filepath.Join(dir, "pki")
	metric := func(series string) string { return metricValue(t, admin, series) }
	for _, r := range []string{"max_connections", "per_client", "pending_handshakes", "handshake_timeout"} {
		if v := metric(`gatehouse_connections_refused_total{listener="edge",reason="` + r + `"}`); v != "0" {
			t.Errorf("refusals for %s before the flood: %s, want 0", r, v)
		}
	}

	start := time.Now()
	held, refused := rawFlood(t, "127.0.0.2", edge, 80)
	if len(held) != 40 || refused != 40 {
		t.Fatalf("flood of 80 from one address: %d held, %d closed at once; want 40 and 40 (perClient 40)\n%s", len(held), refused, srv.stderr.String())
	}

	// Meanwhile: a normal client, and the admin listener.
	client := mtlsClient(t, pki)
	resp, body, err := getBalance(client, edge, nil)
	if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(body, "Balance") {
		t.Fatalf("normal client during the flood: %v %v\n%s", err, resp, body)
	}
	if r, err := http.Get("http://" + admin + "/readyz"); err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("/readyz during the flood: %v %v", err, r)
	} else {
		r.Body.Close()
	}
	if v := metric(`gatehouse_connections_refused_total{listener="edge",reason="per_client"}`); v != "40" {
		t.Errorf("per_client refusals = %s, want 40", v)
	}
	if v := metric(`gatehouse_connections{listener="edge",state="handshaking"}`); v != "40" {
		t.Errorf("connections handshaking = %s, want 40", v)
	}
	if v := metric(`gatehouse_connections{listener="edge",state="open"}`); v != "41" { // and the client's keep-alive connection
		t.Errorf("connections open = %s, want 41", v)
	}

	// A second address: 5 handshake places are left.
	held2, refused2 := rawFlood(t, "127.0.0.3", edge, 10)
	if len(held2) != 5 || refused2 != 5 {
		t.Errorf("flood of 10 from a second address: %d held, %d closed at once; want 5 and 5 (pendingHandshakes 45)", len(held2), refused2)
	}
	if v := metric(`gatehouse_connections_refused_total{listener="edge",reason="pending_handshakes"}`); v != "5" {
		t.Errorf("pending_handshakes refusals = %s, want 5", v)
	}
	// The keep-alive connection past its handshake still serves.
	if resp, _, err := getBalance(client, edge, nil); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("normal client on its connection with the handshake places taken: %v %v", err, resp)
	}

	// The handshake timeout closes every silent connection.
	for _, c := range append(held, held2...) {
		if !closedWithin(c, time.Until(start.Add(handshakeTimeout+3*time.Second))) {
			t.Fatalf("a silent connection was still open %s after the flood began (handshake timeout %s)", time.Since(start), handshakeTimeout)
		}
	}
	if d := time.Since(start); d < handshakeTimeout {
		t.Errorf("silent connections closed %s after the flood began, before the handshake timeout", d)
	}
	for deadline := time.Now().Add(2 * time.Second); metric(`gatehouse_connections{listener="edge",state="handshaking"}`) != "0"; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("connections still handshaking after the timeout")
		}
	}
	if v := metric(`gatehouse_connections_refused_total{listener="edge",reason="handshake_timeout"}`); v != "45" {
		t.Errorf("handshake_timeout closes = %s, want 45", v)
	}
	// A new client connects as before.
	if resp, _, err := getBalance(mtlsClient(t, pki), edge, nil); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("new client after the flood: %v %v", err, resp)
	}
	if log := srv.stderr.String(); !strings.Contains(log, "connection refused: limit reached") || !strings.Contains(log, "TLS handshake not completed in time") {
		t.Errorf("the log does not say why connections were closed:\n%s", log)
	}
	if n := strings.Count(srv.stderr.String(), "connection refused: limit reached"); n > 10 {
		t.Errorf("%d log lines for 45 refusals within seconds, want at most one a second", n)
	}
}

// TestBinaryHungBackendOpensBreaker is issue 18 item 6: with a backend that
// accepts calls and never answers (a stopped process), the breaker counts the
// calls as failed once they are slowCall old, opens after 3 of them, and
// later requests are refused at once with the breaker's fault instead of
// waiting for the 10s backend timeout.
func TestBinaryHungBackendOpensBreaker(t *testing.T) {
	const hung = 3
	bin := buildBinary(t)
	dir := t.TempDir()
	release := make(chan struct{})
	var hits atomic.Int64
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	var wg sync.WaitGroup // the hung calls
	defer backend.Close()
	defer wg.Wait()
	defer close(release) // first: Close and the hung calls wait for the handlers
	edge, admin := freeAddr(t), freeAddr(t)
	cfgPath := writeDemo(t, dir, backend.URL+"/accounts", edge, admin,
		`timeout="10s" maxResponseBytes="4194304"/>`,
		`timeout="10s" maxResponseBytes="4194304"><breaker failures="3" slowCall="500ms"/></backend>`)
	srv := serveDemo(t, bin, cfgPath, admin)
	client := mtlsClient(t, filepath.Join(dir, "pki"))
	if v := metricValue(t, admin, `gatehouse_backend_slow_calls_total{service="accounts"}`); v != "0" {
		t.Errorf("slow calls at start = %s, want 0", v)
	}

	for range hung {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if resp, _, err := getBalance(client, edge, nil); err == nil && resp.StatusCode == http.StatusOK {
				t.Errorf("a call to the hung backend answered 200")
			}
		}()
	}
	for deadline := time.Now().Add(5 * time.Second); hits.Load() < hung; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the backend got %d of %d calls\n%s", hits.Load(), hung, srv.stderr.String())
		}
	}
	hungAt := time.Now()
	for metricValue(t, admin, `gatehouse_breaker_state{service="accounts"}`) != "2" {
		if time.Since(hungAt) > 3*time.Second {
			t.Fatalf("breaker not open 3s after %d calls hung (slowCall 500ms, timeout 10s)\n%s", hung, srv.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("breaker open %s after the calls hung", time.Since(hungAt).Round(time.Millisecond))
	if v := metricValue(t, admin, `gatehouse_backend_slow_calls_total{service="accounts"}`); v != "3" {
		t.Errorf("slow calls = %s, want 3", v)
	}

	// Later requests: refused at once, without reaching the backend.
	for i := range 5 {
		start := time.Now()
		resp, body, err := getBalance(client, edge, nil)
		took := time.Since(start)
		if err != nil {
			t.Fatalf("request %d with the breaker open: %v", i, err)
		}
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "backend unavailable") {
			t.Errorf("request %d with the breaker open: HTTP %d, want 503 with the breaker's fault\n%s", i, resp.StatusCode, body)
		}
		if took > time.Second {
			t.Errorf("request %d with the breaker open took %s, want an answer at once", i, took)
		}
	}
	if got := hits.Load(); got != hung {
		t.Errorf("backend calls = %d, want %d (none while open)", got, hung)
	}
	if !strings.Contains(srv.stderr.String(), "circuit breaker open") {
		t.Errorf("the log does not say that the breaker opened:\n%s", srv.stderr.String())
	}
}
