package audit

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/gateway/internal/redistest"
)

// newRedisClient is configured like the store's client, so that the
// sink's deadline bounds dial and retries.
func newRedisClient(t *testing.T, addr string, timeout time.Duration) redis.UniversalClient {
	t.Helper()
	return redistest.Client(t, []string{addr}, timeout)
}

func testStream(t *testing.T, c redis.UniversalClient) string {
	name := "gatehouse:test:audit:" + rand.Text()
	t.Cleanup(func() { c.Del(context.Background(), name) })
	return name
}

func TestRedisStreamAddsTheRecord(t *testing.T) {
	c := newRedisClient(t, redistest.SharedAddr(t), time.Second)
	stream := testStream(t, c)
	l := New(RedisStream(c, stream, 1000, time.Second))
	r := rec("corr-1", 7)
	r.Outcome, r.Status, r.Reason = OutcomeFault, 403, "authz: no rule allows"
	if err := l.Write(r); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.XRange(context.Background(), stream, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || len(msgs[0].Values) != 1 {
		t.Fatalf("stream holds %+v, want one entry with one field", msgs)
	}
	got, ok := msgs[0].Values[RedisStreamField].(string)
	if !ok {
		t.Fatalf("entry %+v has no %q field", msgs[0], RedisStreamField)
	}
	want, _ := json.Marshal(r)
	if got != string(want) {
		t.Errorf("entry JSON\n got  %s\n want %s", got, want)
	}
}

func TestRedisStreamTrimsApproximately(t *testing.T) {
	c := newRedisClient(t, redistest.SharedAddr(t), time.Second)
	stream := testStream(t, c)
	const maxLen, total = 100, 1000
	// MAXLEN ~ trims whole macro nodes (stream-node-max-entries, 100 by
	// default), so the stream may keep up to one node more than maxLen.
	const slack = 100
	s := RedisStream(c, stream, maxLen, time.Second)
	l := New(s)
	for i := range total {
		if err := l.Write(rec("c", i)); err != nil {
			t.Fatal(err)
		}
	}
	n, err := c.XLen(context.Background(), stream).Result()
	if err != nil {
		t.Fatal(err)
	}
	if n < maxLen || n > maxLen+slack {
		t.Errorf("stream length %d after %d adds, want between %d and %d", n, total, maxLen, maxLen+slack)
	}
	// The newest record is always kept.
	last, err := c.XRevRangeN(context.Background(), stream, "+", "-", 1).Result()
	if err != nil || len(last) != 1 {
		t.Fatalf("XREVRANGE: %v %+v", err, last)
	}
	var r Record
	if err := json.Unmarshal([]byte(last[0].Values[RedisStreamField].(string)), &r); err != nil || r.BytesIn != total-1 {
		t.Errorf("newest entry %+v (%v), want record %d", r, err, total-1)
	}
}

// TestRedisDownSurfacesAndFileKeepsRecord stops Redis: Write returns the
// error within the sink's timeout, OnError sees it, and the file sink has
// the record all the same. After Redis is back, the sink works again.
func TestRedisDownSurfacesAndFileKeepsRecord(t *testing.T) {
	srv := redistest.Start(t)
	const timeout = 300 * time.Millisecond
	c := newRedisClient(t, srv.Addr, timeout)
	stream := "gatehouse:test:audit"
	path := filepath.Join(t.TempDir(), "audit.log")
	file, err := File(path)
	if err != nil {
		t.Fatal(err)
	}
	rs := RedisStream(c, stream, 1000, timeout)
	l := New(file, rs)
	var reported []error
	l.OnError = func(err error) { reported = append(reported, err) }
	defer l.Close()

	if err := l.Write(rec("before", 0)); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	for i, durable := range []bool{false, true} {
		r := rec("during", i+1)
		r.Durable = durable
		start := time.Now()
		err := l.Write(r)
		elapsed := time.Since(start)
		if err == nil || !strings.Contains(err.Error(), "audit: redis stream "+stream) {
			t.Fatalf("write with Redis down (durable=%v): %v", durable, err)
		}
		if elapsed > timeout+200*time.Millisecond {
			t.Errorf("write with Redis down took %v, timeout is %v", elapsed, timeout)
		}
	}
	if len(reported) != 2 {
		t.Errorf("OnError called %d times, want 2", len(reported))
	}
	recs := readRecords(t, path)
	if len(recs) != 3 || recs[1].CorrelationID != "during" || recs[2].CorrelationID != "during" {
		t.Fatalf("file sink holds %+v, want the records written while Redis was down", recs)
	}

	srv.Restart()
	waitFor(t, "the sink works again after Redis restarts", func() bool {
		return rs.WriteRecord([]byte(`{"correlationId":"after"}`+"\n")) == nil
	})
	msgs, err := c.XRange(context.Background(), stream, "-", "+").Result()
	if err != nil || len(msgs) == 0 {
		t.Fatalf("XRANGE after restart: %v %+v", err, msgs)
	}
}

// TestRedisStreamTimeoutBoundsASlowServer pauses writes on a real server
// (CLIENT PAUSE): XADD hangs, and the sink gives up at its timeout.
func TestRedisStreamTimeoutBoundsASlowServer(t *testing.T) {
	srv := redistest.Start(t)
	const timeout = 200 * time.Millisecond
	c := newRedisClient(t, srv.Addr, timeout)
	s := RedisStream(c, "gatehouse:test:audit", 0, timeout)
	if err := s.WriteRecord([]byte(`{"correlationId":"warm"}` + "\n")); err != nil {
		t.Fatal(err)
	}
	admin := srv.Admin()
	if err := admin.Do(context.Background(), "CLIENT", "PAUSE", 5000, "WRITE").Err(); err != nil {
		t.Fatal(err)
	}
	defer admin.Do(context.Background(), "CLIENT", "UNPAUSE")
	start := time.Now()
	err := s.WriteRecord([]byte(`{"correlationId":"paused"}` + "\n"))
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("XADD succeeded while writes were paused")
	}
	if elapsed < timeout/2 || elapsed > timeout+200*time.Millisecond {
		t.Errorf("gave up after %v (%v), timeout is %v", elapsed, err, timeout)
	}
}
