package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/gateway/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

func randomPrefix() string {
	return "gatehouse-test-" + rand.Text()[:12] + ":"
}

// newTestRedis returns a Redis store closed at the end of the test. The suite's
// timeout is generous (-race, parallel subtests); TestRedisFailsClosed checks the default.
func newTestRedis(tb testing.TB, opts RedisOptions, p LockoutPolicy) *Redis {
	tb.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Second
	}
	r, err := NewRedis(opts, p)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Close() })
	return r
}

func TestRedisInstancesShareState(t *testing.T) {
	addr := redistest.SharedAddr(t)
	prefix := randomPrefix()
	a := newTestRedis(t, RedisOptions{Addrs: []string{addr}, Prefix: prefix}, fastPolicy)
	b := newTestRedis(t, RedisOptions{Addrs: []string{addr}, Prefix: prefix}, fastPolicy)

	k := []ReplayKey{{Kind: "nonce", Value: []byte("shared"), TTL: time.Minute}}
	wantSeen(t, a, k, false)
	wantSeen(t, b, k, true)

	for i := 1; i < fastPolicy.Threshold; i++ {
		wantFail(t, a, alice, false, false)
	}
	wantFail(t, b, alice, true, false)
	wantCheck(t, a, alice, true, false)
	for i := 1; i < fastPolicy.CallerThreshold; i++ {
		wantFail(t, a, Attempt{Caller: portal}, false, false)
	}
	wantFail(t, b, Attempt{Caller: portal}, false, true)
	wantCheck(t, a, Attempt{Caller: portal}, false, true)

	// Another prefix is another deployment.
	other := newTestRedis(t, RedisOptions{Addrs: []string{addr}, Prefix: randomPrefix()}, fastPolicy)
	wantSeen(t, other, k, false)
	wantCheck(t, other, via(alice, portal), false, false)
}

func TestRedisFailsClosedAndRecovers(t *testing.T) {
	srv := redistest.Start(t) // always private: this test kills it
	s := newTestRedis(t, RedisOptions{Addrs: []string{srv.Addr}, Timeout: DefaultTimeout}, fastPolicy)
	ctx := context.Background()

	wantSeen(t, s, []ReplayKey{{Kind: "nonce", Value: []byte("before"), TTL: time.Minute}}, false)
	wantFail(t, s, alice, false, false)

	srv.Stop()

	ops := map[string]func() error{
		"Remember": func() error {
			seen, err := s.Remember(ctx, []ReplayKey{{Kind: "nonce", Value: []byte("during"), TTL: time.Minute}})
			if err == nil {
				return fmt.Errorf("seen = %v", seen)
			}
			return nil
		},
		"Check": func() error {
			st, err := s.Check(ctx, via(alice, portal))
			if err == nil {
				return fmt.Errorf("standing = %+v", st)
			}
			return nil
		},
		"Fail": func() error {
			st, err := s.Fail(ctx, via(alice, portal))
			if err == nil {
				return fmt.Errorf("standing = %+v", st)
			}
			return nil
		},
		"Decide": func() error {
			d, err := s.Decide(ctx, Request{CallerRate: take("caller:p", roomy), Attempt: via(alice, portal), Keys: []ReplayKey{nonce("during")}})
			if err == nil {
				return fmt.Errorf("decision = %+v", d)
			}
			return nil
		},
		"Ping": func() error {
			if s.Ping(ctx) == nil {
				return errors.New("ping succeeded")
			}
			return nil
		},
	}
	for round := range 3 { // stale pooled connections first, then failing dials
		for name, op := range ops {
			start := time.Now()
			if err := op(); err != nil {
				t.Fatalf("round %d: %s with Redis down returned no error: %v", round, name, err)
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Fatalf("round %d: %s took %s to fail, want a bounded error", round, name, took)
			} else {
				t.Logf("round %d: %s failed after %s", round, name, took.Round(time.Millisecond))
			}
		}
	}

	srv.Restart() // same port, same client
	restarted := time.Now()
	for s.Ping(ctx) != nil {
		if time.Since(restarted) > 10*time.Second {
			t.Fatal("the client did not reconnect within 10s of the restart")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("reconnected %s after the restart", time.Since(restarted).Round(time.Millisecond))

	wantSeen(t, s, []ReplayKey{{Kind: "nonce", Value: []byte("after"), TTL: time.Minute}}, false)
	wantSeen(t, s, []ReplayKey{{Kind: "nonce", Value: []byte("after"), TTL: time.Minute}}, true)
	wantCheck(t, s, alice, false, false)
	// The restarted server has an empty script cache: Fail and Decide must fall
	// back to EVAL.
	wantDecision(t, s, Request{Keys: []ReplayKey{nonce("after-decide")}}, Admitted)
	wantDecision(t, s, Request{Keys: []ReplayKey{nonce("after-decide")}}, Replayed)
	failTimes(t, s, fastPolicy.Threshold, alice)
	wantCheck(t, s, alice, true, false)
	wantDecision(t, s, Request{Attempt: alice}, LockedOut)
}

func TestRedisKeysAreHashed(t *testing.T) {
	addr := redistest.SharedAddr(t)
	prefix := randomPrefix()
	s := newTestRedis(t, RedisOptions{Addrs: []string{addr}, Prefix: prefix}, fastPolicy)
	ctx := context.Background()

	nonce := []byte("nonce-SECRET-{tag}")
	subject := "user:SECRET-alice"
	wantSeen(t, s, []ReplayKey{{Kind: "nonce", Value: nonce, TTL: time.Minute}}, false)
	failTimes(t, s, fastPolicy.Threshold, Attempt{User: "SECRET-alice"})

	c := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
	defer c.Close()
	var keys []string
	iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if strings.Contains(k, "SECRET") || strings.Contains(k, "alice") || strings.Contains(k, "tag}") {
			t.Errorf("key %q contains raw attacker bytes", k)
		}
	}

	nonceSum := sha256.Sum256(nonce)
	subjectSum := sha256.Sum256([]byte(subject))
	want := map[string]time.Duration{
		prefix + "replay:nonce:{" + hex.EncodeToString(nonceSum[:]) + "}": time.Minute,
		prefix + "lock:{" + hex.EncodeToString(subjectSum[:]) + "}":       fastPolicy.BaseBackoff,
		prefix + "level:{" + hex.EncodeToString(subjectSum[:]) + "}":      fastPolicy.BaseBackoff + calmFactor*fastPolicy.MaxBackoff,
	}
	if len(keys) != len(want) { // the fail counter was deleted by the lockout
		t.Errorf("keys = %q, want the %d keys %q", keys, len(want), want)
	}
	for k, maxTTL := range want {
		ttl, err := c.PTTL(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl <= 0 || ttl > maxTTL {
			t.Errorf("PTTL %s = %s, want in (0, %s]", k, ttl, maxTTL)
		}
	}

	// A failure counter lives for the window.
	wantFail(t, s, Attempt{User: "SECRET-alice"}, true, false) // locked: not counted
	wantFail(t, s, Attempt{User: "SECRET-bob"}, false, false)
	bobSum := sha256.Sum256([]byte("user:SECRET-bob"))
	failKey := prefix + "fail:{" + hex.EncodeToString(bobSum[:]) + "}"
	if ttl, err := c.PTTL(ctx, failKey).Result(); err != nil || ttl <= 0 || ttl > fastPolicy.Window {
		t.Errorf("PTTL %s = %s, %v; want in (0, %s]", failKey, ttl, err, fastPolicy.Window)
	}
}

// countHook counts what the client sends: single commands and pipelines.
type countHook struct{ single, pipelines, cmds atomic.Int64 }

func (h *countHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.single.Add(1)
		return next(ctx, cmd)
	}
}

func (h *countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.pipelines.Add(1)
		h.cmds.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

func (h *countHook) take() (single, pipelines, cmds int64) {
	return h.single.Swap(0), h.pipelines.Swap(0), h.cmds.Swap(0)
}

func TestRedisOneRoundTrip(t *testing.T) {
	srv := redistest.Start(t) // private: the test flushes the script cache
	s := newTestRedis(t, RedisOptions{Addrs: []string{srv.Addr}}, fastPolicy)
	hook := &countHook{}
	s.client.AddHook(hook)
	ctx := context.Background()

	// Warm up: the first pipeline dials its connection, whose handshake runs through
	// the hooks too.
	wantSeen(t, s, []ReplayKey{{Kind: "nonce", Value: []byte("warm-up"), TTL: time.Minute}}, false)
	hook.take()

	wantSeen(t, s, []ReplayKey{
		{Kind: "nonce", Value: []byte("1"), TTL: time.Minute},
		{Kind: "sig", Value: []byte("2"), TTL: time.Minute},
		{Kind: "assertion", Value: []byte("3"), TTL: time.Minute},
	}, false, false, false)
	if single, pipes, cmds := hook.take(); single != 0 || pipes != 1 || cmds != 3 {
		t.Errorf("Remember of 3 keys: %d commands and %d pipelines of %d commands; want one pipeline of 3", single, pipes, cmds)
	}

	// The cancellation check of a presented token rides in the replay pipeline.
	wantAdmit(t, s, []ReplayKey{
		{Kind: "nonce", Value: []byte("4"), TTL: time.Minute},
		{Kind: "assertion", Value: []byte("5"), TTL: time.Minute},
	}, []TokenRef{{"https://sts", "_t"}}, []bool{false, false}, []bool{false})
	if single, pipes, cmds := hook.take(); single != 0 || pipes != 1 || cmds != 3 {
		t.Errorf("Admit of 2 keys and a token: %d commands and %d pipelines of %d commands; want one pipeline of 3", single, pipes, cmds)
	}

	wantCheck(t, s, via(alice, "x"), false, false)
	if single, pipes, cmds := hook.take(); single != 0 || pipes != 1 || cmds != 2 {
		t.Errorf("Check of a user and a caller: %d commands and %d pipelines of %d commands; want one pipeline of 2", single, pipes, cmds)
	}

	wantFail(t, s, via(alice, "x"), false, false) // first use: NOSCRIPT, then EVAL
	hook.take()
	wantFail(t, s, via(alice, "x"), false, false) // script cached
	if single, pipes, cmds := hook.take(); single != 0 || pipes != 1 || cmds != 2 {
		t.Errorf("Fail of 2 subjects: %d commands and %d pipelines of %d commands; want one pipeline of 2", single, pipes, cmds)
	}

	// After SCRIPT FLUSH the failure is counted exactly once, through EVAL.
	if err := srv.Admin().ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	wantFail(t, s, alice, true, false)
	if single, pipes, _ := hook.take(); single != 0 || pipes != 2 {
		t.Errorf("Fail after SCRIPT FLUSH: %d commands and %d pipelines; want two pipelines (EVALSHA, EVAL)", single, pipes)
	}
}

func TestNewRedisRejects(t *testing.T) {
	tests := []struct {
		name   string
		opts   RedisOptions
		policy LockoutPolicy
	}{
		{"no address", RedisOptions{}, fastPolicy},
		{"brace in prefix", RedisOptions{Addrs: []string{"127.0.0.1:1"}, Prefix: "{gh}:"}, fastPolicy},
		{"DB on Cluster", RedisOptions{Addrs: []string{"127.0.0.1:1", "127.0.0.1:2"}, DB: 1}, fastPolicy},
		{"zero threshold", RedisOptions{Addrs: []string{"127.0.0.1:1"}}, LockoutPolicy{Window: time.Minute, BaseBackoff: time.Second, MaxBackoff: time.Second}},
		{"zero window", RedisOptions{Addrs: []string{"127.0.0.1:1"}}, LockoutPolicy{Threshold: 1, BaseBackoff: time.Second, MaxBackoff: time.Second}},
		{"max below base", RedisOptions{Addrs: []string{"127.0.0.1:1"}}, LockoutPolicy{Threshold: 1, Window: time.Minute, BaseBackoff: time.Minute, MaxBackoff: time.Second}},
		{"sub-millisecond backoff", RedisOptions{Addrs: []string{"127.0.0.1:1"}}, LockoutPolicy{Threshold: 1, Window: time.Minute, BaseBackoff: time.Microsecond, MaxBackoff: time.Second}},
		{"huge backoff", RedisOptions{Addrs: []string{"127.0.0.1:1"}}, LockoutPolicy{Threshold: 1, Window: time.Minute, BaseBackoff: time.Second, MaxBackoff: 1 << 62}},
		{"caller threshold below user threshold", RedisOptions{Addrs: []string{"127.0.0.1:1"}}, LockoutPolicy{Threshold: 5, Window: time.Minute, BaseBackoff: time.Second, MaxBackoff: time.Second, CallerThreshold: 4, CallerBackoff: time.Second}},
		{"no caller backoff", RedisOptions{Addrs: []string{"127.0.0.1:1"}}, LockoutPolicy{Threshold: 5, Window: time.Minute, BaseBackoff: time.Second, MaxBackoff: time.Second, CallerThreshold: 50}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r, err := NewRedis(tt.opts, tt.policy); err == nil {
				r.Close()
				t.Fatal("no error")
			} else {
				t.Log(err)
			}
		})
	}
}

func TestCeilMillisecond(t *testing.T) {
	for in, want := range map[time.Duration]time.Duration{
		time.Nanosecond:               time.Millisecond,
		time.Millisecond:              time.Millisecond,
		1500 * time.Microsecond:       2 * time.Millisecond,
		time.Minute:                   time.Minute,
		time.Minute + time.Nanosecond: time.Minute + time.Millisecond,
	} {
		if got := ceilMillisecond(in); got != want {
			t.Errorf("ceilMillisecond(%s) = %s, want %s", in, got, want)
		}
	}
}

// BenchmarkRedisRemember measures one request's replay check: three keys, one round trip.
func BenchmarkRedisRemember(b *testing.B) {
	srv := redistest.Start(b)
	s := newTestRedis(b, RedisOptions{Addrs: []string{srv.Addr}, Timeout: time.Second}, fastPolicy)
	ctx := context.Background()
	keys := []ReplayKey{
		{Kind: "nonce", TTL: 10 * time.Second},
		{Kind: "sig", TTL: 10 * time.Second},
		{Kind: "assertion", TTL: 10 * time.Second},
	}
	var bufs [3][]byte
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		for j := range keys {
			bufs[j] = strconv.AppendInt(append(bufs[j][:0], byte('a'+j)), int64(i), 10)
			keys[j].Value = bufs[j]
		}
		seen, err := s.Remember(ctx, keys)
		if err != nil {
			b.Fatal(err)
		}
		if seen[0] || seen[1] || seen[2] {
			b.Fatalf("fresh keys reported seen: %v", seen)
		}
	}
}

// BenchmarkRedisFail measures one failed login counted for a user and a caller.
func BenchmarkRedisFail(b *testing.B) {
	srv := redistest.Start(b)
	p := LockoutPolicy{Threshold: 1 << 30, Window: time.Minute, BaseBackoff: time.Second, MaxBackoff: time.Minute, CallerThreshold: 1 << 30, CallerBackoff: time.Second}
	s := newTestRedis(b, RedisOptions{Addrs: []string{srv.Addr}, Timeout: time.Second}, p)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Fail(ctx, via(alice, portal)); err != nil {
			b.Fatal(err)
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for the writes of several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRedisLoggerIsStructured: go-redis's own lines (here a failed dial)
// reach the slog logger as warnings with component=redis, not plain text
// on the standard logger.
func TestRedisLoggerIsStructured(t *testing.T) {
	var buf lockedBuffer
	SetRedisLogger(slog.New(slog.NewJSONHandler(&buf, nil)))
	t.Cleanup(func() { SetRedisLogger(slog.New(slog.NewTextHandler(os.Stderr, nil))) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	r, err := NewRedis(RedisOptions{Addrs: []string{addr}, Timeout: 200 * time.Millisecond}, fastPolicy)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Ping(t.Context()); err == nil {
		t.Fatal("ping of a closed port succeeded")
	}
	var line struct{ Level, Msg, Component string }
	for l := range strings.Lines(buf.String()) {
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("not a JSON line: %q", l)
		}
		if line.Component == "redis" && line.Level == "WARN" && strings.Contains(line.Msg, "dial") {
			return
		}
	}
	t.Errorf("no structured warning about the dial failure in:\n%s", buf.String())
}
