package samlsts

import (
	"container/list"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"sync"
	"time"

	"github.com/beevik/etree"
)

// DefaultAssertionCacheSize is the number of verified assertions an
// AssertionCache holds when NewAssertionCache is given no size.
const DefaultAssertionCacheSize = 10000

// AssertionCache remembers SAML 2.0 holder-of-key and sender-vouches
// assertions whose signature a Verifier has checked, so that a consumer
// that presents the same STS token with every request for its lifetime
// does not cost an XML-DSig verification per request.
//
// What is skipped on a hit is only the assertion's own enveloped signature
// (canonicalization, digest, signature value, issuer certificate) and the
// decoding of the element it verified: the entry holds that decoded,
// verified result, and the identity comes from it, never from the new
// message. Everything that depends on the time or on the service is
// checked again at every request (IssueInstant, NotBefore / NotOnOrAfter
// with skew, the audience, which confirmations are currently valid, the
// issuer certificate's validity), and Verify then checks the subject
// confirmation against the message itself (Recipient, InResponseTo, the
// key that signed the Body or the TLS key for holder-of-key, the attesting
// entity's signature over Body and assertion for sender-vouches).
//
// The key is a SHA-256 digest of the assertion as parsed (every node of its
// subtree: names with their prefixes, attributes in order, text, comments,
// processing instructions) together with the namespace declarations and
// xml:* attributes of its ancestors (which give it its meaning in the
// message), the claimed issuer with the certificates configured for it
// (so that a changed trust store misses), and the verifier's AllowSHA1.
// The digest is taken over an unambiguous encoding of that tree, not of
// the raw bytes, which the parser does not keep: two assertions with the
// same key are the same tree in the same namespace context, so goxmldsig
// and every check would read them alike. The encoding is stricter than the
// bytes' meaning (a CDATA section and the same text escaped differ), which
// can only cost a miss.
//
// Bearer assertions, assertions with OneTimeUse and assertions with a
// confirmation method other than holder-of-key and sender-vouches are
// never stored: they are single use, and their replay check stays as it is.
// An entry expires at the earliest NotOnOrAfter of the assertion's
// Conditions and SubjectConfirmationData and at the end of the verifying
// certificate's validity, whichever comes first. At most size entries are
// kept; the least recently used goes first. An entry costs about 10 KB for
// a 4 KB assertion with a holder certificate (the verified element is most
// of it), so the default size holds about 100 MB at most.
//
// A cache belongs to one trust configuration: the gateway gives each
// compiled service verifier its own, so a configuration reload starts
// empty. It is safe for concurrent use.
type AssertionCache struct {
	// Observe, when set (before the cache is used), is told the outcome
	// of every lookup: served from the cache or not (a metric's hook).
	Observe func(hit bool)

	mu      sync.Mutex
	size    int
	entries map[[sha256.Size]byte]*list.Element
	lru     list.List // of *cacheEntry, most recently used first
}

type cacheEntry struct {
	key     [sha256.Size]byte
	va      *verifiedAssertion
	expires time.Time // the entry is not served at or after expires
}

// NewAssertionCache returns an empty cache of at most size entries
// (DefaultAssertionCacheSize when size <= 0).
func NewAssertionCache(size int) *AssertionCache {
	if size <= 0 {
		size = DefaultAssertionCacheSize
	}
	return &AssertionCache{size: size, entries: map[[sha256.Size]byte]*list.Element{}}
}

// Len is the number of entries, expired ones not yet removed included.
func (c *AssertionCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

func (c *AssertionCache) observe(hit bool) {
	if c.Observe != nil {
		c.Observe(hit)
	}
}

// get returns the entry for key if there is one that has not expired at
// now.
func (c *AssertionCache) get(key [sha256.Size]byte, now time.Time) *verifiedAssertion {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		return nil
	}
	ent := e.Value.(*cacheEntry)
	if !now.Before(ent.expires) {
		c.lru.Remove(e)
		delete(c.entries, key)
		return nil
	}
	c.lru.MoveToFront(e)
	return ent.va
}

// put stores va under key until expires, evicting the least recently used
// entry when the cache is full.
func (c *AssertionCache) put(key [sha256.Size]byte, va *verifiedAssertion, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok {
		e.Value = &cacheEntry{key: key, va: va, expires: expires}
		c.lru.MoveToFront(e)
		return
	}
	for c.lru.Len() >= c.size {
		last := c.lru.Back()
		c.lru.Remove(last)
		delete(c.entries, last.Value.(*cacheEntry).key)
	}
	c.entries[key] = c.lru.PushFront(&cacheEntry{key: key, va: va, expires: expires})
}

// cacheable reports whether a verified assertion may be stored, and until
// when: never for a single-use one (OneTimeUse, or a confirmation method
// other than holder-of-key and sender-vouches, bearer first of all).
func (va *verifiedAssertion) cacheable() (time.Time, bool) {
	if va.oneTimeUse || len(va.confirmations) == 0 {
		return time.Time{}, false
	}
	expires := va.notOnOrAfter
	for _, c := range va.confirmations {
		if c.Method != CMHolderOfKey && c.Method != CMSenderVouch {
			return time.Time{}, false
		}
		if !c.notOnOrAfter.IsZero() && c.notOnOrAfter.Before(expires) {
			expires = c.notOnOrAfter
		}
	}
	if va.cert.NotAfter.Before(expires) {
		expires = va.cert.NotAfter
	}
	return expires, true
}

// mayBeCached tells from the assertion el as it stands in the message, not
// yet verified, whether it could be cached at all: no confirmation method
// other than holder-of-key and sender-vouches, no OneTimeUse. It only saves
// bearer assertions the lookup (and keeps the cache's statistics about the
// assertions it is for); what decides is cacheable, on the verified
// content, since what the message says here is not trusted: a hit needs
// content identical to what was verified and found cacheable.
func mayBeCached(el *etree.Element) bool {
	for _, sc := range children(child(el, NSAssertion, "Subject"), NSAssertion, "SubjectConfirmation") {
		if m := attr(sc, "Method"); m != CMHolderOfKey && m != CMSenderVouch {
			return false
		}
	}
	for _, c := range children(el, NSAssertion, "Conditions") {
		if child(c, NSAssertion, "OneTimeUse") != nil {
			return false
		}
	}
	return true
}

// certValid is goxmldsig's check of the verifying certificate at now,
// which a cache hit makes again.
func certValid(cert *x509.Certificate, now time.Time) bool {
	return !now.Before(cert.NotBefore) && !now.After(cert.NotAfter)
}

// keyBuffers hold cacheKey's encodings between uses.
var keyBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 8192); return &b }}

// cacheKey is the AssertionCache key of the assertion el, which claims the
// issuer claimed, for this verifier; false when el holds a token kind the
// encoding does not know, which is then not cached.
func (v *Verifier) cacheKey(el *etree.Element, claimed string) ([sha256.Size]byte, bool) {
	bp := keyBuffers.Get().(*[]byte)
	b := (*bp)[:0]
	b = append(b, "gatehouse assertion cache 1\x00"...)
	if v.AllowSHA1 {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = appendString(b, claimed)
	certs := v.Issuers[claimed]
	b = binary.AppendUvarint(b, uint64(len(certs)))
	for _, c := range certs {
		b = appendString(b, string(c.Raw))
	}
	// The context: every namespace declaration and xml:* attribute of
	// every ancestor, nearest first.
	for p := el.Parent(); p != nil; p = p.Parent() {
		b = append(b, 'p')
		for _, a := range p.Attr {
			if a.Space == "xmlns" || a.Space == "xml" || (a.Space == "" && a.Key == "xmlns") {
				b = append(b, 'a')
				b = appendString(b, a.Space)
				b = appendString(b, a.Key)
				b = appendString(b, a.Value)
			}
		}
	}
	b = append(b, 'e')
	b, ok := appendElement(b, el)
	sum := sha256.Sum256(b)
	if cap(b) <= 1<<20 {
		*bp = b
		keyBuffers.Put(bp)
	}
	return sum, ok
}

// appendElement appends an unambiguous encoding of the subtree el: every
// string is length-prefixed and every node starts with its kind. It reports
// false for a token kind it does not know.
func appendElement(b []byte, el *etree.Element) ([]byte, bool) {
	b = append(b, '<')
	b = appendString(b, el.Space)
	b = appendString(b, el.Tag)
	b = binary.AppendUvarint(b, uint64(len(el.Attr)))
	for _, a := range el.Attr {
		b = appendString(b, a.Space)
		b = appendString(b, a.Key)
		b = appendString(b, a.Value)
	}
	b = binary.AppendUvarint(b, uint64(len(el.Child)))
	for _, t := range el.Child {
		switch t := t.(type) {
		case *etree.Element:
			var ok bool
			if b, ok = appendElement(b, t); !ok {
				return b, false
			}
		case *etree.CharData:
			if t.IsCData() {
				b = append(b, 'D')
			} else {
				b = append(b, 'T')
			}
			b = appendString(b, t.Data)
		case *etree.Comment:
			b = append(b, 'C')
			b = appendString(b, t.Data)
		case *etree.ProcInst:
			b = append(b, 'P')
			b = appendString(b, t.Target)
			b = appendString(b, t.Inst)
		case *etree.Directive:
			b = append(b, '!')
			b = appendString(b, t.Data)
		default:
			return b, false
		}
	}
	return append(b, '>'), true
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}
