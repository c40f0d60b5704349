package gateway_test

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/gateway/internal/redistest"
)

// TestRateLimitAcrossInstances: two gateways sharing one Redis share the
// caller's limit; over it the answer is 429 with a SOAP fault and a
// Retry-After, and the backend is not called.
func TestRateLimitAcrossInstances(t *testing.T) {
	srv := redistest.Start(t)
	o := envOptions{store: redisStore(srv, "gh-rate-test:"), rateLimits: `<rateLimits><caller rate="3" per="1m" burst="3"/></rateLimits>`}
	gw1 := newEnv(t, o)
	o.dir = gw1.dir
	gw2 := newEnv(t, o)
	for i, e := range []*env{gw1, gw2, gw1} {
		resp := e.post(t, accountsPath, envelope11(getBalance), "1.1")
		if body := readAll(t, resp); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, body)
		}
	}
	resp := gw2.post(t, accountsPath, envelope11(getBalance), "1.1")
	id := expectFault(t, resp, http.StatusTooManyRequests, "soap:Client")
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
		t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	if r := gw2.record(t, id); !strings.Contains(r.Reason, "rate limit for caller") {
		t.Errorf("reason %q", r.Reason)
	}
	if n := gw1.backend.Calls() + gw2.backend.Calls(); n != 3 {
		t.Errorf("backend calls %d, want 3", n)
	}
}

// TestOpenBreakerFailsFast: after the configured failures in a row the
// breaker opens and the next request gets a Receiver fault at once,
// without trying the backend.
func TestOpenBreakerFailsFast(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	addr := ln.Addr().String()
	ln.Close()
	e := newEnv(t, envOptions{backendURL: "http://" + addr + "/accounts", backendTLS: `<breaker failures="2" openFor="1m"/>`})
	for range 2 {
		expectFault(t, e.post(t, accountsPath, envelope11(getBalance), "1.1"), http.StatusBadGateway, "soap:Server")
	}
	// Something listens now: an open breaker must not even try it.
	hits := make(chan struct{}, 1)
	ln2, err := net.Listen("tcp", addr)
	must(t, err)
	defer ln2.Close()
	go func() {
		if c, err := ln2.Accept(); err == nil {
			hits <- struct{}{}
			c.Close()
		}
	}()
	start := time.Now()
	id := expectFault(t, e.post(t, accountsPath, envelope11(getBalance), "1.1"), http.StatusServiceUnavailable, "soap:Server")
	if d := time.Since(start); d > time.Second {
		t.Errorf("open breaker answered after %v", d)
	}
	if r := e.record(t, id); !strings.Contains(r.Reason, "circuit open") {
		t.Errorf("reason %q", r.Reason)
	}
	select {
	case <-hits:
		t.Error("the open breaker let a call through to the backend")
	case <-time.After(100 * time.Millisecond):
	}
	admin := "http://" + e.gw.AdminAddr().String() + "/metrics"
	resp, err := http.Get(admin)
	must(t, err)
	if m := readAll(t, resp); !strings.Contains(m, `gatehouse_breaker_state{service="accounts"} 2`) {
		t.Error("breaker state not visible as open in metrics")
	}
}
