package conf

import (
	"encoding/xml"
	"time"
)

// Defaults for a backend's bulkhead and circuit breaker.
const (
	// DefaultMaxConcurrent carries about 640 calls a second at 100ms each
	// (Little's law), while a hung backend ties up at most 64 requests, and
	// as many connections, of the gateway until the breaker opens.
	DefaultMaxConcurrent           = 64
	DefaultBreakerFailures         = 5
	DefaultBreakerOpenFor          = 30 * time.Second
	DefaultBreakerHalfOpenRequests = 1
	// DefaultBreakerFailureRatio (percent) and DefaultBreakerMinCalls: half
	// of at least 20 calls that ended within the window failed (slow calls
	// included) opens the breaker too, which catches a backend that fails
	// or hangs on every other call (never five in a row).
	DefaultBreakerFailureRatio = 50
	DefaultBreakerMinCalls     = 20
	// DefaultBreakerWindow is the shortest window the ratio is taken over;
	// it is at least twice the backend's timeout, so that the outcome of
	// every call, a timed-out one's included, lands in the window it began
	// in.
	DefaultBreakerWindow = time.Minute
)

// Bounds for rate limits, bulkheads and breakers.
const (
	// maxRateWindow bounds rateLimits/*/@per and how long a full burst
	// takes to earn back (burst × per/rate). It is the bound
	// gateway/throttle enforces (Limit.Validate), so that its arithmetic
	// cannot overflow.
	maxRateWindow = 366 * 24 * time.Hour
	// minRateInterval is the shortest time one request may cost (per/rate):
	// the Redis limiter measures time in microseconds, so a finer interval
	// cannot be enforced.
	minRateInterval = time.Microsecond

	// Above these a value is more likely a typo than a need.
	maxMaxConcurrent           = 100000
	maxBreakerFailures         = 1000
	maxBreakerHalfOpenRequests = 100
	maxBreakerOpenFor          = time.Hour
	maxBreakerMinCalls         = 100000
	// Below a second the breaker closes again before a backend could
	// recover, and so does not protect it.
	minBreakerOpenFor = time.Second
)

// RateLimits are the request rate limits, each kept per key: Caller per
// caller workload id, Subject per authenticated subject. Config.RateLimits
// is nil when the configuration has no rateLimits element: no rate limit
// applies. After Load at least one of Caller and Subject is set, and each
// is valid for gateway/throttle (Limit.Validate).
type RateLimits struct {
	Pos
	Caller  *RateLimit `xml:"caller"`  // nil: callers are not limited
	Subject *RateLimit `xml:"subject"` // nil: subjects are not limited
}

// RateLimit admits Rate requests per Per on average, and at most Burst at
// once: an idle key admits Burst requests, then one every Per/Rate.
type RateLimit struct {
	Pos
	Rate  int
	Per   time.Duration
	Burst int // Rate unless written
}

// Breaker is a backend's circuit breaker: Failures failed calls in a row,
// or FailureRatio percent of at least MinCalls calls that ended within
// Window, open it for OpenFor; then HalfOpenRequests trial calls are let
// through; that many successes close it, one failure opens it again. A
// call fails when the backend cannot be reached, times out or answers
// what is not a SOAP response, and when it is still running after
// SlowCall: it counts as failed at that moment, so that a hung backend
// opens the breaker long before its calls time out. Load fills in the
// defaults, so every backend has a breaker; Pos is zero when the backend
// has no breaker element.
type Breaker struct {
	Pos
	Failures         uint32
	OpenFor          time.Duration
	HalfOpenRequests uint32
	// SlowCall is half the backend's timeout unless written; it must be
	// below the timeout.
	SlowCall     time.Duration
	FailureRatio uint32 // percent, 1 to 100
	MinCalls     uint32
	// Window is not written: the larger of DefaultBreakerWindow and twice
	// the backend's timeout.
	Window time.Duration
}

// DefaultBreaker returns the breaker settings that apply when a backend
// does not set them.
func DefaultBreaker() Breaker {
	return Breaker{
		Failures:         DefaultBreakerFailures,
		OpenFor:          DefaultBreakerOpenFor,
		HalfOpenRequests: DefaultBreakerHalfOpenRequests,
		FailureRatio:     DefaultBreakerFailureRatio,
		MinCalls:         DefaultBreakerMinCalls,
	}
}

// slowCallUnset marks a SlowCall not written while the backend is decoded
// (a written 0 is an error the checks report).
const slowCallUnset = -1

// timed fills in what the backend's timeout sets: the default SlowCall
// and the Window.
func (b *Breaker) timed(timeout time.Duration) {
	if b.SlowCall == slowCallUnset {
		b.SlowCall = timeout / 2
	}
	b.Window = max(DefaultBreakerWindow, 2*timeout)
}

func (r *RateLimits) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	type plain RateLimits
	*r = RateLimits{Pos: Pos{Line: startLine(d)}}
	return d.DecodeElement((*plain)(r), &start)
}

func (l *RateLimit) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var raw struct {
		Rate  int    `xml:"rate,attr"`
		Per   string `xml:"per,attr"`
		Burst int    `xml:"burst,attr"`
	}
	*l = RateLimit{Pos: Pos{Line: startLine(d)}}
	if err := d.DecodeElement(&raw, &start); err != nil {
		return err
	}
	l.Rate, l.Burst = raw.Rate, raw.Burst
	if l.Burst == 0 { // the schema refuses burst="0"
		l.Burst = l.Rate
	}
	return parseDuration(&l.Per, raw.Per, l.Line, "per")
}

// UnmarshalXML keeps the defaults already in b for attributes left out.
func (b *Breaker) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var raw struct {
		Failures         uint32 `xml:"failures,attr"`
		OpenFor          string `xml:"openFor,attr"`
		HalfOpenRequests uint32 `xml:"halfOpenRequests,attr"`
		SlowCall         string `xml:"slowCall,attr"`
		FailureRatio     uint32 `xml:"failureRatio,attr"`
		MinCalls         uint32 `xml:"minCalls,attr"`
	}
	b.Line = startLine(d)
	if err := d.DecodeElement(&raw, &start); err != nil {
		return err
	}
	// The schema refuses 0 for each count.
	if raw.Failures != 0 {
		b.Failures = raw.Failures
	}
	if raw.HalfOpenRequests != 0 {
		b.HalfOpenRequests = raw.HalfOpenRequests
	}
	if raw.FailureRatio != 0 {
		b.FailureRatio = raw.FailureRatio
	}
	if raw.MinCalls != 0 {
		b.MinCalls = raw.MinCalls
	}
	return firstErr(
		parseDuration(&b.OpenFor, raw.OpenFor, b.Line, "openFor"),
		parseDuration(&b.SlowCall, raw.SlowCall, b.Line, "slowCall"),
	)
}

// Checks.

func (c *checker) checkRateLimits(r *RateLimits) {
	if r == nil {
		return
	}
	if r.Caller == nil && r.Subject == nil { // the schema requires one
		c.errorf(r.Pos, "rateLimits", "sets no limit: give caller, subject or both")
	}
	if r.Caller != nil {
		c.checkRateLimit(r.Caller, "rateLimits/caller")
	}
	if r.Subject != nil {
		c.checkRateLimit(r.Subject, "rateLimits/subject")
	}
}

// checkRateLimit makes the checks of gateway/throttle's Limit.Validate,
// which refuses every request under an invalid limit: a limit Load accepts
// never fails there.
func (c *checker) checkRateLimit(l *RateLimit, el string) {
	ok := true
	if l.Rate < 1 {
		c.errorf(l.Pos, el, "rate %d must be at least 1", l.Rate)
		ok = false
	}
	switch {
	case l.Per <= 0:
		c.errorf(l.Pos, el, "per must be greater than 0")
		ok = false
	case l.Per > maxRateWindow:
		c.errorf(l.Pos, el, "per %s is above the maximum of %s", l.Per, maxRateWindow)
		ok = false
	}
	if l.Burst < 1 {
		c.errorf(l.Pos, el, "burst %d must be at least 1", l.Burst)
		ok = false
	}
	if !ok {
		return
	}
	interval := l.Per / time.Duration(l.Rate)
	switch maxBurst := int64(maxRateWindow / max(interval, 1)); {
	case interval < minRateInterval:
		c.errorf(l.Pos, el, "rate %d per %s is more than one request per microsecond, finer than the limiter can measure", l.Rate, l.Per)
	case int64(l.Burst) > maxBurst:
		c.errorf(l.Pos, el, "burst %d is above the maximum of %d at %d per %s: a full burst must be earned back within %s",
			l.Burst, maxBurst, l.Rate, l.Per, maxRateWindow)
	}
}

// checkBulkhead checks backend/@maxConcurrent.
func (c *checker) checkBulkhead(b *Backend, el string) {
	switch {
	case b.MaxConcurrent < 1: // the schema refuses it
		c.errorf(b.Pos, el, "maxConcurrent %d must be at least 1", b.MaxConcurrent)
	case b.MaxConcurrent > maxMaxConcurrent:
		c.errorf(b.Pos, el, "maxConcurrent %d is above the maximum of %d", b.MaxConcurrent, maxMaxConcurrent)
	}
}

// checkBreaker checks backend/breaker; timeout is the backend's.
func (c *checker) checkBreaker(b *Breaker, timeout time.Duration, el string) {
	for _, v := range []struct {
		attr string
		val  uint32
		max  uint32
	}{
		{"failures", b.Failures, maxBreakerFailures},
		{"halfOpenRequests", b.HalfOpenRequests, maxBreakerHalfOpenRequests},
		{"failureRatio", b.FailureRatio, 100},
		{"minCalls", b.MinCalls, maxBreakerMinCalls},
	} {
		switch {
		case v.val < 1: // the schema refuses it
			c.errorf(b.Pos, el, "%s %d must be at least 1", v.attr, v.val)
		case v.val > v.max:
			c.errorf(b.Pos, el, "%s %d is above the maximum of %d", v.attr, v.val, v.max)
		}
	}
	switch {
	case b.OpenFor < minBreakerOpenFor:
		c.errorf(b.Pos, el, "openFor %s is below the minimum of %s", b.OpenFor, minBreakerOpenFor)
	case b.OpenFor > maxBreakerOpenFor:
		c.errorf(b.Pos, el, "openFor %s is above the maximum of %s", b.OpenFor, maxBreakerOpenFor)
	}
	switch {
	case b.SlowCall <= 0:
		c.errorf(b.Pos, el, "slowCall must be greater than 0")
	case timeout > 0 && b.SlowCall >= timeout:
		// A call that is never slow before it times out would make
		// slowCall mean nothing.
		c.errorf(b.Pos, el, "slowCall %s must be below the backend's timeout %s", b.SlowCall, timeout)
	}
}
