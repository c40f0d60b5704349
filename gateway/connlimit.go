package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/conf"
)

// Connection limits of a SOAP listener (listener/connections).
//
// Every connection costs a file descriptor before it has said anything, and
// a TLS handshake costs CPU before the client is authenticated. A connLimiter
// sits between the bound listener and the HTTP server: it accepts, checks the
// limits (connections held, connections of the client's address, handshakes
// in progress), closes at once what is over a limit, and runs the TLS
// handshake itself under the handshake timeout, so that the HTTP server only
// ever sees connections that completed their handshake. A client that
// connects and sends nothing is closed when the timeout passes. Every closed
// connection is counted (gatehouse_connections_refused_total) and logged at
// most once a second per listener, with the number of lines left out; accept
// errors (too many open files) are logged the same way, at Warn.
//
// The default for max comes from the descriptor limit: what RLIMIT_NOFILE
// leaves after a reserve for the admin listener, files, the backends' and the
// store's connections, shared among the listeners without a max of their
// own. Then the listeners cannot exhaust the descriptors, and the admin
// listener, the backends and Redis keep theirs during a flood.

// Reasons a connection is closed by its listener's limits, the reason label
// of gatehouse_connections_refused_total.
const (
	refusedMax              = "max_connections"
	refusedPerClient        = "per_client"
	refusedHandshakes       = "pending_handshakes"
	refusedHandshakeTimeout = "handshake_timeout"
)

var refusalReasons = []string{refusedMax, refusedPerClient, refusedHandshakes, refusedHandshakeTimeout}

const (
	// fdReserve is what the descriptor budget keeps besides the backends'
	// and the store's connections: the admin listener and its clients, the
	// listening sockets, audit and log files, the files a reload reads, DNS.
	fdReserve = 128
	// minDerivedConnections floors a derived max when the descriptor limit
	// is too low to share (a warning says so).
	minDerivedConnections = 64
	// maxDerivedConnections caps a derived max when the descriptor limit is
	// very large or unlimited.
	maxDerivedConnections = 1_000_000
	// assumedFileLimit stands for a descriptor limit that cannot be read.
	assumedFileLimit = 4096

	// logInterval is the least time between two log lines of one kind of
	// one listener.
	logInterval = time.Second
	// maxAcceptDelay bounds the wait after a failed accept (as net/http's).
	maxAcceptDelay = time.Second
)

// connLimits are one listener's limits, defaults resolved.
type connLimits struct {
	max, perClient, handshakes int
	handshakeTimeout           time.Duration
}

// descriptorReserve is what the process needs besides the listeners'
// connections: fdReserve, a connection per call a bulkhead lets in flight
// (each backend's idle pool is as large), and the Redis pool of every node
// the configuration names.
func descriptorReserve(cfg *conf.Config) int {
	reserve := fdReserve
	for _, s := range cfg.Services {
		if s.Composite == nil {
			reserve += s.Backend.MaxConcurrent
		}
	}
	if cfg.Store != nil && cfg.Store.Redis != nil {
		reserve += redisPoolSize(cfg) * max(len(cfg.Store.Redis.Addresses), 1)
	}
	return reserve
}

// resolveConnLimits computes each listener's limits from its configuration
// and the descriptor limit nofile (0: unknown), and says what an operator
// should know about them.
func resolveConnLimits(cfg *conf.Config, nofile uint64) (map[string]connLimits, []string) {
	var warnings []string
	if nofile == 0 {
		nofile = assumedFileLimit
		warnings = append(warnings, fmt.Sprintf("connection limits: the descriptor limit cannot be read; assuming %d", nofile))
	}
	reserve := descriptorReserve(cfg)
	budget := 0
	if nofile > uint64(reserve) {
		budget = int(min(nofile-uint64(reserve), maxDerivedConnections*uint64(max(len(cfg.Listeners), 1))))
	}
	written, unset := 0, 0
	for _, l := range cfg.Listeners {
		if l.Connections.Max > 0 {
			written += l.Connections.Max
		} else {
			unset++
		}
	}
	share := 0
	if unset > 0 {
		share = min(max(budget-written, 0)/unset, maxDerivedConnections)
		if share < minDerivedConnections {
			warnings = append(warnings, fmt.Sprintf("connection limits: the descriptor limit %d leaves %d connections for %d listeners after a reserve of %d; each gets %d: raise the limit (ulimit -n, LimitNOFILE)",
				nofile, max(budget-written, 0), unset, reserve, minDerivedConnections))
			share = minDerivedConnections
		}
	}
	if total := written + share*unset; total > budget {
		warnings = append(warnings, fmt.Sprintf("connection limits: the listeners may hold %d connections, more than the %d descriptors the limit %d leaves after a reserve of %d; at the limit, accepts fail (too many open files)",
			total, budget, nofile, reserve))
	}
	out := make(map[string]connLimits, len(cfg.Listeners))
	for _, l := range cfg.Listeners {
		c := l.Connections
		lim := connLimits{max: c.Max, perClient: c.PerClient, handshakes: c.PendingHandshakes, handshakeTimeout: c.HandshakeTimeout}
		if lim.max == 0 {
			lim.max = share
		}
		if lim.perClient == 0 {
			lim.perClient = conf.DefaultPerClient
		}
		if lim.handshakes == 0 {
			lim.handshakes = conf.DefaultPendingHandshakes
		}
		if lim.handshakeTimeout <= 0 {
			lim.handshakeTimeout = conf.DefaultHandshakeTimeout
		}
		lim.perClient, lim.handshakes = min(lim.perClient, lim.max), min(lim.handshakes, lim.max)
		out[l.Name] = lim
	}
	return out, warnings
}

// connLimiter is a listener that enforces connLimits (see above). Accept
// returns connections that completed their TLS handshake (or, without a TLS
// configuration, every connection within the limits).
type connLimiter struct {
	inner  net.Listener
	name   string
	tls    *tls.Config // nil: plaintext
	limits connLimits
	log    *slog.Logger
	now    func() time.Time // for the log's rate limit

	open, handshaking prometheus.Gauge
	refused           map[string]prometheus.Counter
	metrics           *metrics

	conns chan net.Conn // ready for the HTTP server
	// ctx is cancelled by Close: the accept loop and the handshakes end.
	ctx       context.Context
	cancel    context.CancelFunc
	closeOnce sync.Once
	closeErr  error

	mu          sync.Mutex
	nOpen       int
	nHandshakes int
	perClient   map[netip.Prefix]int

	acceptLog, refuseLog logEvery
}

// newConnLimiter wraps the bound listener inner and starts accepting; the
// limiter's metrics are set to 0 at once. tlsConfig nil: no handshake.
func newConnLimiter(name string, inner net.Listener, tlsConfig *tls.Config, lim connLimits, log *slog.Logger, m *metrics) *connLimiter {
	ctx, cancel := context.WithCancel(context.Background())
	l := &connLimiter{
		inner: inner, name: name, tls: tlsConfig, limits: lim, log: log, now: time.Now,
		open:        m.connections.WithLabelValues(name, "open"),
		handshaking: m.connections.WithLabelValues(name, "handshaking"),
		refused:     map[string]prometheus.Counter{},
		metrics:     m,
		conns:       make(chan net.Conn),
		ctx:         ctx, cancel: cancel,
		perClient: map[netip.Prefix]int{},
	}
	for _, r := range refusalReasons {
		l.refused[r] = m.connRefused.WithLabelValues(name, r)
	}
	go l.acceptLoop()
	return l
}

// Accept returns the next connection ready for the HTTP server.
func (l *connLimiter) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.ctx.Done():
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.inner.Addr(), Err: net.ErrClosed}
	}
}

// Close stops accepting and ends the handshakes in progress; connections
// already handed to the HTTP server are its to close.
func (l *connLimiter) Close() error {
	l.closeOnce.Do(func() {
		l.cancel()
		l.closeErr = l.inner.Close()
	})
	return l.closeErr
}

func (l *connLimiter) Addr() net.Addr { return l.inner.Addr() }

// acceptLoop accepts until the listener is closed. An accept error (too
// many open files, a connection aborted before it was accepted) is
// retried after a delay that doubles up to a second, as net/http does, and
// logged at Warn at most once a second.
func (l *connLimiter) acceptLoop() {
	defer l.Close()
	var delay time.Duration
	for {
		c, err := l.inner.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || l.ctx.Err() != nil {
				return
			}
			delay = min(max(2*delay, 5*time.Millisecond), maxAcceptDelay)
			if n, ok := l.acceptLog.allow(l.now()); ok {
				l.log.Warn("accept failed; retrying", "listener", l.name, "err", err, "retryIn", delay.String(), "suppressed", n)
			}
			select {
			case <-time.After(delay):
			case <-l.ctx.Done():
				return
			}
			continue
		}
		delay = 0
		l.admit(c)
	}
}

// admit takes the connection's place within the limits, or closes it.
func (l *connLimiter) admit(c net.Conn) {
	key := clientKey(c.RemoteAddr())
	l.mu.Lock()
	reason := ""
	switch {
	case l.nOpen >= l.limits.max:
		reason = refusedMax
	case l.perClient[key] >= l.limits.perClient:
		reason = refusedPerClient
	case l.tls != nil && l.nHandshakes >= l.limits.handshakes:
		reason = refusedHandshakes
	default:
		l.nOpen++
		l.perClient[key]++
		if l.tls != nil {
			l.nHandshakes++
		}
	}
	l.mu.Unlock()
	if reason != "" {
		l.refuse(c, reason) // counted before the client can see the close
		abort(c)
		return
	}
	lc := &limitedConn{Conn: c, l: l, key: key}
	l.open.Inc()
	if l.tls == nil {
		l.deliver(lc)
		return
	}
	lc.inHandshake.Store(true)
	l.handshaking.Inc()
	go l.handshake(lc)
}

// handshake runs the TLS handshake within the handshake timeout and hands
// the connection to the HTTP server (whose own handshake call then returns
// at once).
func (l *connLimiter) handshake(c *limitedConn) {
	tc := tls.Server(c, l.tls)
	_ = c.SetDeadline(time.Now().Add(l.limits.handshakeTimeout))
	err := tc.HandshakeContext(l.ctx)
	c.endHandshake()
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			l.refuse(c, refusedHandshakeTimeout)
			abort(c)
		} else {
			// As net/http logged them: a bad or missing client
			// certificate is the client's problem, not the operator's;
			// the metric breaks them down by reason and issuer.
			reason, presented := handshakeFailure(err)
			l.metrics.handshakeFailures.WithLabelValues(l.name, reason, l.metrics.handshakeIssuers.label(presented)).Inc()
			l.log.Debug("TLS handshake failed", "listener", l.name, "remote", c.RemoteAddr().String(), "reason", reason, "err", err)
		}
		_ = c.Close()
		return
	}
	_ = c.SetDeadline(time.Time{})
	l.deliver(tc)
}

func (l *connLimiter) deliver(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.ctx.Done():
		_ = c.Close()
	}
}

// refuse counts and logs a connection closed for reason.
func (l *connLimiter) refuse(c net.Conn, reason string) {
	l.refused[reason].Inc()
	if n, ok := l.refuseLog.allow(l.now()); ok {
		msg := "connection refused: limit reached"
		if reason == refusedHandshakeTimeout {
			msg = "connection closed: TLS handshake not completed in time"
		}
		l.log.Warn(msg, "listener", l.name, "reason", reason, "remote", c.RemoteAddr().String(),
			"maxConnections", l.limits.max, "perClient", l.limits.perClient, "pendingHandshakes", l.limits.handshakes,
			"handshakeTimeout", l.limits.handshakeTimeout.String(), "suppressed", n)
	}
}

// abort closes c with a reset: nothing is kept for a connection that is
// not served (no lingering unsent data, no TIME_WAIT).
func abort(c net.Conn) {
	if lc, ok := c.(*limitedConn); ok {
		c = lc.Conn
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// release gives back the place of a closed connection.
func (l *connLimiter) release(key netip.Prefix) {
	l.mu.Lock()
	l.nOpen--
	if n := l.perClient[key] - 1; n > 0 {
		l.perClient[key] = n
	} else {
		delete(l.perClient, key)
	}
	l.mu.Unlock()
	l.open.Dec()
}

// limitedConn is an admitted connection: closing it gives its place back.
type limitedConn struct {
	net.Conn
	l           *connLimiter
	key         netip.Prefix
	inHandshake atomic.Bool
	closed      atomic.Bool
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	if c.closed.CompareAndSwap(false, true) {
		c.endHandshake()
		c.l.release(c.key)
	}
	return err
}

// CloseWrite keeps net/http's half-close of a plaintext connection.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// endHandshake gives back the connection's handshake place, once.
func (c *limitedConn) endHandshake() {
	if c.inHandshake.CompareAndSwap(true, false) {
		l := c.l
		l.mu.Lock()
		l.nHandshakes--
		l.mu.Unlock()
		l.handshaking.Dec()
	}
}

// clientKey is what the per-client limit counts by: the IPv4 address, or
// the IPv6 /64 (one host's share of a network, which it may fill with
// addresses at will).
func clientKey(a net.Addr) netip.Prefix {
	var ip netip.Addr
	if ta, ok := a.(*net.TCPAddr); ok {
		ip = ta.AddrPort().Addr()
	} else if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		ip = ap.Addr()
	}
	ip = ip.Unmap().WithZone("")
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits) // not an IP address: the zero prefix, one key for all such
	return p
}

// logEvery lets one log line through per logInterval and counts the others,
// so that a flood costs a line a second saying how many it stands for.
type logEvery struct {
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// allow reports whether a line may be written now, and how many were left
// out since the last one.
func (e *logEvery) allow(now time.Time) (suppressed int, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.last.IsZero() && now.Sub(e.last) < logInterval {
		e.suppressed++
		return 0, false
	}
	suppressed, e.suppressed, e.last = e.suppressed, 0, now
	return suppressed, true
}
