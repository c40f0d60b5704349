package gateway_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/gateway"
	"github.com/gatehouse/gatehouse/gateway/internal/redistest"
)

// roundTripHook counts what a client sends: each single command and each
// pipeline is one network round trip.
type roundTripHook struct{ n atomic.Int64 }

func (h *roundTripHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *roundTripHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}
func (h *roundTripHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// TestOneStoreRoundTripPerRequest: a signed request through a gateway with
// both rate limits, lockout and a Redis store (caller limit, lockout check,
// its replay keys and the subject limit) costs one Redis round trip; so does
// its replay, refused.
func TestOneStoreRoundTripPerRequest(t *testing.T) {
	srv := redistest.Start(t)
	e := newEnv(t, envOptions{store: redisStore(srv, "gh-rtt-test:"), trust: trustInternal, security: signingPolicy,
		rateLimits: `<rateLimits><caller rate="100" per="1m" burst="100"/><subject rate="100" per="1m" burst="100"/></rateLimits>`})
	hook := &roundTripHook{}
	gateway.StoreClient(e.gw).AddHook(hook)

	// Warm up: dial, load the script.
	if resp := e.post(t, accountsPath, signedRequest(t, e.dir), "1.1"); resp.StatusCode != 200 {
		t.Fatalf("warm-up: %d %s", resp.StatusCode, readAll(t, resp))
	} else {
		readAll(t, resp)
	}
	hook.n.Store(0)

	msg := signedRequest(t, e.dir)
	if resp := e.post(t, accountsPath, msg, "1.1"); resp.StatusCode != 200 {
		t.Fatalf("signed request: %d %s", resp.StatusCode, readAll(t, resp))
	} else {
		readAll(t, resp)
	}
	if n := hook.n.Swap(0); n != 1 {
		t.Errorf("signed request: %d Redis round trips, want 1", n)
	}
	expectFault(t, e.post(t, accountsPath, msg, "1.1"), 500, invalidSecurity)
	if n := hook.n.Swap(0); n != 1 {
		t.Errorf("replayed request: %d Redis round trips, want 1", n)
	}
}

// TestFailingRequestsChargeTheCaller: requests refused before the store is asked
// (here: bodies that are not XML) are still charged against their caller's rate
// limit, as when the limit was checked before the body was read.
func TestFailingRequestsChargeTheCaller(t *testing.T) {
	srv := redistest.Start(t)
	e := newEnv(t, envOptions{store: redisStore(srv, "gh-charge-test:"), rateLimits: `<rateLimits><caller rate="3" per="1m" burst="3"/></rateLimits>`})
	for range 3 {
		resp := e.post(t, accountsPath, "this is not XML", "1.1")
		if body := readAll(t, resp); resp.StatusCode == 200 || resp.StatusCode == http.StatusTooManyRequests {
			t.Fatalf("broken body: %d %s", resp.StatusCode, body)
		}
	}
	id := expectFault(t, e.post(t, accountsPath, envelope11(getBalance), "1.1"), http.StatusTooManyRequests, "soap:Client")
	if r := e.record(t, id); !strings.Contains(r.Reason, "rate limit for caller") {
		t.Errorf("reason %q", r.Reason)
	}
	if e.backend.Calls() != 0 {
		t.Errorf("backend called %d times", e.backend.Calls())
	}
}

// TestRefusedCallerShedLocally: after the store refused a caller over its limit,
// the instance refuses it again at once without asking the store (Redis stopped:
// still 429, not 503), while another instance, which has not seen the refusal,
// fails closed.
func TestRefusedCallerShedLocally(t *testing.T) {
	srv := redistest.Start(t)
	o := envOptions{store: redisStore(srv, "gh-shed-test:"), rateLimits: `<rateLimits><caller rate="1" per="1m" burst="1"/></rateLimits>`}
	gw1 := newEnv(t, o)
	o.dir = gw1.dir
	gw2 := newEnv(t, o)
	if resp := gw1.post(t, accountsPath, envelope11(getBalance), "1.1"); resp.StatusCode != 200 {
		t.Fatalf("first request: %d %s", resp.StatusCode, readAll(t, resp))
	} else {
		readAll(t, resp)
	}
	expectFault(t, gw1.post(t, accountsPath, envelope11(getBalance), "1.1"), http.StatusTooManyRequests, "soap:Client")

	srv.Stop()
	id := expectFault(t, gw1.post(t, accountsPath, envelope11(getBalance), "1.1"), http.StatusTooManyRequests, "soap:Client")
	if r := gw1.record(t, id); !strings.Contains(r.Reason, "rate limit for caller") {
		t.Errorf("reason %q", r.Reason)
	}
	expectFault(t, gw2.post(t, accountsPath, envelope11(getBalance), "1.1"), http.StatusServiceUnavailable, "soap:Server")
}
