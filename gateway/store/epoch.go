package store

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A store that loses its data (Redis restarted without persistence, a
// failover to a replica that lacked the latest writes, FLUSHALL, a gateway
// restart with the memory store) forgets the replay keys it held, and a
// message accepted before the loss would be accepted again while its
// Timestamp is still fresh. So every store knows when its current data
// began — the epoch — and Decide refuses (Recovered) every replay key whose
// freshness began before that: the store cannot know whether it was seen.
//
// On Redis the epoch is one key, "<prefix>epoch", holding a random
// generation and the Redis TIME (seconds) at which it was written. It is
// read in the same round trip as every decision; when it is missing, that
// round trip writes a new one (the data it vouched for is gone). An
// instance that sees a value other than the one it knew takes the new
// epoch's time as the start of the store's data and reports the change
// (OnEpochChange). On its first round trip an instance has known nothing
// before: it takes the earlier of the epoch's time and its own start (the
// store's construction), so that a store found fresh when the instance
// starts — a new deployment, or a site restarted as a whole — still
// refuses what was accepted before the instance could watch.
//
// The epoch key survives what persistence keeps, so it misses losses that
// keep it: a restart from an RDB snapshot or an AOF fsynced every second
// loses the last writes, a failover loses what the replica had not yet
// received. So every new connection also reads the server's INFO: its
// uptime dates its last start, when writes since the last fsync were lost,
// and the data is taken to begin no earlier than that; a replication ID
// other than the one the instance knew (standalone and Sentinel: another
// master, or the master's history restarted) dates a loss to the moment
// it is seen, and the instance writes a new epoch so that every instance,
// also one started later, refuses the same messages. On Cluster the
// epoch and the uptime of each node are watched; a failover inside
// Cluster is not (every node has its own replication ID): run Cluster
// with min-replicas-to-write, or Sentinel.
//
// Times are compared in whole seconds, the precision xsd:dateTime values
// are commonly written with: a value whose freshness began in the second
// the store's data began is taken as after it. So every loss is dated to
// the end of the second it was seen in (the epoch's TIME plus one, a
// restart's or failover's time rounded up): the values of that second,
// fresh ones too, are refused, never one that may have been lost.
//
// A replay key without a freshness of its own (a MessageID, a signature
// over no Timestamp) takes the earliest of its request's other keys; a
// request that states no freshness at all (allowed only with
// insecureNoTimestamp) is protected by its keys' lifetime only and is not
// refused for a recovery.

// epochValue is the epoch key's value: "<generation> <unix seconds>".
func epochTime(v string) (time.Time, error) {
	_, secs, ok := strings.Cut(v, " ")
	if !ok {
		return time.Time{}, fmt.Errorf("store: malformed epoch %q", v)
	}
	s, err := strconv.ParseInt(secs, 10, 64)
	if err != nil || s <= 0 {
		return time.Time{}, fmt.Errorf("store: malformed epoch %q", v)
	}
	return time.Unix(s, 0), nil
}

// epoch is what one instance knows of its store's epoch.
type epoch struct {
	mu      sync.Mutex
	value   string    // the epoch last seen; "" before the first round trip
	began   time.Time // when the store's current data began, as this instance takes it
	started time.Time // when this instance began watching (the store's construction)
	// serverBegan is the latest loss the servers' INFO dates (a start, a
	// new replication history); replID the replication ID last seen
	// (standalone and Sentinel).
	serverBegan   time.Time
	runID, replID string
	// onChange is called (outside mu) when a round trip finds an epoch
	// other than the one this instance knew (not on the first), and when
	// a connection finds the server restarted or another master.
	onChange func(EpochChange)
}

// EpochChange reports that the store's data began anew: every replay key
// whose freshness began before Began is refused. Why says what was seen.
type EpochChange struct {
	Old, New string
	Began    time.Time
	Why      string
}

func (e *epoch) load() (value string, began time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.value == "" {
		return "", time.Time{}
	}
	return e.value, later(e.began, e.serverBegan)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// uptimeJitter is how far two readings of one server's start may differ.
const uptimeJitter = 2 * time.Second

// server records what a new connection's INFO says: the server started
// uptime before now; replID is its replication ID ("" when not watched:
// Cluster). It reports whether the replication ID changed, when the
// caller should write a new epoch.
func (e *epoch) server(now time.Time, uptime time.Duration, runID, replID string) (newHistory bool) {
	started := now.Add(-uptime)
	e.mu.Lock()
	var change *EpochChange
	// INFO's uptime is in whole seconds: a start moves by more than that;
	// a run ID (standalone and Sentinel) changes with every start, also one
	// within the jitter (a crash loop).
	restarted := started.Sub(e.serverBegan) > uptimeJitter
	if runID != "" && e.runID != "" && runID != e.runID {
		restarted = true
	}
	if restarted {
		if !e.serverBegan.IsZero() || started.Sub(e.started) > uptimeJitter {
			// A loss seen: dated to the end of its second, since the
			// values lost in that second are compared in whole seconds.
			began := ceilSecond(started)
			change = &EpochChange{Began: began, Why: "the Redis server restarted " + uptime.Round(time.Second).String() + " ago"}
			e.serverBegan = later(e.serverBegan, began)
		} else {
			e.serverBegan = started
		}
	}
	if runID != "" {
		e.runID = runID
	}
	if replID != "" && replID != e.replID {
		if e.replID != "" {
			newHistory = true
			began := ceilSecond(now)
			e.serverBegan = later(e.serverBegan, began)
			change = &EpochChange{Began: began, Why: "the Redis master's replication ID changed (a failover, or a restart without its history)"}
		}
		e.replID = replID
	}
	cb := e.onChange
	e.mu.Unlock()
	if change != nil && cb != nil {
		cb(*change)
	}
	return newHistory
}

// ceilSecond is t rounded up to a whole second.
func ceilSecond(t time.Time) time.Time {
	if f := t.Truncate(time.Second); !f.Equal(t) {
		return f.Add(time.Second)
	}
	return t
}

// observe records the epoch a round trip found.
func (e *epoch) observe(found string) error {
	t, err := epochTime(found)
	if err != nil {
		return err
	}
	e.mu.Lock()
	if e.value == found {
		e.mu.Unlock()
		return nil
	}
	old := e.value
	began := t
	if old == "" && e.started.Before(began) {
		began = e.started
	}
	e.value, e.began = found, began
	cb := e.onChange
	e.mu.Unlock()
	if old != "" && cb != nil {
		cb(EpochChange{Old: old, New: found, Began: began, Why: "the epoch key changed (the data was lost or flushed, or another instance saw a new master)"})
	}
	return nil
}

// staleKeys reports, per key, whether its freshness began before began (in
// whole seconds); a key without a freshness of its own takes the earliest
// of the others'.
func staleKeys(keys []ReplayKey, began time.Time) (stale []bool, any bool) {
	if began.IsZero() || len(keys) == 0 {
		return nil, false
	}
	var earliest time.Time
	for _, k := range keys {
		if !k.Since.IsZero() && (earliest.IsZero() || k.Since.Before(earliest)) {
			earliest = k.Since
		}
	}
	if earliest.IsZero() {
		return nil, false
	}
	b := began.Unix()
	stale = make([]bool, len(keys))
	for i, k := range keys {
		since := k.Since
		if since.IsZero() {
			since = earliest
		}
		if since.Unix() < b {
			stale[i], any = true, true
		}
	}
	return stale, any
}
