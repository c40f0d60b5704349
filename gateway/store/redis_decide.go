package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/gateway/internal/redisscript"
	"github.com/gatehouse/gatehouse/gateway/throttle"
)

// gcraLua is the GCRA of redis_rate (which throttle's Redis limiter runs), written
// again as a Lua function so that one script can charge a budget and go on: the same
// key ("rate:<prefix>limit:{...}"), the same state (the theoretical arrival time in
// seconds since 2017-01-01, from Redis TIME) and the same arithmetic, so that the
// store and the limiter, and old and new instances, share every budget.
// gcra(key, burst, rate, period seconds) charges one request if it fits and returns
// 0, else returns the wait in microseconds (at least 1) and charges nothing.
const gcraLua = `
redis.replicate_commands()
local now
local function gcra(key, burst, rate, period)
  if not now then
    local t = redis.call('TIME')
    now = (tonumber(t[1]) - 1483228800) + tonumber(t[2]) / 1000000
  end
  local interval = period / rate
  local tat = redis.call('GET', key)
  if tat then tat = tonumber(tat) else tat = now end
  if tat < now then tat = now end
  local new_tat = tat + interval
  local diff = now - (new_tat - interval * burst)
  if diff < 0 then
    return math.max(1, math.ceil(-diff * 1000000))
  end
  local reset = new_tat - now
  if reset > 0 then
    redis.call('SET', key, new_tat, 'EX', math.ceil(reset))
  end
  return 0
end
`

// decideLua runs the steps of Request in one script (standalone and Sentinel, where
// one script may touch any key).
// KEYS: [caller rate], lock keys..., replay keys..., token keys..., [subject rate],
// epoch.
// ARGV: has caller (0|1), locks n, replay keys n, tokens n, has subject (0|1),
// repeated within the request (0|1), the epoch the caller knows, a new
// generation, [caller burst, rate, period], [subject burst, rate, period],
// replay TTL ms...
// Returns {6, epoch} when the epoch is not the one the caller knows (written
// first when missing; nothing else is done), {0} admitted, {1, wait µs} caller
// limited, {2, lock ms...} locked out, {3, seen 0|1...} replayed,
// {4, cancelled 0|1...} token cancelled, {5, wait µs} subject limited. All checks
// come before the first write of steps 2–6, and a script runs alone, so a refusal
// writes nothing but the caller's charge.
const decideLua = gcraLua + epochLua + `
local ep = epoch(KEYS[#KEYS], ARGV[8])
if ep ~= ARGV[7] then return {6, ep} end
local hasCaller, nl, nk, nt, hasSubject = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local k, a = 1, 9
if hasCaller == 1 then
  local wait = gcra(KEYS[1], tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]))
  if wait > 0 then return {1, wait} end
  k, a = 2, a + 3
end
local reply, refused = {2}, false
for i = 1, nl do
  local ms = redis.call('PTTL', KEYS[k])
  k = k + 1
  if ms > 0 then refused = true else ms = 0 end
  reply[i + 1] = ms
end
if refused then return reply end
local rk = k
reply, refused = {3}, ARGV[6] == '1'
for i = 1, nk do
  local e = redis.call('EXISTS', KEYS[k])
  k = k + 1
  if e == 1 then refused = true end
  reply[i + 1] = e
end
if refused then return reply end
reply = {4}
for i = 1, nt do
  local c = 0
  if redis.call('HGET', KEYS[k], 'c') == '1' then c, refused = 1, true end
  k = k + 1
  reply[i + 1] = c
end
if refused then return reply end
if hasSubject == 1 then
  local wait = gcra(KEYS[k], tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]))
  if wait > 0 then return {5, wait} end
  a = a + 3
end
for i = 0, nk - 1 do
  redis.call('SET', KEYS[rk + i], '1', 'PX', ARGV[a + i])
end
return {0}
`

var decideScript = redis.NewScript(decideLua)

// epochLua is epoch(key, generation): the store's epoch, written as
// "<generation> <Redis TIME seconds + 1>" when missing (the end of the
// second the loss was seen in; see epoch.go).
const epochLua = `
local function epoch(key, gen)
  local ep = redis.call('GET', key)
  if not ep then
    local t = redis.call('TIME')
    ep = gen .. ' ' .. (tonumber(t[1]) + 1)
    redis.call('SET', key, ep)
  end
  return ep
end
`

// epochOnlyLua reads (or writes) the epoch alone: KEYS: epoch; ARGV:
// generation. Cluster, where it is one command of the first pipeline.
const epochOnlyLua = `redis.replicate_commands()` + epochLua + `
return epoch(KEYS[1], ARGV[1])
`

// rateLua charges one budget: KEYS: rate key; ARGV: burst, rate, period seconds.
// Returns 0 when charged, else the wait in µs. Cluster only (one key, one slot).
const rateLua = gcraLua + `
return gcra(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))
`

var rateScript = redis.NewScript(rateLua)

// unsetLua deletes a replay key only if it still holds the value this request
// wrote: KEYS: replay key; ARGV: the value. Cluster only.
const unsetLua = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`

var unsetScript = redis.NewScript(unsetLua)

// decideNames are the key names and arguments of one Request.
type decideNames struct {
	caller, subject string
	locks           []string
	subjects        []subject
	replay          []string // unique names, in order of first appearance
	replayIdx       []int    // per key of the request: its index in replay
	ttl             []int64  // per unique replay name, ms
	repeated        []bool   // per key of the request
	anyRepeated     bool
	tokens          []string
}

func (r *Redis) names(req Request) decideNames {
	var n decideNames
	if req.CallerRate != nil {
		n.caller = throttle.RedisKeyName(r.prefix, req.CallerRate.Key)
	}
	if req.SubjectRate != nil {
		n.subject = throttle.RedisKeyName(r.prefix, req.SubjectRate.Key)
	}
	n.subjects = r.policy.subjects(req.Attempt)
	for _, s := range n.subjects {
		n.locks = append(n.locks, subjectKeyName(r.prefix, "lock", s.sum))
	}
	all := make([]string, len(req.Keys))
	for i, k := range req.Keys {
		all[i] = replayKeyName(r.prefix, k.Kind, k.Value)
	}
	n.repeated, n.anyRepeated = repeatsEarlier(all)
	n.replayIdx = make([]int, len(all))
	for i, name := range all {
		if n.repeated[i] {
			for j := range i {
				if all[j] == name {
					n.replayIdx[i] = n.replayIdx[j]
					break
				}
			}
			continue
		}
		n.replayIdx[i] = len(n.replay)
		n.replay = append(n.replay, name)
		n.ttl = append(n.ttl, ceilMillisecond(req.Keys[i].TTL).Milliseconds())
	}
	for _, t := range req.Tokens {
		n.tokens = append(n.tokens, r.tokenKey(t.Issuer, t.ID))
	}
	return n
}

func limitArgs(l throttle.Limit) []any {
	return []any{l.Burst, l.Rate, strconv.FormatFloat(l.Per.Seconds(), 'g', -1, 64)}
}

// Decide implements Store. On standalone Redis and Sentinel it is one script
// (EVALSHA, EVAL after NOSCRIPT): one round trip. On Cluster the keys of one request
// live in different slots (see the key layout), so it takes two pipelines, each one
// round trip per node involved, sent to the nodes in parallel (see decideCluster).
func (r *Redis) Decide(ctx context.Context, req Request) (Decision, error) {
	if err := validateRequest(req); err != nil {
		return Decision{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	n := r.names(req)
	var d Decision
	var err error
	if _, ok := r.client.(*redis.ClusterClient); ok {
		d, err = r.decideCluster(ctx, req, n)
	} else {
		d, err = r.decideScript(ctx, req, n)
	}
	if err != nil {
		return Decision{}, fmt.Errorf("store: redis: decide: %w", err)
	}
	return d, nil
}

func (r *Redis) decideScript(ctx context.Context, req Request, n decideNames) (Decision, error) {
	// An epoch this instance did not know refuses nothing yet: the script did
	// nothing, and the request is decided again knowing it (at most twice: a
	// store that changes its epoch at every round trip is an error).
	for range 3 {
		known, began := r.epoch.load()
		full := req
		var stale []bool
		if known != "" {
			var any bool
			if stale, any = staleKeys(req.Keys, began); any {
				// Steps 1 and 2 still run: the caller's charge and the lockout
				// come first.
				full = Request{CallerRate: req.CallerRate, Attempt: req.Attempt}
			} else {
				stale = nil
			}
		}
		fn := n
		if stale != nil {
			fn = r.names(full)
		}
		d, found, err := r.runDecide(ctx, full, fn, known)
		if err != nil {
			return Decision{}, err
		}
		if found != "" {
			if err := r.epoch.observe(found); err != nil {
				return Decision{}, err
			}
			continue
		}
		if stale != nil && d.Refusal == Admitted {
			return Decision{Refusal: Recovered, Stale: stale, Began: began}, nil
		}
		return d, nil
	}
	return Decision{}, errors.New("the store's epoch keeps changing")
}

// runDecide runs decideLua once; found is the store's epoch when it is not
// known (and then the Decision is empty).
func (r *Redis) runDecide(ctx context.Context, req Request, n decideNames, known string) (d Decision, found string, err error) {
	keys := make([]string, 0, 3+len(n.locks)+len(n.replay)+len(n.tokens))
	args := make([]any, 0, 14+len(n.replay))
	args = append(args, flag(req.CallerRate != nil), len(n.locks), len(n.replay), len(n.tokens), flag(req.SubjectRate != nil), flag(n.anyRepeated),
		known, rand.Text())
	if req.CallerRate != nil {
		keys = append(keys, n.caller)
		args = append(args, limitArgs(req.CallerRate.Limit)...)
	}
	keys = append(keys, n.locks...)
	keys = append(keys, n.replay...)
	keys = append(keys, n.tokens...)
	if req.SubjectRate != nil {
		keys = append(keys, n.subject)
		args = append(args, limitArgs(req.SubjectRate.Limit)...)
	}
	keys = append(keys, r.epochKey())
	for _, ms := range n.ttl {
		args = append(args, ms)
	}
	reply, err := decideScript.Run(ctx, r.client, keys, args...).Slice()
	if err != nil {
		return Decision{}, "", err
	}
	if len(reply) == 2 && reply[0] == int64(6) {
		if ep, ok := reply[1].(string); ok {
			return Decision{}, ep, nil
		}
	}
	vals := make([]int64, len(reply))
	for i, v := range reply {
		x, ok := v.(int64)
		if !ok {
			return Decision{}, "", fmt.Errorf("unexpected script reply %v", reply)
		}
		vals[i] = x
	}
	d, err = r.decision(n, vals)
	return d, "", err
}

// decision reads decideLua's reply.
func (r *Redis) decision(n decideNames, vals []int64) (Decision, error) {
	if len(vals) == 0 {
		return Decision{}, errors.New("empty script reply")
	}
	rest := vals[1:]
	want := func(m int) error {
		if len(rest) != m {
			return fmt.Errorf("unexpected script reply %v", vals)
		}
		return nil
	}
	switch vals[0] {
	case 0:
		return Decision{Refusal: Admitted}, want(0)
	case 1, 5:
		if err := want(1); err != nil {
			return Decision{}, err
		}
		refusal := CallerLimited
		if vals[0] == 5 {
			refusal = SubjectLimited
		}
		return Decision{Refusal: refusal, RetryAfter: time.Duration(max(rest[0], 1)) * time.Microsecond}, nil
	case 2:
		if err := want(len(n.locks)); err != nil {
			return Decision{}, err
		}
		return r.lockedOut(n, rest), nil
	case 3:
		if err := want(len(n.replay)); err != nil {
			return Decision{}, err
		}
		return replayed(n, rest), nil
	case 4:
		if err := want(len(n.tokens)); err != nil {
			return Decision{}, err
		}
		c := make([]bool, len(rest))
		for i, v := range rest {
			c[i] = v == 1
		}
		return Decision{Refusal: TokenCancelled, Cancelled: c}, nil
	}
	return Decision{}, fmt.Errorf("unexpected script reply %v", vals)
}

func (r *Redis) lockedOut(n decideNames, ms []int64) Decision {
	now := time.Now()
	var st Standing
	for i, v := range ms {
		if v > 0 {
			st.set(n.subjects[i], now.Add(time.Duration(v)*time.Millisecond))
		}
	}
	return Decision{Refusal: LockedOut, Standing: st}
}

// replayed maps the existence of the unique names back onto the request's keys.
func replayed(n decideNames, exists []int64) Decision {
	seen := make([]bool, len(n.replayIdx))
	for i, j := range n.replayIdx {
		seen[i] = n.repeated[i] || exists[j] == 1
	}
	return Decision{Refusal: Replayed, Seen: seen}
}

func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}

// decideCluster is Decide on Cluster, where no script may span the request's slots:
//
//  1. one pipeline: the caller's GCRA script, PTTL of the lock keys, EXISTS of the
//     replay keys, HGET of the token records (all but the first only read);
//  2. if nothing refused: one pipeline of the subject's GCRA script and SET NX PX of
//     each replay key, with a value of this request's own;
//  3. only if the subject was refused or a SET NX found its key taken (a concurrent
//     request with the same value won between 1 and 2): delete the keys this request
//     set, each only if it still holds this request's value.
//
// So a request costs two round trips (each one per node, in parallel), three when
// it is refused at step 2. Between 2 and 3 a key of a refused request exists for a
// moment: a concurrent request with the same value is then refused too, which errs
// towards refusing. A subject charged in 2 stays charged when a concurrent
// request's SET won: also towards refusing.
func (r *Redis) decideCluster(ctx context.Context, req Request, n decideNames) (Decision, error) {
	pipe := r.client.Pipeline()
	epochCmd := pipe.Eval(ctx, epochOnlyLua, []string{r.epochKey()}, rand.Text())
	var callerCmd *redis.Cmd
	if req.CallerRate != nil {
		callerCmd = pipe.EvalSha(ctx, rateScript.Hash(), []string{n.caller}, limitArgs(req.CallerRate.Limit)...)
	}
	locks := make([]*redis.DurationCmd, len(n.locks))
	for i, k := range n.locks {
		locks[i] = pipe.PTTL(ctx, k)
	}
	exists := make([]*redis.IntCmd, len(n.replay))
	for i, k := range n.replay {
		exists[i] = pipe.Exists(ctx, k)
	}
	tokens := make([]*redis.StringCmd, len(n.tokens))
	for i, k := range n.tokens {
		tokens[i] = pipe.HGet(ctx, k, "c")
	}
	_, _ = pipe.Exec(ctx) // errors are read per command

	if callerCmd != nil {
		wait, err := r.rate(ctx, callerCmd, n.caller, req.CallerRate.Limit)
		if err != nil {
			return Decision{}, err
		}
		if wait > 0 {
			return Decision{Refusal: CallerLimited, RetryAfter: wait}, nil
		}
	}
	ms := make([]int64, len(locks))
	locked := false
	for i, cmd := range locks {
		ttl, err := cmd.Result()
		if err != nil {
			return Decision{}, err
		}
		if ttl > 0 { // -2 (no key) and -1 (no expiry) are not locks
			ms[i], locked = max(ttl.Milliseconds(), 1), true
		}
	}
	if locked {
		return r.lockedOut(n, ms), nil
	}
	// The epoch was read in the same pipeline: a new one is taken at once
	// (Cluster decides in several round trips and is not atomic anyway).
	found, err := epochCmd.Text()
	if err != nil {
		return Decision{}, err
	}
	if err := r.epoch.observe(found); err != nil {
		return Decision{}, err
	}
	if _, began := r.epoch.load(); began.IsZero() {
		return Decision{}, errors.New("no epoch")
	} else if stale, any := staleKeys(req.Keys, began); any {
		return Decision{Refusal: Recovered, Stale: stale, Began: began}, nil
	}
	ex := make([]int64, len(exists))
	refused := n.anyRepeated
	for i, cmd := range exists {
		v, err := cmd.Result()
		if err != nil {
			return Decision{}, err
		}
		ex[i] = v
		refused = refused || v == 1
	}
	if refused {
		return replayed(n, ex), nil
	}
	cancelled := make([]bool, len(tokens))
	for i, cmd := range tokens {
		v, err := cmd.Result()
		switch {
		case errors.Is(err, redis.Nil):
		case err != nil:
			return Decision{}, err
		default:
			cancelled[i] = v == "1"
			refused = refused || cancelled[i]
		}
	}
	if refused {
		return Decision{Refusal: TokenCancelled, Cancelled: cancelled}, nil
	}

	// Step 2.
	mark := rand.Text()
	pipe = r.client.Pipeline()
	var subjectCmd *redis.Cmd
	if req.SubjectRate != nil {
		subjectCmd = pipe.EvalSha(ctx, rateScript.Hash(), []string{n.subject}, limitArgs(req.SubjectRate.Limit)...)
	}
	sets := make([]*redis.BoolCmd, len(n.replay))
	for i, k := range n.replay {
		sets[i] = pipe.SetNX(ctx, k, mark, time.Duration(n.ttl[i])*time.Millisecond)
	}
	_, _ = pipe.Exec(ctx)

	var d Decision
	var firstErr error
	var set []string
	lost := make([]int64, len(sets))
	for i, cmd := range sets {
		ok, err := cmd.Result()
		switch {
		case err != nil:
			// Unknown: the key may or may not be ours; unset tries, and only
			// deletes it if it holds our mark.
			firstErr = firstOf(firstErr, err)
			set = append(set, n.replay[i])
		case ok:
			set = append(set, n.replay[i])
		default:
			lost[i] = 1
			d.Refusal = Replayed
		}
	}
	if d.Refusal == Replayed {
		d = replayed(n, lost)
	}
	if subjectCmd != nil && firstErr == nil && d.Refusal == Admitted {
		wait, err := r.rate(ctx, subjectCmd, n.subject, req.SubjectRate.Limit)
		switch {
		case err != nil:
			firstErr = err
		case wait > 0:
			d = Decision{Refusal: SubjectLimited, RetryAfter: wait}
		}
	}
	if firstErr == nil && d.Refusal == Admitted {
		return d, nil
	}
	// Step 3: refused (or failed) after writing; take back what we wrote.
	if len(set) > 0 {
		calls := make([]redisscript.Call, len(set))
		for i, k := range set {
			calls[i] = redisscript.Call{SHA: unsetScript.Hash(), Src: unsetLua, Keys: []string{k}, Args: []any{mark}}
		}
		for _, cmd := range redisscript.Run(ctx, r.client, calls) {
			if err := cmd.Err(); err != nil {
				firstErr = firstOf(firstErr, fmt.Errorf("taking back replay keys: %w", err))
			}
		}
	}
	if firstErr != nil {
		return Decision{}, firstErr
	}
	return d, nil
}

// rate reads a GCRA script's reply: the wait (0 when charged). A NOSCRIPT reply
// means the script did not run: it is sent again with EVAL.
func (r *Redis) rate(ctx context.Context, cmd *redis.Cmd, key string, l throttle.Limit) (time.Duration, error) {
	if redisscript.IsNoScript(cmd.Err()) {
		cmd = r.client.Eval(ctx, rateLua, []string{key}, limitArgs(l)...)
	}
	us, err := cmd.Int64()
	if err != nil {
		return 0, err
	}
	if us <= 0 {
		return 0, nil
	}
	return time.Duration(us) * time.Microsecond, nil
}

func firstOf(first, err error) error {
	if first != nil {
		return first
	}
	return err
}
