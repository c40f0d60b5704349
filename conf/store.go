package conf

import (
	"encoding/xml"
	"os"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Defaults for the shared store and the lockout policy.
const (
	DefaultRedisPrefix  = "gatehouse:"
	DefaultRedisTimeout = 200 * time.Millisecond

	DefaultLockoutThreshold   = 5
	DefaultLockoutWindow      = 5 * time.Minute
	DefaultLockoutBaseBackoff = time.Minute
	DefaultLockoutMaxBackoff  = time.Hour
	// A caller (a workload in front of many users) is throttled, never locked
	// out: after DefaultCallerThresholdFactor×threshold failures, unless
	// callerThreshold is written, for callerBackoff.
	DefaultCallerThresholdFactor = 10
	DefaultLockoutCallerBackoff  = 30 * time.Second
)

// Bounds beyond which a value is more likely a typo than a need.
const (
	maxRedisTimeout     = 10 * time.Second
	maxLockoutThreshold = 1000
	maxCallerThreshold  = 100000
	// maxLockoutDuration is also the bound gateway/store enforces, so that
	// its backoff arithmetic cannot overflow.
	maxLockoutDuration = 365 * 24 * time.Hour
)

// Store is where replay keys, rate-limit buckets, failed-login counters
// and lockouts live, shared by every gateway instance. Config.Store is nil
// when the configuration has no store element: the state then lives in
// memory and serves one instance only.
type Store struct {
	Pos
	Redis *Redis `xml:"redis"` // the only kind so far; never nil after Load
}

// Kind names the store for logs: "redis", or "memory" for a nil Store.
func (s *Store) Kind() string {
	if s == nil || s.Redis == nil {
		return "memory"
	}
	return "redis"
}

// Redis is a Redis deployment, addressed as go-redis UniversalClient does:
// with MasterName the Addresses are Sentinels; without it one address is a
// standalone server and several are a Cluster seed list.
type Redis struct {
	Pos
	Addresses  []string // host:port, at least one
	MasterName string   // Sentinel master name; "" when not Sentinel
	Username   string
	DB         int    // 0 for a Cluster
	Prefix     string // DefaultRedisPrefix unless written; never contains { or }
	Timeout    time.Duration
	// Where the password comes from: at most one is set. Load makes
	// PasswordFile absolute and reads it, or reads the environment
	// variable PasswordEnv; Password returns the result.
	PasswordFile string
	PasswordEnv  string

	// A pointer, so that printing a Redis with %v shows an address
	// rather than the password.
	password *string
}

// Password returns the password Load read from PasswordFile or
// PasswordEnv, or "" when neither is given. Never log it.
func (r *Redis) Password() string {
	if r.password == nil {
		return ""
	}
	return *r.password
}

// Topology returns "sentinel", "cluster" or "standalone".
func (r *Redis) Topology() string {
	switch {
	case r.MasterName != "":
		return "sentinel"
	case len(r.Addresses) > 1:
		return "cluster"
	}
	return "standalone"
}

// Lockout is the failed-authentication lockout policy: Threshold failures
// of a user within Window lock the user for BaseBackoff, doubling with each
// further lockout up to MaxBackoff. The calling workload is never locked
// out (the users behind one portal would all be): CallerThreshold failures
// from it within Window, over all its users, throttle it for
// CallerBackoff, which does not double. Load fills in the defaults; Pos is
// zero when the configuration has no lockout element.
type Lockout struct {
	Pos
	Threshold   int
	Window      time.Duration
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// CallerThreshold is DefaultCallerThresholdFactor×Threshold unless
	// written; it is at least Threshold.
	CallerThreshold int
	CallerBackoff   time.Duration
}

// DefaultLockout returns the lockout policy that applies when the
// configuration does not set one.
func DefaultLockout() Lockout {
	return Lockout{
		Threshold:   DefaultLockoutThreshold,
		Window:      DefaultLockoutWindow,
		BaseBackoff: DefaultLockoutBaseBackoff,
		MaxBackoff:  DefaultLockoutMaxBackoff,

		CallerThreshold: DefaultCallerThresholdFactor * DefaultLockoutThreshold,
		CallerBackoff:   DefaultLockoutCallerBackoff,
	}
}

func (s *Store) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	type plain Store
	*s = Store{Pos: Pos{Line: startLine(d)}}
	return d.DecodeElement((*plain)(s), &start)
}

func (r *Redis) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var raw struct {
		Addresses    string `xml:"addresses,attr"`
		MasterName   string `xml:"masterName,attr"`
		Username     string `xml:"username,attr"`
		PasswordFile string `xml:"passwordFile,attr"`
		PasswordEnv  string `xml:"passwordEnv,attr"`
		DB           int    `xml:"db,attr"`
		Prefix       string `xml:"prefix,attr"`
		Timeout      string `xml:"timeout,attr"`
	}
	*r = Redis{Pos: Pos{Line: startLine(d)}, Prefix: DefaultRedisPrefix, Timeout: DefaultRedisTimeout}
	if err := d.DecodeElement(&raw, &start); err != nil {
		return err
	}
	r.Addresses = strings.Fields(raw.Addresses)
	r.MasterName, r.Username = raw.MasterName, raw.Username
	r.PasswordFile, r.PasswordEnv = raw.PasswordFile, raw.PasswordEnv
	r.DB = raw.DB
	if raw.Prefix != "" { // the schema refuses an empty prefix
		r.Prefix = raw.Prefix
	}
	return parseDuration(&r.Timeout, raw.Timeout, r.Line, "timeout")
}

// UnmarshalXML keeps the defaults already in l for attributes left out.
func (l *Lockout) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var raw struct {
		Threshold   int    `xml:"threshold,attr"`
		Window      string `xml:"window,attr"`
		BaseBackoff string `xml:"baseBackoff,attr"`
		MaxBackoff  string `xml:"maxBackoff,attr"`

		CallerThreshold int    `xml:"callerThreshold,attr"`
		CallerBackoff   string `xml:"callerBackoff,attr"`
	}
	l.Line = startLine(d)
	if err := d.DecodeElement(&raw, &start); err != nil {
		return err
	}
	if raw.Threshold != 0 {
		l.Threshold = raw.Threshold
	}
	l.CallerThreshold = DefaultCallerThresholdFactor * l.Threshold
	if raw.CallerThreshold != 0 {
		l.CallerThreshold = raw.CallerThreshold
	}
	return firstErr(
		parseDuration(&l.Window, raw.Window, l.Line, "window"),
		parseDuration(&l.BaseBackoff, raw.BaseBackoff, l.Line, "baseBackoff"),
		parseDuration(&l.MaxBackoff, raw.MaxBackoff, l.Line, "maxBackoff"),
		parseDuration(&l.CallerBackoff, raw.CallerBackoff, l.Line, "callerBackoff"),
	)
}

// Checks.

func (c *checker) checkStore(s *Store) {
	if s == nil {
		return
	}
	r := s.Redis
	if r == nil { // the schema requires it
		c.errorf(s.Pos, "store", "redis is required")
		return
	}
	const el = "store/redis"
	seen := map[string]bool{}
	for _, a := range r.Addresses {
		host, err := splitAddress(a)
		switch {
		case err != nil:
			c.errorf(r.Pos, el, "address %q: %v", a, err)
		case host == "":
			c.errorf(r.Pos, el, "address %q has no host", a)
		case ephemeralPort(a):
			c.errorf(r.Pos, el, "address %q: port 0 cannot be dialled", a)
		case seen[a]:
			c.errorf(r.Pos, el, "address %s is listed twice", a)
		}
		seen[a] = true
	}
	if r.Topology() == "cluster" && r.DB != 0 {
		c.errorf(r.Pos, el, "db %d: a Cluster (several addresses without masterName) has only db 0", r.DB)
	}
	if strings.ContainsAny(r.Prefix, "{}") {
		c.errorf(r.Pos, el, `prefix %q must not contain "{" or "}": they would move the Cluster hash tag`, r.Prefix)
	} else if strings.ContainsFunc(r.Prefix, unicode.IsControl) {
		c.errorf(r.Pos, el, "prefix %q must not contain control characters", r.Prefix)
	}
	c.checkDuration(r.Pos, el, "timeout", r.Timeout)
	if r.Timeout > maxRedisTimeout {
		c.errorf(r.Pos, el, "timeout %s is above the maximum of %s", r.Timeout, maxRedisTimeout)
	}

	switch {
	case r.PasswordFile != "" && r.PasswordEnv != "":
		c.errorf(r.Pos, el, "passwordFile and passwordEnv exclude each other")
	case r.PasswordFile != "":
		r.PasswordFile = c.resolve(r.PasswordFile)
		secret, mode, err := readSecret(r.PasswordFile)
		if err != nil {
			c.errorf(r.Pos, el, "passwordFile %s: %v", r.PasswordFile, err)
			return
		}
		if exposed(mode) {
			c.warnf(r.Pos, el, "passwordFile %s can be read by group or others (mode %04o); make it readable by the gatehouse user only", r.PasswordFile, mode.Perm())
		}
		password := string(secret)
		r.password = &password
	case r.PasswordEnv != "":
		password, ok := os.LookupEnv(r.PasswordEnv)
		switch {
		case !ok:
			c.errorf(r.Pos, el, "passwordEnv: environment variable %s is not set", r.PasswordEnv)
		case password == "":
			c.errorf(r.Pos, el, "passwordEnv: environment variable %s is empty", r.PasswordEnv)
		default:
			r.password = &password
		}
	}
}

func (c *checker) checkLockout(l *Lockout) {
	const el = "lockout"
	if l.Threshold > maxLockoutThreshold {
		c.errorf(l.Pos, el, "threshold %d is above the maximum of %d", l.Threshold, maxLockoutThreshold)
	}
	for _, d := range []struct {
		attr string
		val  time.Duration
	}{{"window", l.Window}, {"baseBackoff", l.BaseBackoff}, {"maxBackoff", l.MaxBackoff}, {"callerBackoff", l.CallerBackoff}} {
		c.checkDuration(l.Pos, el, d.attr, d.val)
		if d.val > maxLockoutDuration {
			c.errorf(l.Pos, el, "%s %s is above the maximum of %s", d.attr, d.val, maxLockoutDuration)
		}
	}
	if l.MaxBackoff < l.BaseBackoff {
		c.errorf(l.Pos, el, "maxBackoff %s is below baseBackoff %s", l.MaxBackoff, l.BaseBackoff)
	}
	switch {
	case l.CallerThreshold > maxCallerThreshold:
		c.errorf(l.Pos, el, "callerThreshold %d is above the maximum of %d", l.CallerThreshold, maxCallerThreshold)
	case l.CallerThreshold < l.Threshold:
		c.errorf(l.Pos, el, "callerThreshold %d is below threshold %d: a caller would be throttled before its users are locked out", l.CallerThreshold, l.Threshold)
	}
}

// storeSummary describes the store for Config.Summary.
func storeSummary(s *Store) string {
	if s.Kind() == "memory" {
		return "store memory (single instance)"
	}
	r := s.Redis
	sum := "store redis " + plural(len(r.Addresses), "address")
	if t := r.Topology(); t != "standalone" {
		sum += " (" + t + ")"
	}
	return sum
}

// firstDuplicate returns the first value of list that occurs twice.
func firstDuplicate(list []string) (string, bool) {
	for i, v := range list {
		if slices.Contains(list[:i], v) {
			return v, true
		}
	}
	return "", false
}
