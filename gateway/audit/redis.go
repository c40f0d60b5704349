package audit

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisTimeout bounds each XADD when RedisStream is given no timeout;
// it matches the store's default, since both sit on the request path.
const DefaultRedisTimeout = 200 * time.Millisecond

// RedisStreamField is the stream entry field that holds the record's JSON.
const RedisStreamField = "record"

// RedisStream is a sink that adds each record to a Redis stream for central
// collection:
//
//	XADD stream MAXLEN ~ maxLen * record <json>
//
// The JSON is the same line the other sinks get, without the newline.
// maxLen caps the stream approximately (Redis trims whole nodes, so the
// stream may hold somewhat more); zero or less leaves it uncapped. Each XADD
// is bounded by timeout (DefaultRedisTimeout when zero or less), dial and
// the client's retries included; the client should be configured like the
// store's (ContextTimeoutEnabled, DisableIdentity, maintenance notifications
// disabled) so that the deadline is honoured.
//
// A failed XADD is returned as an error, so Log.Write reports it to OnError
// while the other sinks still get the record; nothing is buffered for a
// retry. Close does not close the client, which the caller owns and may
// share. RedisStream panics if client is nil or stream is empty: the
// configuration is checked before a sink is built.
func RedisStream(client redis.UniversalClient, stream string, maxLen int64, timeout time.Duration) Sink {
	if client == nil || stream == "" {
		panic("audit: RedisStream needs a client and a stream name")
	}
	if timeout <= 0 {
		timeout = DefaultRedisTimeout
	}
	return &redisStreamSink{client: client, stream: stream, maxLen: max(maxLen, 0), timeout: timeout}
}

type redisStreamSink struct {
	client  redis.UniversalClient
	stream  string
	maxLen  int64
	timeout time.Duration
}

func (s *redisStreamSink) WriteRecord(line []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	err := s.client.XAdd(ctx, &redis.XAddArgs{
		Stream: s.stream,
		MaxLen: s.maxLen,
		Approx: true,
		ID:     "*",
		Values: []any{RedisStreamField, bytes.TrimSuffix(line, []byte("\n"))},
	}).Err()
	if err != nil {
		return fmt.Errorf("audit: redis stream %s: %w", s.stream, err)
	}
	return nil
}

// Close does nothing: the client belongs to the caller.
func (s *redisStreamSink) Close() error { return nil }
