package store

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/gatehouse/gatehouse/gateway/internal/redisscript"
)

// DefaultPrefix is the key prefix used when RedisOptions.Prefix is empty.
const DefaultPrefix = "gatehouse:"

// DefaultTimeout bounds each Redis operation when RedisOptions.Timeout is zero.
const DefaultTimeout = 200 * time.Millisecond

// RedisOptions selects and configures the Redis deployment. The topology follows
// go-redis NewUniversalClient: one address is a standalone server, MasterName selects
// Sentinel (Addrs are then the sentinels), several addresses are a Cluster seed list.
type RedisOptions struct {
	Addrs      []string
	MasterName string // Sentinel master name
	Username   string
	Password   string
	DB         int // standalone and Sentinel only
	TLS        *tls.Config
	// Prefix starts every key name; default DefaultPrefix. It may not contain '{' or
	// '}', which would move the Cluster hash tag.
	Prefix string
	// Timeout bounds each operation, dial and retries included; default DefaultTimeout.
	Timeout time.Duration
	// PoolSize is the connection pool size per node; zero keeps the go-redis default.
	PoolSize int
	// MinIdleConns are dialled at start and kept, so that a burst at start
	// does not wait for dials (capped at PoolSize).
	MinIdleConns int
	// OnEpochChange, if set, is called when a round trip finds that the
	// store's data began anew (see epoch.go): to log it and count it.
	OnEpochChange func(EpochChange)
}

// Redis is the Store shared by all gateway instances, kept in Redis.
type Redis struct {
	client            redis.UniversalClient
	prefix            string
	timeout           time.Duration
	policy            LockoutPolicy
	epoch             epoch
	cluster, sentinel bool
	// infoRefused warns once that INFO is refused.
	infoRefused sync.Once
}

var _ Store = (*Redis)(nil)

// failScript records one failure for one subject, atomically.
// KEYS: fail counter, lock, level — one hash tag, so one Cluster slot.
// ARGV: threshold, window ms, base backoff ms, max backoff ms, calm ms.
// A subject that is locked is not counted further; the script reports the lock.
// Returns {locked 0|1, remaining lock ms}.
const failLua = `
local pttl = redis.call('PTTL', KEYS[2])
if pttl > 0 then
  return {1, pttl}
end
local n = redis.call('INCR', KEYS[1])
if n == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if n < tonumber(ARGV[1]) then
  return {0, 0}
end
redis.call('DEL', KEYS[1])
local level = redis.call('INCR', KEYS[3])
local backoff = tonumber(ARGV[3])
local max = tonumber(ARGV[4])
for i = 2, level do
  if backoff >= max then break end
  backoff = backoff * 2
end
if backoff > max then backoff = max end
redis.call('SET', KEYS[2], '1', 'PX', backoff)
redis.call('PEXPIRE', KEYS[3], backoff + tonumber(ARGV[5]))
return {1, backoff}
`

var failScript = redis.NewScript(failLua)

// NewRedis returns a Redis store. It does not connect: use Ping to check readiness.
func NewRedis(opts RedisOptions, policy LockoutPolicy) (*Redis, error) {
	if err := policy.Validate(); err != nil {
		return nil, err
	}
	if len(opts.Addrs) == 0 {
		return nil, errors.New("store: redis: no address")
	}
	if opts.MasterName == "" && len(opts.Addrs) > 1 && opts.DB != 0 {
		return nil, fmt.Errorf("store: redis: DB %d is not supported on Cluster", opts.DB)
	}
	prefix := opts.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if strings.ContainsAny(prefix, "{}") {
		return nil, fmt.Errorf("store: redis: prefix %q may not contain '{' or '}'", prefix)
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	r := &Redis{prefix: prefix, timeout: timeout, policy: policy, cluster: opts.MasterName == "" && len(opts.Addrs) > 1, sentinel: opts.MasterName != ""}
	r.epoch.started, r.epoch.onChange = time.Now(), opts.OnEpochChange
	client := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:        opts.Addrs,
		MasterName:   opts.MasterName,
		Username:     opts.Username,
		Password:     opts.Password,
		DB:           opts.DB,
		TLSConfig:    opts.TLS,
		PoolSize:     opts.PoolSize,
		MinIdleConns: opts.MinIdleConns,
		ClientName:   "gatehouse",

		// Deadlines come from the per-operation context; the socket timeouts only
		// back it up.
		ContextTimeoutEnabled: true,
		DialTimeout:           timeout,
		ReadTimeout:           timeout,
		WriteTimeout:          timeout,
		PoolTimeout:           timeout,
		// One dial attempt per command attempt: the dialer's own retry sleeps (100ms
		// by default) would use up the operation's whole budget. go-redis still
		// retries a command whose connection broke (MaxRetries, default 3) within
		// the deadline. For SET NX a retry after a lost reply reports the key as
		// seen: a false replay (the request is refused), never a missed one.
		DialerRetries: 1,

		// CLIENT SETINFO exists from Redis 7.2 on; older servers answer it with an
		// error on every new connection.
		DisableIdentity: true,
		// CLIENT MAINT_NOTIFICATIONS is a Redis Enterprise/Cloud handshake; plain
		// servers reject it.
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		// Every new connection dates the server's last start and reads its
		// replication ID (see epoch.go).
		OnConnect: func(ctx context.Context, cn *redis.Conn) error { return r.onConnect(ctx, cn) },
	})
	r.client = client
	return r, nil
}

// onConnect reads a new connection's INFO for the epoch. A server that
// refuses INFO (an ACL) is not watched this way; the epoch key still is.
func (r *Redis) onConnect(ctx context.Context, cn *redis.Conn) error {
	info, err := cn.Info(ctx, "server", "replication").Result()
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		r.infoRefused.Do(func() {
			slog.Warn("redis refuses INFO: a restart that loses recent replay keys is detected only when it loses the epoch key too", "err", err, "component", "redis")
		})
		return nil
	}
	uptime, runID, replID, role := infoFields(info)
	if r.cluster || role != "master" {
		// Each node of a Cluster has its own: no change of one means a loss.
		runID, replID = "", ""
	}
	if uptime < 0 {
		return nil
	}
	if r.epoch.server(time.Now(), uptime, runID, replID) {
		// Another master: every instance should refuse what this one
		// refuses, also one that starts later and never saw the old master.
		if err := cn.Eval(ctx, bumpEpochLua, []string{r.epochKey()}, rand.Text()).Err(); err != nil && ctx.Err() != nil {
			return err
		}
	}
	return nil
}

// infoFields reads uptime_in_seconds (-1 when absent), run_id,
// master_replid and role from INFO.
func infoFields(info string) (uptime time.Duration, runID, replID, role string) {
	uptime = -1
	for line := range strings.Lines(info) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		switch k {
		case "uptime_in_seconds":
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
				uptime = time.Duration(n) * time.Second
			}
		case "run_id":
			runID = v
		case "master_replid":
			replID = v
		case "role":
			role = v
		}
	}
	return uptime, runID, replID, role
}

// bumpEpochLua writes a new epoch: KEYS: epoch; ARGV: generation.
const bumpEpochLua = `redis.replicate_commands()
local t = redis.call('TIME')
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. (tonumber(t[1]) + 1))
return 1
`

// epochKey names the store's epoch (see epoch.go).
func (r *Redis) epochKey() string { return r.prefix + "epoch" }

// Remember implements Store with one pipeline of SET key 1 NX PX ttl.
func (r *Redis) Remember(ctx context.Context, keys []ReplayKey) ([]bool, error) {
	if err := validateReplayKeys(keys); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return []bool{}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()

	pipe := r.client.Pipeline()
	cmds := make([]*redis.BoolCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.SetNX(ctx, replayKeyName(r.prefix, k.Kind, k.Value), 1, ceilMillisecond(k.TTL))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("store: redis: remember: %w", err)
	}
	seen := make([]bool, len(keys))
	for i, cmd := range cmds {
		set, err := cmd.Result()
		if err != nil {
			return nil, fmt.Errorf("store: redis: remember: %w", err)
		}
		seen[i] = !set
	}
	return seen, nil
}

// Check implements Store with one pipeline of PTTL on the lock keys of the user and
// the caller.
func (r *Redis) Check(ctx context.Context, a Attempt) (Standing, error) {
	subjects := r.policy.subjects(a)
	if len(subjects) == 0 {
		return Standing{}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()

	pipe := r.client.Pipeline()
	cmds := make([]*redis.DurationCmd, len(subjects))
	for i, s := range subjects {
		cmds[i] = pipe.PTTL(ctx, subjectKeyName(r.prefix, "lock", s.sum))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return Standing{}, fmt.Errorf("store: redis: check: %w", err)
	}
	now := time.Now()
	var st Standing
	for i, cmd := range cmds {
		ttl, err := cmd.Result()
		if err != nil {
			return Standing{}, fmt.Errorf("store: redis: check: %w", err)
		}
		if ttl > 0 { // -2 (no key) and -1 (no expiry, never written) are not locks
			st.set(subjects[i], now.Add(ttl))
		}
	}
	return st, nil
}

// Fail implements Store with one pipeline of EVALSHA, one per subject (the user and
// the caller, each with its policy). Subjects whose script the server does not know
// (after a restart or SCRIPT FLUSH) are sent again with EVAL; NOSCRIPT means the
// script did not run, so nothing is counted twice.
func (r *Redis) Fail(ctx context.Context, a Attempt) (Standing, error) {
	subjects := r.policy.subjects(a)
	if len(subjects) == 0 {
		return Standing{}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()

	calls := make([]redisscript.Call, len(subjects))
	for i, s := range subjects {
		p := s.policy
		calls[i] = redisscript.Call{SHA: failScript.Hash(), Src: failLua,
			Keys: []string{
				subjectKeyName(r.prefix, "fail", s.sum),
				subjectKeyName(r.prefix, "lock", s.sum),
				subjectKeyName(r.prefix, "level", s.sum),
			},
			Args: []any{p.Threshold, p.Window.Milliseconds(), p.BaseBackoff.Milliseconds(), p.MaxBackoff.Milliseconds(), p.calm().Milliseconds()},
		}
	}
	cmds := redisscript.Run(ctx, r.client, calls)

	now := time.Now()
	var st Standing
	for i, cmd := range cmds {
		locked, remaining, err := failResult(cmd)
		if err != nil {
			return Standing{}, fmt.Errorf("store: redis: fail: %w", err)
		}
		if locked && remaining > 0 {
			st.set(subjects[i], now.Add(remaining))
		}
	}
	return st, nil
}

// failResult decodes the script's {locked, remaining ms} reply.
func failResult(cmd *redis.Cmd) (locked bool, remaining time.Duration, err error) {
	vals, err := cmd.Int64Slice()
	if err != nil {
		return false, 0, err
	}
	if len(vals) != 2 {
		return false, 0, fmt.Errorf("unexpected script reply %v", vals)
	}
	return vals[0] == 1, time.Duration(vals[1]) * time.Millisecond, nil
}

// Ping implements Store.
// It reads the store's epoch (see epoch.go): a gateway that pings at
// start watches the store from then on.
func (r *Redis) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	found, err := r.client.Eval(ctx, epochOnlyLua, []string{r.epochKey()}, rand.Text()).Text()
	if err == nil {
		err = r.epoch.observe(found)
	}
	if err != nil {
		return fmt.Errorf("store: redis: ping: %w", err)
	}
	return nil
}

// PersistenceWarnings reads the server's persistence settings (CONFIG
// GET) and says what in them can lose replay keys: Gatehouse then refuses
// the messages it can no longer tell apart (see epoch.go), which is safe
// but disturbs the consumers whose messages were in flight. A server that
// refuses CONFIG (a managed Redis) gets one line saying so.
func (r *Redis) PersistenceWarnings(ctx context.Context) []string {
	ctx, cancel := context.WithTimeout(ctx, max(r.timeout, time.Second))
	defer cancel()
	cfg, err := r.client.ConfigGet(ctx, "*").Result()
	if err != nil {
		return []string{"cannot read the Redis persistence settings (" + err.Error() + "): make sure it runs with appendonly yes and appendfsync everysec or always"}
	}
	var w []string
	switch {
	case cfg["appendonly"] != "yes":
		w = append(w, "Redis runs without an append-only file (appendonly "+cfg["appendonly"]+"): a restart loses every replay key written since the last snapshot, and the messages of that time are then refused; set appendonly yes with appendfsync everysec or always")
	case cfg["appendfsync"] == "no":
		w = append(w, "Redis fsyncs its append-only file when the kernel does (appendfsync no): a crash can lose seconds of replay keys; set appendfsync everysec or always")
	}
	if !r.cluster && cfg["min-replicas-to-write"] == "0" && r.sentinel {
		w = append(w, "Redis accepts writes with no replica in sync (min-replicas-to-write 0): a failover can lose the latest replay keys; set min-replicas-to-write 1 and min-replicas-max-lag")
	}
	return w
}

// Close implements Store.
func (r *Redis) Close() error {
	return r.client.Close()
}

// ceilMillisecond rounds d up to whole milliseconds, the resolution of PX: rounding
// down would let a replayed value through slightly before its validity ends.
func ceilMillisecond(d time.Duration) time.Duration {
	if r := d % time.Millisecond; r != 0 {
		d += time.Millisecond - r
	}
	return d
}

// Client returns the store's Redis client, so that the rate limiter and the
// audit stream share its connections and its settings (timeouts, no
// CLIENT SETINFO). Closing the store closes it.
func (r *Redis) Client() redis.UniversalClient { return r.client }

// SetRedisLogger routes go-redis's own log lines (dial failures during an
// outage, pool events) to l as warnings with component=redis, instead of
// plain text on the standard logger, so that a JSON log stays parseable.
// go-redis keeps one logger per process: the gatehouse binary sets it once
// at start.
func SetRedisLogger(l *slog.Logger) { redis.SetLogger(redisLog{l}) }

type redisLog struct{ l *slog.Logger }

func (r redisLog) Printf(ctx context.Context, format string, v ...any) {
	r.l.WarnContext(ctx, strings.TrimSpace(fmt.Sprintf(format, v...)), "component", "redis")
}

// cancelLua marks a token record cancelled only if it exists: HSET on a
// missing key would create a record without expiry.
// KEYS: the token record. Returns 1 when marked, 0 when there is no record.
const cancelLua = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'c', '1')
return 1
`

var cancelScript = redis.NewScript(cancelLua)

// Admit implements Store: one pipeline of SET key 1 NX PX ttl for the keys
// and HGET c for the tokens, so that the cancellation check costs no round
// trip of its own.
func (r *Redis) Admit(ctx context.Context, keys []ReplayKey, tokens []TokenRef) ([]bool, []bool, error) {
	if err := validateReplayKeys(keys); err != nil {
		return nil, nil, err
	}
	for _, t := range tokens {
		if t.Issuer == "" || t.ID == "" {
			return nil, nil, ErrTokenInvalid
		}
	}
	seen, cancelled := make([]bool, len(keys)), make([]bool, len(tokens))
	if len(keys) == 0 && len(tokens) == 0 {
		return seen, cancelled, nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()

	pipe := r.client.Pipeline()
	sets := make([]*redis.BoolCmd, len(keys))
	for i, k := range keys {
		sets[i] = pipe.SetNX(ctx, replayKeyName(r.prefix, k.Kind, k.Value), 1, ceilMillisecond(k.TTL))
	}
	gets := make([]*redis.StringCmd, len(tokens))
	for i, t := range tokens {
		gets[i] = pipe.HGet(ctx, r.tokenKey(t.Issuer, t.ID), "c")
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, fmt.Errorf("store: redis: admit: %w", err)
	}
	for i, cmd := range sets {
		set, err := cmd.Result()
		if err != nil {
			return nil, nil, fmt.Errorf("store: redis: admit: %w", err)
		}
		seen[i] = !set
	}
	for i, cmd := range gets {
		v, err := cmd.Result()
		switch {
		case errors.Is(err, redis.Nil):
		case err != nil:
			return nil, nil, fmt.Errorf("store: redis: admit: %w", err)
		default:
			cancelled[i] = v == "1"
		}
	}
	return seen, cancelled, nil
}

func (r *Redis) tokenKey(issuer, id string) string {
	return subjectKeyName(r.prefix, "token", tokenSum(issuer, id))
}

// RecordToken implements Store with HSET and PEXPIREAT in one transaction.
func (r *Redis) RecordToken(ctx context.Context, t Token) error {
	if err := t.check(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	key := r.tokenKey(t.Issuer, t.ID)
	pipe := r.client.TxPipeline()
	pipe.HSet(ctx, key, "owner", t.Owner, "workload", t.Workload, "subject", t.Subject,
		"exp", t.Expires.UnixMilli(), "keep", t.KeepUntil.UnixMilli())
	pipe.PExpireAt(ctx, key, t.KeepUntil)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("store: redis: record token: %w", err)
	}
	return nil
}

// LookupToken implements Store with HGETALL.
func (r *Redis) LookupToken(ctx context.Context, issuer, id string) (Token, bool, error) {
	if issuer == "" || id == "" {
		return Token{}, false, ErrTokenInvalid
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	h, err := r.client.HGetAll(ctx, r.tokenKey(issuer, id)).Result()
	if err != nil {
		return Token{}, false, fmt.Errorf("store: redis: lookup token: %w", err)
	}
	if len(h) == 0 {
		return Token{}, false, nil
	}
	exp, err1 := strconv.ParseInt(h["exp"], 10, 64)
	keep, err2 := strconv.ParseInt(h["keep"], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return Token{}, false, fmt.Errorf("store: redis: lookup token: malformed record: %w", err)
	}
	return Token{
		Issuer: issuer, ID: id, Owner: h["owner"], Workload: h["workload"], Subject: h["subject"],
		Expires: time.UnixMilli(exp), KeepUntil: time.UnixMilli(keep), Cancelled: h["c"] == "1",
	}, true, nil
}

// CancelToken implements Store with a script that marks an existing record.
func (r *Redis) CancelToken(ctx context.Context, issuer, id string) (bool, error) {
	if issuer == "" || id == "" {
		return false, ErrTokenInvalid
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	cmd := redisscript.Run(ctx, r.client, []redisscript.Call{{SHA: cancelScript.Hash(), Src: cancelLua, Keys: []string{r.tokenKey(issuer, id)}}})[0]
	n, err := cmd.Int64()
	if err != nil {
		return false, fmt.Errorf("store: redis: cancel token: %w", err)
	}
	return n == 1, nil
}
