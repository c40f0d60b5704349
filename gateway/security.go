package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"time"

	"github.com/gatehouse/gatehouse/conf"
	"github.com/gatehouse/gatehouse/gateway/store"
	"github.com/gatehouse/gatehouse/samlsts"
	"github.com/gatehouse/gatehouse/soap"
	"github.com/gatehouse/gatehouse/soap/wssec"
)

// newStore opens the shared store the configuration names, or an in-memory
// one that serves this instance only.
func newStore(cfg *conf.Config, log *slog.Logger, clock func() time.Time, m *metrics) (store.Store, error) {
	l := cfg.Lockout
	policy := store.LockoutPolicy{Threshold: l.Threshold, Window: l.Window, BaseBackoff: l.BaseBackoff, MaxBackoff: l.MaxBackoff,
		CallerThreshold: l.CallerThreshold, CallerBackoff: l.CallerBackoff}
	if cfg.Store == nil || cfg.Store.Redis == nil {
		log.Warn("no <store> configured: replay and lockout state is in memory, single-instance only; configure Redis to run several instances")
		return store.NewMemory(policy, clock), nil
	}
	r := cfg.Store.Redis
	pool := redisPoolSize(cfg)
	s, err := store.NewRedis(store.RedisOptions{
		Addrs: r.Addresses, MasterName: r.MasterName, Username: r.Username, Password: r.Password(),
		DB: r.DB, Prefix: r.Prefix, Timeout: r.Timeout,
		PoolSize: pool, MinIdleConns: pool / 2,
		OnEpochChange: func(c store.EpochChange) {
			m.epochChanges.Inc()
			log.Error("the shared store lost its data: its epoch changed, so replay keys recorded before may be gone; messages whose freshness began before it are refused (MessageExpired) until they expire",
				"began", c.Began.UTC().Format(time.RFC3339), "old", c.Old, "new", c.New)
		},
	}, policy)
	if err != nil {
		return nil, fmt.Errorf("gateway: store: %w", err)
	}
	log.Info("shared store: redis", "addresses", r.Addresses, "sentinel", r.MasterName != "", "prefix", r.Prefix)
	go func() {
		// In the background: a Redis that is down at start is the
		// readiness check's concern, not a reason to wait here. The ping
		// reads the store's epoch: this instance watches it from now on.
		_ = s.Ping(context.Background())
		for _, w := range s.PersistenceWarnings(context.Background()) {
			log.Warn("shared store: "+w, "addresses", r.Addresses)
		}
	}()
	return s, nil
}

// redisPoolSize sizes the Redis pool from the concurrency the services
// allow: a request holds a connection for one round trip (about a tenth
// of a millisecond), so a quarter of the backends' bulkheads, at least
// go-redis's default (10 per CPU), at most 256. Half of it is dialled at
// start (MinIdleConns), so that a burst at start does not queue on dials.
func redisPoolSize(cfg *conf.Config) int {
	total := 0
	for _, s := range cfg.Services {
		total += s.Backend.MaxConcurrent
	}
	return min(max(total/4, 10*runtime.GOMAXPROCS(0)), 256)
}

// newUsers compiles the UsernameToken user store.
func newUsers(cfg *conf.Config) (*wssec.Users, error) {
	if cfg.Users == nil {
		return nil, nil
	}
	creds := map[string]wssec.Credential{}
	for _, u := range cfg.Users.Entries() {
		if u.Secret != nil {
			creds[u.Name] = wssec.SecretCredential(u.Secret)
			continue
		}
		c, err := wssec.HashCredential(u.PasswordHash)
		if err != nil {
			return nil, fmt.Errorf("gateway: %s:%d: user %q: %w", cfg.Users.File, u.Line, u.Name, err)
		}
		creds[u.Name] = c
	}
	// Password hashing is memory- and CPU-hard: bound it to the cores.
	return wssec.NewUsers(creds, runtime.GOMAXPROCS(0)), nil
}

// newVerifier compiles a service's <security> into a wssec.Verifier.
func newVerifier(cfg *conf.Config, sec *conf.Security, users *wssec.Users, clock func() time.Time) *wssec.Verifier {
	vr := &wssec.Verifier{Clock: clock, Policy: wssec.Policy{
		Actor:                sec.Actor,
		RequireTimestamp:     sec.Requires("timestamp"),
		RequireSignature:     sec.Requires("signature"),
		RequireUsernameToken: sec.Requires("usernameToken"),
		MaxSkew:              sec.MaxSkew,
		MaxAge:               sec.MaxAge,
		AllowSHA1:            sec.InsecureAllowSHA1,
		AllowNonBSP:          sec.InsecureAllowNonBSP,
	}}
	if users != nil {
		vr.Users = users
	}
	if t := cfg.TrustStore(sec.Trust); t != nil {
		vr.Trust = wssec.NewTrustStore(t.Roots(), t.Pinned(), t.SignerCertificates()...)
	}
	for _, p := range sec.SignedParts {
		switch p.Kind {
		case "Body":
			vr.Policy.SignedParts = append(vr.Policy.SignedParts, wssec.Part{Kind: wssec.PartBody})
		case "Timestamp":
			vr.Policy.SignedParts = append(vr.Policy.SignedParts, wssec.Part{Kind: wssec.PartTimestamp})
		default:
			vr.Policy.SignedParts = append(vr.Policy.SignedParts, wssec.Part{Kind: wssec.PartHeader, Name: soap.QName{Space: p.Namespace, Local: p.Local}})
		}
	}
	return vr
}

// storeUnavailable is the fail-closed answer when the shared store cannot
// answer: the request is refused, never waved through.
func storeUnavailable(err error) error {
	return soap.ReceiverFault("service temporarily unavailable", fmt.Errorf("shared store: %w", err)).WithStatus(http.StatusServiceUnavailable)
}

// authenticate makes the request's Identity: the mTLS workload, then what
// the Security header proves (lockout check first, before any expensive
// check; failures counted), then the SAML assertion. The Identity holds
// every replay key of the request, which admit decides in one round trip. The audit record names the identity from here on.
func (g *Gateway) authenticate(ctx context.Context, tx *transaction, w http.ResponseWriter, svc *service, env *soap.Envelope) (*Identity, error) {
	id := newIdentity(tx.caller)
	defer id.record(&tx.rec)
	vr := svc.verifier
	if vr == nil {
		return id, checkSecurityPolicy(tx.op, env, nil, tx.plaintext) // mTLS alone, if the WSDL's policy asks for no more
	}
	var subjects store.Attempt
	v := tx.verified // encrypted, then signed: verified before the decryption
	if v != nil {
		subjects = *tx.attempt
	} else {
		subjects = lockoutSubjects(tx, env, vr.Policy.Actor)
		tx.attempt = &subjects
		if err := g.shedLockout(svc, subjects); err != nil {
			return nil, err
		}
		var err error
		sp := g.stage(tx, spanWSSecurity)
		v, err = vr.VerifyDecrypted(env, tx.decrypted)
		sp.end(err)
		if err != nil {
			return nil, g.authFailed(ctx, tx, w, svc, subjects, err, true)
		}
	}
	id.addSecurity(v)
	if mid := env.Addressing.MessageID; mid != "" {
		id.ReplayKeys = append(id.ReplayKeys, vr.MessageIDKey(v, tx.caller.ID, mid))
	}
	if svc.saml != nil && (len(v.Assertions) > 0 || svc.samlRequired) {
		sp := g.stage(tx, spanSAML)
		p, key, err := svc.saml.Verify(samlsts.Message{Envelope: env, Security: v, Caller: tx.caller.ID, CallerCert: tx.caller.Certificate})
		sp.end(err)
		if err != nil {
			return nil, g.authFailed(ctx, tx, w, svc, subjects, err, false)
		}
		id.addAssertion(p, svc.saml.Audience)
		if key != nil {
			id.ReplayKeys = append(id.ReplayKeys, *key)
		}
	}
	if err := checkSecurityPolicy(tx.op, env, v, tx.plaintext); err != nil {
		return nil, g.authFailed(ctx, tx, w, svc, subjects, err, false)
	}
	return id, nil
}

// lockoutSubjects are whom a failed authentication counts against: the
// UsernameToken user, if any, who is locked out, and the calling workload,
// which is only throttled (the users behind one portal must not lock each
// other out). An anonymous caller (insecure-none listener) is known by its
// address, as for the caller rate limit.
func lockoutSubjects(tx *transaction, env *soap.Envelope, actor string) store.Attempt {
	caller := tx.caller.ID
	if caller == "" {
		host, _, _ := net.SplitHostPort(tx.rec.Remote)
		caller = "address:" + host
	}
	return store.Attempt{User: wssec.Username(env, actor), Caller: caller}
}

// countFailure counts an authentication failure (a fault with a
// FailedAuthentication code) toward the user's lockout and the caller's
// throttle.
func (g *Gateway) countFailure(ctx context.Context, svc *service, a store.Attempt, err error) {
	var f *soap.Fault
	if !errors.As(err, &f) || f.Subcode.Local != "FailedAuthentication" {
		return
	}
	g.metrics.authFailures.WithLabelValues(svc.name).Inc()
	st, ferr := g.store.Fail(ctx, a)
	if ferr != nil {
		g.log.Error("could not count a failed authentication", "err", ferr)
		return
	}
	g.noteStanding(a, st)
	if st.Locked() {
		g.metrics.lockouts.Inc()
		f.Err = fmt.Errorf("%w; now locked out until %s", f.Err, st.LockedUntil.UTC().Format(time.RFC3339))
	}
	if st.Throttled() {
		f.Err = fmt.Errorf("%w; caller now throttled until %s", f.Err, st.ThrottledUntil.UTC().Format(time.RFC3339))
	}
}
