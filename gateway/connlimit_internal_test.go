package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/gatehouse/gatehouse/conf"
)

// Issue 18, item 4: the listeners' connection limits.

// limiterTest is a connLimiter on a loopback port with its metrics, and the
// connections its Accept returned.
type limiterTest struct {
	t  *testing.T
	l  *connLimiter
	m  *metrics
	mu sync.Mutex
	// accepted are the connections Accept returned, in order.
	accepted []net.Conn
	arrived  chan net.Conn
}

func newLimiterTest(t *testing.T, lim connLimits, tlsConfig *tls.Config, log *slog.Logger) *limiterTest {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lt := &limiterTest{t: t, m: newMetrics(), arrived: make(chan net.Conn, 100)}
	lt.l = newConnLimiter("edge", ln, tlsConfig, lim, log, lt.m)
	go func() {
		for {
			c, err := lt.l.Accept()
			if err != nil {
				return
			}
			lt.mu.Lock()
			lt.accepted = append(lt.accepted, c)
			lt.mu.Unlock()
			lt.arrived <- c
		}
	}()
	t.Cleanup(func() {
		lt.l.Close()
		lt.mu.Lock()
		defer lt.mu.Unlock()
		for _, c := range lt.accepted {
			c.Close()
		}
	})
	return lt
}

// dial connects from the loopback address from (127.0.0.x) and sends nothing.
func (lt *limiterTest) dial(from string) net.Conn {
	lt.t.Helper()
	c, err := lt.dialErr(from)
	if err != nil {
		lt.t.Fatal(err)
	}
	return c
}

func (lt *limiterTest) dialErr(from string) (net.Conn, error) {
	lt.t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", lt.l.Addr().String())
	if errors.Is(err, syscall.EADDRNOTAVAIL) {
		lt.t.Skipf("dial from %s (needs the 127.0.0.0/8 loopback network): %v", from, err)
	}
	if err != nil {
		return nil, err
	}
	lt.t.Cleanup(func() { c.Close() })
	return c, nil
}

// refusedAtOnce dials from from and reports whether the connection was
// closed at once: reset while connecting, or closed within a second.
func (lt *limiterTest) refusedAtOnce(from string) bool {
	lt.t.Helper()
	c, err := lt.dialErr(from)
	if err != nil {
		return errors.Is(err, syscall.ECONNRESET)
	}
	return closedBy(c, time.Second)
}

// wantAccepted waits for the next connection Accept returns.
func (lt *limiterTest) wantAccepted() net.Conn {
	lt.t.Helper()
	select {
	case c := <-lt.arrived:
		return c
	case <-time.After(2 * time.Second):
		lt.t.Fatal("no connection accepted within 2s")
		return nil
	}
}

// wantNoneAccepted checks that Accept returns nothing for a while.
func (lt *limiterTest) wantNoneAccepted() {
	lt.t.Helper()
	select {
	case c := <-lt.arrived:
		lt.t.Fatalf("connection from %s accepted, want it refused", c.RemoteAddr())
	case <-time.After(100 * time.Millisecond):
	}
}

// closedBy reports whether the server closed c within d: a read ends with
// EOF or a reset rather than the deadline.
func closedBy(c net.Conn, d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

func (lt *limiterTest) refused(reason string) float64 {
	return value(lt.m.connRefused.WithLabelValues("edge", reason))
}

func (lt *limiterTest) gauge(state string) float64 {
	return value(lt.m.connections.WithLabelValues("edge", state))
}

// value reads a gauge or a counter.
func value(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		panic(err)
	}
	if d.Gauge != nil {
		return d.Gauge.GetValue()
	}
	return d.Counter.GetValue()
}

// eventually polls cond for up to 2s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 2s", what)
		}
	}
}

func TestConnLimiterPerClient(t *testing.T) {
	lt := newLimiterTest(t, connLimits{max: 10, perClient: 2, handshakes: 10, handshakeTimeout: time.Minute}, nil, nil)
	for _, r := range refusalReasons { // every series exists from the start
		if v := lt.refused(r); v != 0 {
			t.Errorf("refused{%s} = %v at start", r, v)
		}
	}
	lt.dial("127.0.0.1")
	first := lt.wantAccepted()
	lt.dial("127.0.0.1")
	lt.wantAccepted()
	if !lt.refusedAtOnce("127.0.0.1") {
		t.Fatal("a third connection from 127.0.0.1 was not closed at once (perClient 2)")
	}
	lt.wantNoneAccepted()
	if got := lt.refused(refusedPerClient); got != 1 {
		t.Errorf("refused{per_client} = %v, want 1", got)
	}
	// Another client has its own share.
	lt.dial("127.0.0.2")
	lt.wantAccepted()
	if got := lt.gauge("open"); got != 3 {
		t.Errorf("open = %v, want 3", got)
	}
	// A closed connection gives its place back.
	first.Close()
	eventually(t, "open back to 2", func() bool { return lt.gauge("open") == 2 })
	lt.dial("127.0.0.1")
	lt.wantAccepted()
}

func TestConnLimiterMax(t *testing.T) {
	lt := newLimiterTest(t, connLimits{max: 3, perClient: 3, handshakes: 3, handshakeTimeout: time.Minute}, nil, nil)
	for _, from := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"} {
		lt.dial(from)
		lt.wantAccepted()
	}
	if !lt.refusedAtOnce("127.0.0.4") {
		t.Fatal("a fourth connection was not closed at once (max 3)")
	}
	lt.wantNoneAccepted()
	if got, pc := lt.refused(refusedMax), lt.refused(refusedPerClient); got != 1 || pc != 0 {
		t.Errorf("refused{max_connections} = %v, {per_client} = %v; want 1 and 0", got, pc)
	}
	if got := lt.gauge("open"); got != 3 {
		t.Errorf("open = %v, want 3", got)
	}
}

// testTLS returns a server configuration with a fresh self-signed
// certificate for 127.0.0.1 and a client configuration that trusts it.
func testTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "limiter"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}},
		&tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool, ServerName: "127.0.0.1"}
}

func TestConnLimiterPendingHandshakes(t *testing.T) {
	server, client := testTLS(t)
	lt := newLimiterTest(t, connLimits{max: 10, perClient: 10, handshakes: 2, handshakeTimeout: time.Minute}, server, nil)
	// Two connections that never send a ClientHello hold the two places.
	raw := lt.dial("127.0.0.1")
	lt.dial("127.0.0.2")
	eventually(t, "2 handshaking", func() bool { return lt.gauge("handshaking") == 2 })
	if !lt.refusedAtOnce("127.0.0.3") {
		t.Fatal("a third connection in the handshake was not closed at once (pendingHandshakes 2)")
	}
	if got := lt.refused(refusedHandshakes); got != 1 {
		t.Errorf("refused{pending_handshakes} = %v, want 1", got)
	}
	lt.wantNoneAccepted() // not handed to the HTTP server before their handshake
	// One gives up: its place goes to a client that completes its handshake.
	raw.Close()
	eventually(t, "1 handshaking", func() bool { return lt.gauge("handshaking") == 1 })
	tc := tls.Client(lt.dial("127.0.0.4"), client)
	if err := tc.Handshake(); err != nil {
		t.Fatalf("handshake with a free place: %v", err)
	}
	got := lt.wantAccepted()
	if c, ok := got.(*tls.Conn); !ok || !c.ConnectionState().HandshakeComplete {
		t.Fatalf("Accept returned %T, want a *tls.Conn past its handshake", got)
	}
	if h, o := lt.gauge("handshaking"), lt.gauge("open"); h != 1 || o != 2 {
		t.Errorf("handshaking %v, open %v; want 1 and 2", h, o)
	}
}

// TestConnLimiterHandshakeTimeout: a client that connects and sends
// nothing, or only part of a ClientHello, is closed when the handshake
// timeout passes; one that completed its handshake is not.
func TestConnLimiterHandshakeTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	server, client := testTLS(t)
	lt := newLimiterTest(t, connLimits{max: 10, perClient: 10, handshakes: 10, handshakeTimeout: timeout}, server, nil)

	done := lt.dial("127.0.0.1")
	tc := tls.Client(done, client)
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	served := lt.wantAccepted()

	start := time.Now()
	silent := lt.dial("127.0.0.1")
	partial := lt.dial("127.0.0.1")
	if _, err := partial.Write([]byte{0x16, 0x03, 0x01}); err != nil { // the start of a record header
		t.Fatal(err)
	}
	for name, c := range map[string]net.Conn{"silent": silent, "partial ClientHello": partial} {
		if !closedBy(c, 5*time.Second) {
			t.Fatalf("%s connection still open 5s later (handshake timeout %s)", name, timeout)
		}
	}
	if d := time.Since(start); d < timeout {
		t.Errorf("closed after %s, before the handshake timeout %s", d, timeout)
	}
	eventually(t, "handshake timeouts counted", func() bool { return lt.refused(refusedHandshakeTimeout) == 2 })
	eventually(t, "places given back", func() bool { return lt.gauge("open") == 1 && lt.gauge("handshaking") == 0 })
	lt.wantNoneAccepted()

	// The connection past its handshake has no deadline left from it.
	go func() { _, _ = served.Write([]byte("hello")) }()
	buf := make([]byte, 5)
	_ = tc.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := tc.Read(buf); err != nil || string(buf) != "hello" {
		t.Fatalf("served connection after the timeout: %q, %v", buf, err)
	}
}

// flakyListener fails its first n Accepts, then accepts from the real one.
type flakyListener struct {
	net.Listener
	mu sync.Mutex
	n  int
}

func (f *flakyListener) Accept() (net.Conn, error) {
	f.mu.Lock()
	if f.n > 0 {
		f.n--
		f.mu.Unlock()
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: errors.New("accept4: too many open files")}
	}
	f.mu.Unlock()
	return f.Listener.Accept()
}

func (f *flakyListener) fail(n int) {
	f.mu.Lock()
	f.n += n
	f.mu.Unlock()
}

// lines returns the lines written that contain substr (syncBuffer is
// shutdown_internal_test.go's).
func (b *syncBuffer) lines(substr string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, l := range strings.Split(b.buf.String(), "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}

// TestConnLimiterAcceptErrors: accept errors are logged at Warn, one line a
// second with the number left out, and accepting goes on.
func TestConnLimiterAcceptErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	flaky := &flakyListener{Listener: ln, n: 5}
	var logs syncBuffer
	l := newConnLimiter("edge", flaky, nil, connLimits{max: 10, perClient: 10, handshakes: 10, handshakeTimeout: time.Second},
		slog.New(slog.NewTextHandler(&logs, nil)), newMetrics())
	defer l.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	accepted := make(chan net.Conn, 2)
	go func() {
		for {
			s, err := l.Accept()
			if err != nil {
				return
			}
			s.Close()
			accepted <- s
		}
	}()
	select {
	case <-accepted:
	case <-time.After(3 * time.Second):
		t.Fatal("no connection accepted after 5 accept errors")
	}
	if got := logs.lines("accept failed"); len(got) != 1 || !strings.Contains(got[0], "level=WARN") || !strings.Contains(got[0], "too many open files") {
		t.Fatalf("log after 5 accept errors within a second: %q, want one Warn line", got)
	}
	time.Sleep(logInterval)
	flaky.fail(1)
	c2, err := net.Dial("tcp", ln.Addr().String()) // wakes the loop up
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	eventually(t, "a second log line", func() bool { return len(logs.lines("accept failed")) == 2 })
	if got := logs.lines("accept failed")[1]; !strings.Contains(got, "suppressed=4") {
		t.Errorf("second line %q does not count the 4 left out", got)
	}
}

func TestLogEvery(t *testing.T) {
	var e logEvery
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if n, ok := e.allow(t0); !ok || n != 0 {
		t.Fatalf("first: %d %v", n, ok)
	}
	for i := range 3 {
		if _, ok := e.allow(t0.Add(time.Duration(i+1) * 100 * time.Millisecond)); ok {
			t.Fatal("a second line within the interval")
		}
	}
	if n, ok := e.allow(t0.Add(time.Second)); !ok || n != 3 {
		t.Fatalf("a second later: %d %v, want 3 left out", n, ok)
	}
}

func TestClientKey(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"192.0.2.1:443", "192.0.2.1/32"},
		{"[::ffff:192.0.2.1]:443", "192.0.2.1/32"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"[fe80::1%eth0]:443", "fe80::/64"},
	} {
		a, err := net.ResolveTCPAddr("tcp", tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := clientKey(a).String(); got != tc.want {
			t.Errorf("clientKey(%s) = %s, want %s", tc.addr, got, tc.want)
		}
	}
}

func TestResolveConnLimits(t *testing.T) {
	listener := func(name string, c conf.Connections) *conf.Listener {
		if c.HandshakeTimeout == 0 {
			c.HandshakeTimeout = conf.DefaultHandshakeTimeout
		}
		return &conf.Listener{Name: name, Connections: c}
	}
	service := func(maxConcurrent int) *conf.Service {
		return &conf.Service{Backend: conf.Backend{MaxConcurrent: maxConcurrent}}
	}
	cfg := &conf.Config{
		Listeners: []*conf.Listener{listener("edge", conf.Connections{}), listener("partners", conf.Connections{Max: 100, HandshakeTimeout: 2 * time.Second}),
			listener("internal", conf.Connections{PerClient: 10})},
		Services: []*conf.Service{service(64), service(200)},
	}
	// Reserve 128 + 64 + 200 = 392; 10000 - 392 - 100 shared by two.
	got, warnings := resolveConnLimits(cfg, 10000)
	if len(warnings) != 0 {
		t.Errorf("warnings %q", warnings)
	}
	want := map[string]connLimits{
		"edge":     {max: 4754, perClient: conf.DefaultPerClient, handshakes: conf.DefaultPendingHandshakes, handshakeTimeout: conf.DefaultHandshakeTimeout},
		"partners": {max: 100, perClient: 100, handshakes: 100, handshakeTimeout: 2 * time.Second},
		"internal": {max: 4754, perClient: 10, handshakes: conf.DefaultPendingHandshakes, handshakeTimeout: conf.DefaultHandshakeTimeout},
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: %+v, want %+v", name, got[name], w)
		}
	}

	// A Redis store reserves its pool on every node.
	cfg.Store = &conf.Store{Redis: &conf.Redis{Addresses: []string{"a:1", "b:1", "c:1"}}}
	if got, want := descriptorReserve(cfg), 392+3*redisPoolSize(cfg); got != want {
		t.Errorf("reserve with a 3-node Redis = %d, want %d", got, want)
	}
	cfg.Store = nil

	// A low limit: the floor, and a warning.
	got, warnings = resolveConnLimits(cfg, 500)
	if got["edge"].max != minDerivedConnections || len(warnings) != 2 ||
		!strings.Contains(warnings[0], "raise the limit") || !strings.Contains(warnings[1], "more than the 108 descriptors") {
		t.Errorf("limit 500: edge %+v, warnings %q", got["edge"], warnings)
	}
	// Unknown or unlimited.
	if _, warnings = resolveConnLimits(cfg, 0); len(warnings) != 1 || !strings.Contains(warnings[0], "assuming 4096") {
		t.Errorf("unknown limit: warnings %q", warnings)
	}
	if got, _ = resolveConnLimits(cfg, ^uint64(0)); got["edge"].max != maxDerivedConnections {
		t.Errorf("unlimited: edge %+v", got["edge"])
	}
}
