package wssec

import (
	"crypto/sha256"
	"crypto/x509"
	"sync"
	"time"
)

// certCache remembers, per certificate (by the SHA-256 of its DER), the
// parsed certificate and the period in which a chain to the trust store's
// CAs has been verified for it. Within one TrustStore the roots never
// change, and x509.Verify depends on the time only through the validity
// periods of the chain's certificates: a chain verified once stays valid
// while now lies inside all of them, so a later request at such a time
// needs no new chain building and no new signature checks on the chain.
// Failures are never remembered (an untrusted certificate costs a full
// verification every time, as before). The cache belongs to its
// TrustStore: a configuration reload builds a new store and starts empty.
type certCache struct {
	mu      sync.Mutex
	max     int
	entries map[[sha256.Size]byte]*certEntry
}

type certEntry struct {
	cert *x509.Certificate
	// from and until bound the verified chain's validity; until is zero
	// while no chain has been verified for this certificate.
	from, until time.Time
}

const certCacheSize = 4096

func newCertCache(n int) *certCache {
	return &certCache{max: n, entries: make(map[[sha256.Size]byte]*certEntry)}
}

// parse returns the parsed certificate for der, from the cache when the
// same bytes were parsed before.
func (c *certCache) parse(der []byte) (*x509.Certificate, error) {
	if c == nil {
		return x509.ParseCertificate(der)
	}
	sum := sha256.Sum256(der)
	c.mu.Lock()
	e := c.entries[sum]
	c.mu.Unlock()
	if e != nil {
		return e.cert, nil
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if e := c.entries[sum]; e != nil {
		cert = e.cert
	} else {
		c.put(sum, &certEntry{cert: cert})
	}
	c.mu.Unlock()
	return cert, nil
}

// trusted reports whether a chain was verified for cert whose validity
// covers now.
func (c *certCache) trusted(cert *x509.Certificate, now time.Time) bool {
	if c == nil {
		return false
	}
	sum := sha256.Sum256(cert.Raw)
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[sum]
	return e != nil && !e.until.IsZero() && !now.Before(e.from) && !now.After(e.until)
}

// remember records that chain, verified at some time, is valid from the
// latest NotBefore to the earliest NotAfter of its certificates.
func (c *certCache) remember(cert *x509.Certificate, chain []*x509.Certificate) {
	if c == nil || len(chain) == 0 {
		return
	}
	from, until := chain[0].NotBefore, chain[0].NotAfter
	for _, x := range chain[1:] {
		if x.NotBefore.After(from) {
			from = x.NotBefore
		}
		if x.NotAfter.Before(until) {
			until = x.NotAfter
		}
	}
	sum := sha256.Sum256(cert.Raw)
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[sum]
	if e == nil {
		e = &certEntry{cert: cert}
		c.put(sum, e)
	}
	// Keep the widest window of the chains seen (any verified chain
	// makes the certificate trusted).
	if e.until.IsZero() || until.After(e.until) {
		e.from, e.until = from, until
	}
}

// put adds an entry, first dropping an arbitrary one when full (Go's map
// iteration order is randomized, which makes the choice unpredictable to
// a sender trying to evict a particular certificate).
func (c *certCache) put(sum [sha256.Size]byte, e *certEntry) {
	if len(c.entries) >= c.max {
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	c.entries[sum] = e
}
