package conf

import (
	"testing"
	"time"
)

// TestLoadValidThrottle checks the rate limits, bulkheads and breakers of
// testdata/valid-operations.xml: values as written, defaults for the rest.
func TestLoadValidThrottle(t *testing.T) {
	_, path := setup(t, readTestdata(t, "valid-operations.xml"))
	cfg := mustLoad(t, path)
	at := func(line int) Pos { return Pos{path, line} }

	r := cfg.RateLimits
	if r == nil || r.Pos != at(15) || r.Caller == nil || r.Subject == nil {
		t.Fatalf("RateLimits = %+v, want caller and subject at line 15", r)
	}
	if want := (RateLimit{at(16), 100, time.Second, 20}); *r.Caller != want {
		t.Errorf("caller limit = %+v, want %+v", *r.Caller, want)
	}
	// burst left out: rate.
	if want := (RateLimit{at(17), 20, time.Minute, 20}); *r.Subject != want {
		t.Errorf("subject limit = %+v, want %+v", *r.Subject, want)
	}

	if len(cfg.Services) != 3 {
		t.Fatalf("%d services, want 3", len(cfg.Services))
	}
	for _, tc := range []struct {
		service       string
		maxConcurrent int
		breaker       Breaker
	}{
		{"accounts", 16, Breaker{Pos: at(21), Failures: 3, OpenFor: time.Minute, HalfOpenRequests: 2,
			SlowCall: DefaultBackendTimeout / 2, FailureRatio: DefaultBreakerFailureRatio, MinCalls: DefaultBreakerMinCalls, Window: DefaultBreakerWindow}},
		{"orders", DefaultMaxConcurrent, Breaker{Pos: at(27), Failures: DefaultBreakerFailures, OpenFor: 10 * time.Second, HalfOpenRequests: DefaultBreakerHalfOpenRequests,
			SlowCall: 2 * time.Second, FailureRatio: 25, MinCalls: 40, Window: DefaultBreakerWindow}},
		// No breaker element: zero Pos; a timeout of 1m: a 2m window.
		{"ledger", DefaultMaxConcurrent, Breaker{Failures: DefaultBreakerFailures, OpenFor: DefaultBreakerOpenFor, HalfOpenRequests: DefaultBreakerHalfOpenRequests,
			SlowCall: 30 * time.Second, FailureRatio: DefaultBreakerFailureRatio, MinCalls: DefaultBreakerMinCalls, Window: 2 * time.Minute}},
	} {
		var b *Backend
		for _, s := range cfg.Services {
			if s.Name == tc.service {
				b = &s.Backend
			}
		}
		if b.MaxConcurrent != tc.maxConcurrent {
			t.Errorf("%s: MaxConcurrent = %d, want %d", tc.service, b.MaxConcurrent, tc.maxConcurrent)
		}
		if b.Breaker != tc.breaker {
			t.Errorf("%s: Breaker = %+v, want %+v", tc.service, b.Breaker, tc.breaker)
		}
	}
}

// TestCheckRateLimit runs the checks that mirror gateway/throttle's
// Limit.Validate, including those the schema keeps Load from reaching
// (rate or burst 0), at their edges.
func TestCheckRateLimit(t *testing.T) {
	const day = 24 * time.Hour
	for _, tc := range []struct {
		name  string
		limit RateLimit
		want  string // "" for valid
	}{
		{"typical", RateLimit{Rate: 100, Per: time.Second, Burst: 20}, ""},
		{"rate 0", RateLimit{Rate: 0, Per: time.Second, Burst: 1}, "rate 0 must be at least 1"},
		{"per 0", RateLimit{Rate: 1, Per: 0, Burst: 1}, "per must be greater than 0"},
		{"per negative", RateLimit{Rate: 1, Per: -time.Second, Burst: 1}, "per must be greater than 0"},
		{"per 366 days", RateLimit{Rate: 1, Per: 366 * day, Burst: 1}, ""},
		{"per above 366 days", RateLimit{Rate: 1, Per: 366*day + time.Nanosecond, Burst: 1}, "per 8784h0m0.000000001s is above the maximum of 8784h0m0s"},
		{"burst 0", RateLimit{Rate: 1, Per: time.Second, Burst: 0}, "burst 0 must be at least 1"},
		{"one per microsecond", RateLimit{Rate: 1000000, Per: time.Second, Burst: 1}, ""},
		{"more than one per microsecond", RateLimit{Rate: 1000001, Per: time.Second, Burst: 1}, "rate 1000001 per 1s is more than one request per microsecond, finer than the limiter can measure"},
		{"interval rounds to 0", RateLimit{Rate: 2147483647, Per: time.Nanosecond, Burst: 1}, "rate 2147483647 per 1ns is more than one request per microsecond, finer than the limiter can measure"},
		{"burst spans 366 days", RateLimit{Rate: 2, Per: 366 * day, Burst: 2}, ""},
		{"burst spans more", RateLimit{Rate: 1, Per: 366 * day, Burst: 2}, "burst 2 is above the maximum of 1 at 1 per 8784h0m0s: a full burst must be earned back within 8784h0m0s"},
		{"burst of a year of seconds", RateLimit{Rate: 1, Per: time.Second, Burst: 31622400}, ""},
		{"burst of a year of seconds and one", RateLimit{Rate: 1, Per: time.Second, Burst: 31622401}, "burst 31622401 is above the maximum of 31622400 at 1 per 1s: a full burst must be earned back within 8784h0m0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &checker{file: "g.xml"}
			l := tc.limit
			l.Pos = Pos{Line: 7}
			c.checkRateLimit(&l, "rateLimits/caller")
			var got string
			if len(c.errs) > 0 {
				got = c.errs[0].Msg
			}
			if got != tc.want || len(c.errs) > 1 {
				t.Errorf("errors %q, want %q", c.errs, tc.want)
			}
			if len(c.errs) == 1 && c.errs[0].Error() != "g.xml:7: rateLimits/caller: "+tc.want {
				t.Errorf("error %q", c.errs[0])
			}
		})
	}
}
