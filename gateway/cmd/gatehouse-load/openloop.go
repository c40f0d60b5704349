package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/soap"
)

// openRound is one open-loop round: requests leave on a fixed schedule at
// rate, whatever the answers do, and each latency is measured from the
// request's scheduled departure, so that a server that falls behind is
// charged for the queue it builds (no coordinated omission).
type openRound struct {
	p50, p99 time.Duration
	late     int // requests that left more than 10 ms after their slot
}

// runOpen sends msgs to url at rate requests per second, each once, over
// at most inflight concurrent requests (the client's connections). Any
// answer but 200 fails the round.
func (b *benchEnv) runOpen(url string, msgs [][]byte, rate float64, inflight int) (openRound, error) {
	lat := make([]time.Duration, len(msgs))
	interval := time.Duration(float64(time.Second) / rate)
	sem := make(chan struct{}, inflight)
	var failed atomic.Value
	var late atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := range msgs {
		if failed.Load() != nil {
			break
		}
		slot := start.Add(time.Duration(i) * interval)
		if d := time.Until(slot); d > 0 {
			time.Sleep(d)
		}
		sem <- struct{}{}
		if time.Since(slot) > 10*time.Millisecond {
			late.Add(1)
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			status, body, err := b.client.Post(context.Background(), url, soap.V11, "urn:gatehouse:demo:accounts:GetBalance", msgs[i])
			lat[i] = time.Since(slot)
			if err == nil && status != http.StatusOK {
				err = fmt.Errorf("HTTP %d: %.200s", status, body)
			}
			if err != nil {
				failed.CompareAndSwap(nil, err)
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return openRound{}, err
	}
	slices.Sort(lat)
	return openRound{p50: lat[len(lat)/2], p99: lat[min(len(lat)-1, len(lat)*99/100)], late: int(late.Load())}, nil
}

// openLoop measures path p open-loop at rate (half the gateway's measured
// closed-loop maximum) for d per round, proxy and gateway alternating, and
// prints the median p50 and p99 of each and the ratio of the p99s. Both
// sides get the same offered rate: the comparison is of what a consumer
// sees at one load.
func (b *benchEnv) openLoop(p string, rate float64, d time.Duration, rounds, inflight int) error {
	n := max(100, int(rate*d.Seconds()))
	var proxy, gw []openRound
	for range rounds {
		msgs, err := b.messages(p, n)
		if err != nil {
			return err
		}
		r, err := b.runOpen(b.proxyURL+b.pathOf(p), msgs, rate, inflight)
		if err != nil {
			return fmt.Errorf("open loop via the proxy: %w", err)
		}
		proxy = append(proxy, r)
		r, err = b.runOpen(b.gatewayURL(p)+b.pathOf(p), msgs, rate, inflight)
		if err != nil {
			return fmt.Errorf("open loop via Gatehouse: %w", err)
		}
		gw = append(gw, r)
	}
	mp, mg := medianOpen(proxy), medianOpen(gw)
	fmt.Printf("%-6s %12.0f %12d   %10v %10v %10v %10v %7.2fx %6d\n", p, rate, n,
		mp.p50.Round(time.Microsecond), mg.p50.Round(time.Microsecond), mp.p99.Round(time.Microsecond), mg.p99.Round(time.Microsecond),
		float64(mg.p99)/float64(max(mp.p99, 1)), mg.late)
	return nil
}

func medianOpen(rs []openRound) openRound {
	pick := func(f func(openRound) time.Duration) time.Duration {
		v := make([]time.Duration, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	return openRound{
		p50:  pick(func(r openRound) time.Duration { return r.p50 }),
		p99:  pick(func(r openRound) time.Duration { return r.p99 }),
		late: int(pick(func(r openRound) time.Duration { return time.Duration(r.late) })),
	}
}
