package throttle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/gateway/internal/redisscript"
)

// DefaultPrefix is the key prefix used when NewRedisLimiter is given none; it matches
// the store's default.
const DefaultPrefix = "gatehouse:"

// DefaultTimeout bounds each Allow when NewRedisLimiter is given no timeout.
const DefaultTimeout = 200 * time.Millisecond

// redisLimiter keeps GCRA state in Redis through redis_rate, shared by all instances.
//
// redis_rate runs one Lua script per key and reads its reply at once, so calling AllowN
// per key would cost a round trip per key. Instead Allow lets redis_rate do everything
// except the network: it first calls AllowN against a recorder, which keeps the script
// call redis_rate asks for (EVALSHA digest, key, arguments; then, as go-redis answers
// NOSCRIPT by falling back to EVAL, the script text) and answers with a placeholder.
// The recorded calls of all keys go to Redis in one pipeline of EVALSHA (a second
// pipeline of EVAL, only for the keys whose script the server did not know: NOSCRIPT
// means it did not run, so nothing is charged twice). Each reply is then handed back to
// AllowN through the recorder, and redis_rate decodes it. The algorithm, the key's
// "rate:" prefix, the argument encoding and the reply format thus all stay redis_rate's;
// if redis_rate ever asks the recorder for anything else, Allow returns an error.
type redisLimiter struct {
	client  redis.UniversalClient
	prefix  string
	timeout time.Duration
}

var _ Limiter = (*redisLimiter)(nil)

// NewRedisLimiter returns a Limiter whose state lives in Redis, under the key names
// "rate:<prefix>limit:{<hex sha256(key)>}" (a Redis ACL must allow that pattern).
// prefix "" means DefaultPrefix; it should not contain '{' or '}'. timeout bounds each
// Allow (not positive means DefaultTimeout). The client should be configured as the
// store configures its own (store.NewRedis): ContextTimeoutEnabled, so that the
// deadline bounds network waits, one dial attempt per command, DisableIdentity and
// maintenance notifications disabled. The limiter does not close the client.
func NewRedisLimiter(client redis.UniversalClient, prefix string, timeout time.Duration) Limiter {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &redisLimiter{client: client, prefix: prefix, timeout: timeout}
}

// Allow implements Limiter with one pipeline of redis_rate scripts, one per Take. On
// Cluster each key lives in its own slot, so the pipeline costs one round trip per
// node involved.
func (r *redisLimiter) Allow(ctx context.Context, reqs ...Take) (Result, error) {
	if err := validateTakes(reqs); err != nil {
		return Result{}, err
	}
	if len(reqs) == 0 {
		return Result{Allowed: true}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()

	names := make([]string, len(reqs))
	calls := make([]redisscript.Call, len(reqs))
	for i, t := range reqs {
		names[i] = limitKeyName(r.prefix, t.Key)
		rec := &recorder{}
		if _, err := redis_rate.NewLimiter(rec).Allow(ctx, names[i], rateLimit(t.Limit)); err != nil {
			return Result{}, fmt.Errorf("throttle: redis: allow: %w", err)
		}
		if err := rec.recorded(); err != nil {
			return Result{}, fmt.Errorf("throttle: redis: allow: %w", err)
		}
		calls[i] = rec.call
	}

	replies := redisscript.Run(ctx, r.client, calls)

	var v verdict
	for i, t := range reqs {
		if err := checkReply(replies[i]); err != nil {
			return Result{}, fmt.Errorf("throttle: redis: allow: %w", err)
		}
		res, err := redis_rate.NewLimiter(&recorder{reply: replies[i]}).Allow(ctx, names[i], rateLimit(t.Limit))
		if err != nil {
			return Result{}, fmt.Errorf("throttle: redis: allow: %w", err)
		}
		if res.Allowed == 0 {
			v.refuse(t.Key, res.RetryAfter)
		}
	}
	return v.result(), nil
}

func rateLimit(l Limit) redis_rate.Limit {
	return redis_rate.Limit{Rate: l.Rate, Burst: l.Burst, Period: l.Per}
}

// checkReply makes sure a reply has the shape redis_rate's decoder assumes
// ({allowed, remaining, "retry_after", "reset_after"}); it type-asserts without
// checking, and a surprise must be an error (fail closed), not a panic.
func checkReply(cmd *redis.Cmd) error {
	v, err := cmd.Result()
	if err != nil {
		return err
	}
	vals, ok := v.([]any)
	if !ok || len(vals) != 4 {
		return fmt.Errorf("unexpected script reply %v", v)
	}
	_, ok0 := vals[0].(int64)
	_, ok1 := vals[1].(int64)
	_, ok2 := vals[2].(string)
	_, ok3 := vals[3].(string)
	if !ok0 || !ok1 || !ok2 || !ok3 {
		return fmt.Errorf("unexpected script reply %v", v)
	}
	return nil
}

var errUnexpectedCall = errors.New("redis_rate made an unexpected call")

// recorder is the rediser handed to redis_rate. Without a reply it records: it keeps
// the EVALSHA call, answers NOSCRIPT so that go-redis's Script.Run falls back to EVAL
// and reveals the script text, and answers that EVAL with a placeholder reply. With a
// reply it replays: EVALSHA answers with the reply the pipeline got.
type recorder struct {
	reply *redis.Cmd

	call          redisscript.Call
	evalSha, eval int
	unexpected    bool
}

// recorded reports whether exactly the expected calls were recorded.
func (r *recorder) recorded() error {
	if r.unexpected || r.evalSha != 1 || r.eval != 1 || len(r.call.Keys) != 1 || r.call.Src == "" {
		return errUnexpectedCall
	}
	return nil
}

func (r *recorder) EvalSha(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	r.evalSha++
	if r.reply != nil {
		if r.evalSha != 1 {
			return errCmd(ctx, errUnexpectedCall)
		}
		return r.reply
	}
	r.call.SHA, r.call.Keys, r.call.Args = sha1, keys, args
	return errCmd(ctx, redis.ErrNoScript)
}

func (r *recorder) Eval(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd {
	r.eval++
	if r.reply != nil {
		return errCmd(ctx, errUnexpectedCall)
	}
	r.call.Src = script
	cmd := redis.NewCmd(ctx)
	cmd.SetVal([]any{int64(1), int64(0), "-1", "0"}) // allowed; never read by us
	return cmd
}

func (r *recorder) EvalRO(ctx context.Context, _ string, _ []string, _ ...any) *redis.Cmd {
	r.unexpected = true
	return errCmd(ctx, errUnexpectedCall)
}

func (r *recorder) EvalShaRO(ctx context.Context, _ string, _ []string, _ ...any) *redis.Cmd {
	r.unexpected = true
	return errCmd(ctx, errUnexpectedCall)
}

func (r *recorder) ScriptExists(ctx context.Context, _ ...string) *redis.BoolSliceCmd {
	r.unexpected = true
	cmd := redis.NewBoolSliceCmd(ctx)
	cmd.SetErr(errUnexpectedCall)
	return cmd
}

func (r *recorder) ScriptLoad(ctx context.Context, _ string) *redis.StringCmd {
	r.unexpected = true
	cmd := redis.NewStringCmd(ctx)
	cmd.SetErr(errUnexpectedCall)
	return cmd
}

func (r *recorder) Del(ctx context.Context, _ ...string) *redis.IntCmd {
	r.unexpected = true
	cmd := redis.NewIntCmd(ctx)
	cmd.SetErr(errUnexpectedCall)
	return cmd
}

func errCmd(ctx context.Context, err error) *redis.Cmd {
	cmd := redis.NewCmd(ctx)
	cmd.SetErr(err)
	return cmd
}
