package samlsts

import (
	"crypto/x509"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/soap"
	"github.com/gatehouse/gatehouse/soap/wssec"
)

// cachedVerifier is verifier(k) with a cache and a counter of signature
// verifications.
func cachedVerifier(k *keys, size int) (*Verifier, *int) {
	v := verifier(k)
	v.Cache = NewAssertionCache(size)
	n := 0
	v.onVerify = func() { n++ }
	return v, &n
}

// hokAssertion is a holder-of-key assertion for the client's key, valid
// for five minutes from now.
func hokAssertion(t testing.TB, k *keys, edit func(*IssueRequest)) string {
	t.Helper()
	r := bearerRequest()
	r.Method, r.HolderKey = CMHolderOfKey, k.client.cert
	if edit != nil {
		edit(&r)
	}
	return issued(t, issuer(k.stsRSA), r)
}

// svAssertion is a sender-vouches assertion (the STS issues none itself:
// a bearer one re-labelled and signed again).
func svAssertion(t testing.TB, k *keys) string {
	t.Helper()
	el, err := issuer(k.stsRSA).build(bearerRequest())
	if err != nil {
		t.Fatal(err)
	}
	child(child(el, NSAssertion, "Subject"), NSAssertion, "SubjectConfirmation").CreateAttr("Method", CMSenderVouch)
	signed, err := issuer(k.stsRSA).sign(el)
	if err != nil {
		t.Fatal(err)
	}
	return serialize(t, signed)
}

func wantVerifications(t *testing.T, n *int, want int) {
	t.Helper()
	if *n != want {
		t.Fatalf("%d signature verifications, want %d", *n, want)
	}
}

// TestAssertionCacheHit: the same holder-of-key assertion in a second
// message (parsed anew, signed anew with the confirmed key) is served from
// the cache, with the same principal; so is a sender-vouches one.
func TestAssertionCacheHit(t *testing.T) {
	k := testKeys(t, now)
	t.Run("holder-of-key", func(t *testing.T) {
		v, n := cachedVerifier(k, 0)
		a := hokAssertion(t, k, nil)
		first, _, err := v.Verify(message(t, a, &k.client, false))
		if err != nil {
			t.Fatal(err)
		}
		wantVerifications(t, n, 1)
		for range 3 {
			p, key, err := v.Verify(message(t, a, &k.client, false))
			if err != nil {
				t.Fatal(err)
			}
			if key != nil {
				t.Errorf("replay key %+v for a holder-of-key assertion", key)
			}
			if fmt.Sprint(*p) != fmt.Sprint(*first) {
				t.Errorf("hit %+v\nwant %+v", *p, *first)
			}
		}
		wantVerifications(t, n, 1)
		if v.Cache.Len() != 1 {
			t.Errorf("%d entries", v.Cache.Len())
		}
	})
	t.Run("sender-vouches", func(t *testing.T) {
		v, n := cachedVerifier(k, 0)
		v.AttestingEntities = []string{edgeID}
		a := svAssertion(t, k)
		for range 2 {
			if _, _, err := v.Verify(message(t, a, &k.edge, true)); err != nil {
				t.Fatal(err)
			}
		}
		wantVerifications(t, n, 1)
	})
}

// TestAssertionCacheNotForSingleUse: bearer assertions and assertions with
// OneTimeUse are verified in full every time and their replay key is
// returned every time.
func TestAssertionCacheNotForSingleUse(t *testing.T) {
	k := testKeys(t, now)
	oneTime := issuedEdited(t, issuer(k.stsRSA), IssueRequest{
		Subject: aliceNameID, Audience: audience, Lifetime: 5 * time.Minute, Method: CMHolderOfKey, HolderKey: k.client.cert, AuthnInstant: now,
	}, func(a *etree.Element) {
		child(a, NSAssertion, "Conditions").CreateElement("saml:OneTimeUse")
	})
	for name, a := range map[string]string{"bearer": issued(t, issuer(k.stsRSA), bearerRequest()), "OneTimeUse": oneTime} {
		t.Run(name, func(t *testing.T) {
			v, n := cachedVerifier(k, 0)
			lookups := 0
			v.Cache.Observe = func(bool) { lookups++ }
			for i := range 3 {
				m := message(t, a, nil, false)
				m.Caller, m.CallerCert = consumerID, k.client.cert
				_, key, err := v.Verify(m)
				if err != nil {
					t.Fatal(err)
				}
				if key == nil {
					t.Fatal("no replay key")
				}
				wantVerifications(t, n, i+1)
			}
			if v.Cache.Len() != 0 || lookups != 0 {
				t.Errorf("%d entries, %d lookups", v.Cache.Len(), lookups)
			}
		})
	}
}

// TestAssertionCacheableOnlyWhatIsVerified: whether an assertion is stored
// is decided on the verified content, whatever the message claims about
// it before verification.
func TestAssertionCacheableOnlyWhatIsVerified(t *testing.T) {
	k := testKeys(t, now)
	oneTime := bearerRequest()
	oneTime.Method, oneTime.HolderKey = CMHolderOfKey, k.client.cert
	for _, tc := range []struct {
		name      string
		a         string
		cacheable bool
	}{
		{"bearer", issued(t, issuer(k.stsRSA), bearerRequest()), false},
		{"holder-of-key and bearer", issuedEdited(t, issuer(k.stsRSA), oneTime, func(a *etree.Element) {
			subj := child(a, NSAssertion, "Subject")
			sc := child(subj, NSAssertion, "SubjectConfirmation").Copy()
			sc.RemoveAttr("Method")
			sc.CreateAttr("Method", CMBearer)
			subj.AddChild(sc)
		}), false},
		{"OneTimeUse", issuedEdited(t, issuer(k.stsRSA), oneTime, func(a *etree.Element) {
			child(a, NSAssertion, "Conditions").CreateElement("saml:OneTimeUse")
		}), false},
		{"holder-of-key", hokAssertion(t, k, nil), true},
		{"sender-vouches", svAssertion(t, k), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			el := message(t, tc.a, nil, false).Security.Assertions[0]
			verified, cert, err := verifier(k).verifySigned(el, stsEntity, attr(el, "ID"), "ID", now)
			if err != nil {
				t.Fatal(err)
			}
			va, err := verifier(k).read(verified, stsEntity, attr(el, "ID"), cert)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := va.cacheable(); ok != tc.cacheable {
				t.Errorf("cacheable %v, want %v", ok, tc.cacheable)
			}
		})
	}
}

// TestAssertionCacheHitChecksTime: a hit is refused when the assertion is
// not valid at this request's time, even if the entry were still there;
// and the entry goes at the earliest NotOnOrAfter.
func TestAssertionCacheHitChecksTime(t *testing.T) {
	k := testKeys(t, now)
	a := hokAssertion(t, k, nil) // NotBefore now, NotOnOrAfter now+5m
	at := now
	v, n := cachedVerifier(k, 0)
	v.Clock = func() time.Time { return at }
	if _, _, err := v.Verify(message(t, a, &k.client, false)); err != nil {
		t.Fatal(err)
	}
	// Keep the entry past its end, as a cache that forgot to expire would.
	for _, e := range v.Cache.entries {
		e.Value.(*cacheEntry).expires = now.Add(24 * time.Hour)
	}
	for _, tc := range []struct {
		name string
		at   time.Time
		want string
	}{
		{"past NotOnOrAfter and the skew", now.Add(5*time.Minute + v.skew()), "MessageExpired"},
		{"before NotBefore and the skew", now.Add(-v.skew() - time.Second), "InvalidSecurityToken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at = tc.at
			_, _, err := v.Verify(message(t, a, &k.client, false))
			if err == nil || faultCode(t, err) != tc.want {
				t.Fatalf("err = %v, want %s", err, tc.want)
			}
			wantVerifications(t, n, 1) // refused as a hit
		})
	}

	t.Run("entry expires at NotOnOrAfter", func(t *testing.T) {
		// A SubjectConfirmationData that ends before the Conditions: the
		// entry goes with it.
		a := issuedEdited(t, issuer(k.stsRSA), IssueRequest{
			Subject: aliceNameID, Audience: audience, Lifetime: 5 * time.Minute, Method: CMHolderOfKey, HolderKey: k.client.cert, AuthnInstant: now,
		}, func(a *etree.Element) {
			confirmationData(a, 0, "NotOnOrAfter", now.Add(time.Minute).Format(time.RFC3339))
		})
		at = now
		v, n := cachedVerifier(k, 0)
		v.Clock = func() time.Time { return at }
		if _, _, err := v.Verify(message(t, a, &k.client, false)); err != nil {
			t.Fatal(err)
		}
		at = now.Add(time.Minute - time.Second)
		if _, _, err := v.Verify(message(t, a, &k.client, false)); err != nil {
			t.Fatal(err)
		}
		wantVerifications(t, n, 1)
		at = now.Add(time.Minute) // still valid with the skew, but no longer cached
		if _, _, err := v.Verify(message(t, a, &k.client, false)); err != nil {
			t.Fatal(err)
		}
		wantVerifications(t, n, 2)
	})
}

// TestAssertionCacheHitChecksIssuerCertificate: a hit at a time the issuer
// certificate is not valid (a clock set back) is refused, as goxmldsig
// refuses it without the cache.
func TestAssertionCacheHitChecksIssuerCertificate(t *testing.T) {
	k := testKeys(t, now)
	sts := selfSigned(t, "Gatehouse STS", k.stsRSA.key, now.Add(59*time.Minute), "") // valid from now-1m
	is := issuer(sts)
	is.Clock = func() time.Time { return now.Add(-10 * time.Minute) }
	r := bearerRequest()
	r.Method, r.HolderKey, r.Lifetime = CMHolderOfKey, k.client.cert, time.Hour
	a := issued(t, is, r) // valid from now-10m
	at := now
	v, n := cachedVerifier(k, 0)
	v.Issuers = map[string][]*x509.Certificate{stsEntity: {sts.cert}}
	v.Clock = func() time.Time { return at }
	if _, _, err := v.Verify(message(t, a, &k.client, false)); err != nil {
		t.Fatal(err)
	}
	at = now.Add(-5 * time.Minute)
	_, _, err := v.Verify(message(t, a, &k.client, false))
	wantRefused(t, err, "not valid at this time")
	wantVerifications(t, n, 2)
}

// TestAssertionCacheHitChecksAudience: an entry is not valid for a
// verifier of another audience that shares the cache.
func TestAssertionCacheHitChecksAudience(t *testing.T) {
	k := testKeys(t, now)
	a := hokAssertion(t, k, nil)
	v, n := cachedVerifier(k, 0)
	if _, _, err := v.Verify(message(t, a, &k.client, false)); err != nil {
		t.Fatal(err)
	}
	other := *v
	other.Audience = otherAud
	_, _, err := other.Verify(message(t, a, &k.client, false))
	wantRefused(t, err, "does not name this service's audience")
	wantVerifications(t, n, 1)
}

// TestAssertionCacheChangedByte: one byte changed in the assertion misses
// and fails the signature check.
func TestAssertionCacheChangedByte(t *testing.T) {
	k := testKeys(t, now)
	a := hokAssertion(t, k, nil)
	v, n := cachedVerifier(k, 0)
	if _, _, err := v.Verify(message(t, a, &k.client, false)); err != nil {
		t.Fatal(err)
	}
	for name, changed := range map[string]string{
		"NameID":    mustReplace(t, a, aliceNameID, "alicf@example.com"),
		"attribute": mustReplace(t, a, "ALICE01", "ALICE02"),
	} {
		t.Run(name, func(t *testing.T) {
			before := *n
			_, _, err := v.Verify(message(t, changed, &k.client, false))
			wantRefused(t, err, "assertion signature")
			wantVerifications(t, n, before+1)
		})
	}
	// A namespace declaration around it changes it too.
	t.Run("context", func(t *testing.T) {
		before := *n
		m := message(t, a, &k.client, false)
		m.Security.Assertions[0].Parent().CreateAttr("xmlns:extra", "urn:x")
		if _, _, err := v.Verify(m); err != nil {
			t.Fatal(err)
		}
		wantVerifications(t, n, before+1)
	})
}

// TestAssertionCacheTrustSwapped: the same assertion with another trusted
// issuer key configured misses: with only another key it is refused, with
// one more key it is verified again.
func TestAssertionCacheTrustSwapped(t *testing.T) {
	k := testKeys(t, now)
	a := hokAssertion(t, k, nil) // signed with stsRSA
	v, n := cachedVerifier(k, 0)
	v.Issuers = map[string][]*x509.Certificate{stsEntity: {k.stsRSA.cert}}
	if _, _, err := v.Verify(message(t, a, &k.client, false)); err != nil {
		t.Fatal(err)
	}
	v.Issuers = map[string][]*x509.Certificate{stsEntity: {k.stsEC.cert}}
	_, _, err := v.Verify(message(t, a, &k.client, false))
	wantRefused(t, err, "assertion signature")
	wantVerifications(t, n, 2)

	v.Issuers = map[string][]*x509.Certificate{stsEntity: {k.stsRSA.cert, k.stsEC.cert}}
	if _, _, err := v.Verify(message(t, a, &k.client, false)); err != nil {
		t.Fatal(err)
	}
	wantVerifications(t, n, 3)
}

// TestAssertionCacheHitChecksHolder: a hit still needs the message signed
// with the confirmed key (or the TLS key to be it).
func TestAssertionCacheHitChecksHolder(t *testing.T) {
	k := testKeys(t, now)
	a := hokAssertion(t, k, nil)
	v, n := cachedVerifier(k, 0)
	if _, _, err := v.Verify(message(t, a, &k.client, false)); err != nil {
		t.Fatal(err)
	}
	_, _, err := v.Verify(message(t, a, &k.edge, false))
	wantRefused(t, err, "neither the TLS client key nor the key that signed the Body is the confirmed key")
	wantVerifications(t, n, 1)

	// Unsigned messages (the confirmed key is the TLS client key) put the
	// assertion in another namespace context: an entry of their own.
	tlsMessage := func(kp keyPair, id string) Message {
		m := message(t, a, nil, false)
		m.Caller, m.CallerCert = id, kp.cert
		return m
	}
	if _, _, err := v.Verify(tlsMessage(k.client, consumerID)); err != nil {
		t.Fatal(err)
	}
	_, _, err = v.Verify(tlsMessage(k.edge, edgeID))
	wantRefused(t, err, "neither the TLS client key nor the key that signed the Body is the confirmed key")
	wantVerifications(t, n, 2)

	t.Run("sender-vouches", func(t *testing.T) {
		v, n := cachedVerifier(k, 0)
		v.AttestingEntities = []string{edgeID}
		a := svAssertion(t, k)
		if _, _, err := v.Verify(message(t, a, &k.edge, true)); err != nil {
			t.Fatal(err)
		}
		_, _, err := v.Verify(message(t, a, &k.edge, false)) // assertion not covered
		wantRefused(t, err, "not both signed")
		_, _, err = v.Verify(message(t, a, &k.client, true)) // not an attesting entity
		wantRefused(t, err, "is not one")
		wantVerifications(t, n, 1)
	})
}

// TestAssertionCacheConcurrent: requests that present the same and other
// assertions at once (run with -race) all get their own principal.
func TestAssertionCacheConcurrent(t *testing.T) {
	k := testKeys(t, now)
	v, _ := cachedVerifier(k, 2)
	v.onVerify = nil
	var ms []Message
	for i := range 3 {
		ms = append(ms, message(t, hokAssertion(t, k, func(r *IssueRequest) { r.Roles = []string{fmt.Sprint("role", i)} }), &k.client, false))
	}
	done := make(chan error)
	for g := range 6 {
		go func() {
			var err error
			for i := range 20 {
				m := ms[(g+i)%len(ms)]
				p, _, verr := v.Verify(m)
				switch {
				case verr != nil:
					err = verr
				case len(p.Roles) != 1 || p.Roles[0] != fmt.Sprint("role", (g+i)%len(ms)):
					err = fmt.Errorf("roles %q", p.Roles)
				default:
					p.Roles[0], p.Attributes["racfUserId"] = "changed", nil // must not reach the cache
				}
			}
			done <- err
		}()
	}
	for range 6 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// TestAssertionCacheBounded: the cache keeps at most its size, the least
// recently used going first.
func TestAssertionCacheBounded(t *testing.T) {
	k := testKeys(t, now)
	v, n := cachedVerifier(k, 2)
	var as []string
	for i := range 3 {
		as = append(as, hokAssertion(t, k, func(r *IssueRequest) { r.Roles = []string{fmt.Sprint("role", i)} }))
	}
	verify := func(i, wantN int) {
		t.Helper()
		if _, _, err := v.Verify(message(t, as[i], &k.client, false)); err != nil {
			t.Fatal(err)
		}
		wantVerifications(t, n, wantN)
		if v.Cache.Len() > 2 {
			t.Fatalf("%d entries, more than 2", v.Cache.Len())
		}
	}
	verify(0, 1)
	verify(1, 2)
	verify(0, 2) // a hit: 0 is now the most recently used
	verify(2, 3) // evicts 1
	if v.Cache.Len() != 2 {
		t.Fatalf("%d entries, want 2", v.Cache.Len())
	}
	verify(0, 3)
	verify(2, 3)
	verify(1, 4) // evicted, verified again
}

// TestAssertionCacheHitAnswersAsCold: at every time around the assertion's
// windows, a hit gives the same answer (principal or error text) as a
// verifier without a cache.
func TestAssertionCacheHitAnswersAsCold(t *testing.T) {
	k := testKeys(t, now)
	// Two holder-of-key confirmations: one ending after a minute, one
	// starting after two.
	a := issuedEdited(t, issuer(k.stsRSA), IssueRequest{
		Subject: aliceNameID, Audience: audience, Lifetime: 5 * time.Minute, Method: CMHolderOfKey, HolderKey: k.client.cert, AuthnInstant: now,
		Roles: []string{"teller"},
	}, func(a *etree.Element) {
		subj := child(a, NSAssertion, "Subject")
		sc := child(subj, NSAssertion, "SubjectConfirmation")
		subj.AddChild(sc.Copy())
		confirmationData(a, 0, "NotOnOrAfter", now.Add(time.Minute).Format(time.RFC3339))
		confirmationData(a, 1, "NotBefore", now.Add(2*time.Minute).Format(time.RFC3339))
	})
	at := now
	v, n := cachedVerifier(k, 0)
	v.Clock = func() time.Time { return at }
	if _, _, err := v.Verify(message(t, a, &k.client, false)); err != nil {
		t.Fatal(err)
	}
	for _, e := range v.Cache.entries {
		e.Value.(*cacheEntry).expires = now.Add(24 * time.Hour)
	}
	cold := verifier(k)
	cold.Clock = func() time.Time { return at }
	answer := func(p *Principal, err error) string {
		if err != nil {
			return err.Error()
		}
		return fmt.Sprintf("%+v", *p)
	}
	for d := -4 * time.Minute; d <= 9*time.Minute; d += 15 * time.Second {
		at = now.Add(d)
		m := message(t, a, &k.client, false)
		p, _, err := v.Verify(m)
		hit := answer(p, err)
		p, _, err = cold.Verify(m)
		if want := answer(p, err); hit != want {
			t.Errorf("at now%+v: hit %s\ncold %s", d, hit, want)
		}
	}
	wantVerifications(t, n, 1)
}

// TestAssertionWithoutIssuer: an assertion without Issuer is refused (it
// made VerifyAssertion dereference nil; FuzzAssertionCache found it).
func TestAssertionWithoutIssuer(t *testing.T) {
	k := testKeys(t, now)
	m, ok := fuzzMessage(`<saml:Assertion xmlns:saml="`+NSAssertion+`" ID="_1" Version="2.0"></saml:Assertion>`, k)
	if !ok {
		t.Fatal("message")
	}
	_, _, err := verifier(k).Verify(m)
	wantRefused(t, err, "assertion without Issuer")
}

// TestHolderKeyWithoutConfirmationData: a holder-of-key confirmation
// without SubjectConfirmationData has no key and satisfies nothing.
func TestHolderKeyWithoutConfirmationData(t *testing.T) {
	k := testKeys(t, now)
	a := issuedEdited(t, issuer(k.stsRSA), IssueRequest{
		Subject: aliceNameID, Audience: audience, Lifetime: 5 * time.Minute, Method: CMHolderOfKey, HolderKey: k.client.cert, AuthnInstant: now,
	}, func(a *etree.Element) {
		sc := child(child(a, NSAssertion, "Subject"), NSAssertion, "SubjectConfirmation")
		sc.RemoveChild(child(sc, NSAssertion, "SubjectConfirmationData"))
	})
	_, err := verifier(k).VerifyAssertion(message(t, a, &k.client, false).Security.Assertions[0])
	wantRefused(t, err, "no currently valid subject confirmation")
}

// TestAssertionCacheKeyEncoding: distinct trees give distinct keys where a
// naive concatenation would not.
func TestAssertionCacheKeyEncoding(t *testing.T) {
	k := testKeys(t, now)
	v := verifier(k)
	key := func(s string) [32]byte {
		doc := etree.NewDocument()
		if err := doc.ReadFromString(s); err != nil {
			t.Fatal(err)
		}
		el := doc.Root()
		if el.Tag != "A" {
			el = el.ChildElements()[0]
		}
		key, ok := v.cacheKey(el, stsEntity)
		if !ok {
			t.Fatal("not cacheable")
		}
		return key
	}
	same := [][2]string{
		{`<A x="1">t</A>`, `<A x="1">t</A>`},
		{`<r xmlns:p="urn:a"><A/></r>`, `<q xmlns:p="urn:a"><A/></q>`},
	}
	for _, c := range same {
		if key(c[0]) != key(c[1]) {
			t.Errorf("%s and %s differ", c[0], c[1])
		}
	}
	differ := [][2]string{
		{`<A x="1">t</A>`, `<A x="1">u</A>`},
		{`<A x="1" y="2"/>`, `<A y="2" x="1"/>`},
		{`<A><b/>t</A>`, `<A>t<b/></A>`},
		{`<A>ab<!--c--></A>`, `<A>a<!--bc--></A>`},
		{`<A>a<!---->b</A>`, `<A>ab</A>`},
		{`<r xmlns:p="urn:a"><A/></r>`, `<r xmlns:p="urn:b"><A/></r>`},
		{`<r xml:lang="en"><A/></r>`, `<r><A/></r>`},
		{`<p:A xmlns:p="urn:a"/>`, `<A xmlns:p="urn:a"/>`},
	}
	for _, c := range differ {
		if key(c[0]) == key(c[1]) {
			t.Errorf("%s and %s have one key", c[0], c[1])
		}
	}
}

// FuzzAssertionCache is a differential fuzz of the cache against the
// verifier without it: whatever the assertion in the message (mutations of
// a holder-of-key and a sender-vouches assertion, each verified once
// before), a verifier with a cache gives the answer a verifier without one
// gives, on a first look and on a second (a hit if the first stored it),
// at times before, inside and after the assertion's validity. Entries
// accumulate over the run, so a key collision between two assertions with
// different meanings would show as a difference.
func FuzzAssertionCache(f *testing.F) {
	k := testKeys(f, now)
	hok := hokAssertion(f, k, nil)
	sv := svAssertion(f, k)
	for _, a := range []string{hok, sv} {
		f.Add(a, int64(0))
		f.Add(a, int64(299))
		f.Add(a, int64(-130))
		f.Add(strings.Replace(a, aliceNameID, "alice@example.com<!---->", 1), int64(10))
	}
	at := now
	cached := verifier(k)
	cached.Cache = NewAssertionCache(64)
	cached.AttestingEntities = []string{edgeID}
	cached.Clock = func() time.Time { return at }
	cold := verifier(k)
	cold.AttestingEntities = cached.AttestingEntities
	cold.Clock = cached.Clock
	answer := func(p *Principal, key any, err error) string {
		if err != nil {
			return "error: " + err.Error()
		}
		return fmt.Sprintf("%+v %v", *p, key != nil)
	}
	for _, a := range []string{hok, sv} {
		m, ok := fuzzMessage(a, k)
		if !ok {
			f.Fatal("seed message")
		}
		if _, _, err := cached.Verify(m); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, assertion string, seconds int64) {
		at = now.Add(time.Duration(seconds%1000) * time.Second)
		m, ok := fuzzMessage(assertion, k)
		if !ok {
			return
		}
		p, key, err := cold.Verify(m)
		want := answer(p, key, err)
		for i := range 2 {
			p, key, err := cached.Verify(m)
			if got := answer(p, key, err); got != want {
				t.Fatalf("look %d at now%+ds: with the cache %s\nwithout %s", i, seconds%1000, got, want)
			}
		}
	})
}

// fuzzMessage is message for fuzzing: an unsigned message carrying the
// assertion, from the client's TLS key (the holder) and the edge's
// workload id (the attesting entity); false when it is not one.
func fuzzMessage(assertion string, k *keys) (Message, bool) {
	raw := `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header><wsse:Security xmlns:wsse="` +
		soap.NSWSSE + `">` + assertion + `</wsse:Security></soap:Header><soap:Body><a:GetBalance xmlns:a="urn:gatehouse:demo:accounts"/></soap:Body></soap:Envelope>`
	env, err := soap.Parse([]byte(raw), soap.DefaultLimits())
	if err != nil {
		return Message{}, false
	}
	v, err := (&wssec.Verifier{Clock: clock}).Verify(env)
	if err != nil || len(v.Assertions) != 1 {
		return Message{}, false
	}
	return Message{Envelope: env, Security: v, Caller: edgeID, CallerCert: k.client.cert}, true
}
