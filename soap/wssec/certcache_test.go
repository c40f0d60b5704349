package wssec

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"
)

// A chain verified once is remembered only for the period in which every
// certificate of the chain is valid: here the CA starts later and ends
// sooner than the leaf, and the remembered chain must not stretch the
// leaf's longer validity over the CA's.
func TestChainCacheWindow(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	mk := func(tmpl, parent *x509.Certificate, key, parentKey *ecdsa.PrivateKey) *x509.Certificate {
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Short CA"},
		NotBefore: at.Add(-time.Hour), NotAfter: at.Add(10 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	ca := mk(caTmpl, caTmpl, caKey, caKey)
	leaf := mk(&x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "long leaf"},
		NotBefore: at.Add(-24 * time.Hour), NotAfter: at.Add(30 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature}, ca, leafKey, caKey)

	roots := x509.NewCertPool()
	roots.AddCert(ca)
	ts := NewTrustStore(roots, nil)
	if err := ts.Verify(leaf, at); err != nil {
		t.Fatal(err)
	}
	if !ts.certs.trusted(leaf, at.Add(5*24*time.Hour)) {
		t.Fatal("the verified chain is not remembered inside its validity")
	}
	for _, when := range []time.Time{at.Add(-2 * time.Hour), at.Add(15 * 24 * time.Hour)} {
		if err := ts.Verify(leaf, when); err == nil {
			t.Errorf("at %s, outside the CA's validity, the leaf is trusted", when)
		}
	}
	if err := ts.Verify(leaf, at.Add(5*24*time.Hour)); err != nil {
		t.Errorf("inside the window: %v", err)
	}

	// The cache belongs to its store: a store without the CA (a reload
	// that removed it) does not trust the leaf for having been asked before.
	other := NewTrustStore(x509.NewCertPool(), nil)
	if err := other.Verify(leaf, at); err == nil {
		t.Error("a store without the CA trusts the leaf another store verified")
	}
	// A failure is not remembered as a success.
	if err := other.Verify(leaf, at); err == nil {
		t.Error("second try: a store without the CA trusts the leaf")
	}
}

func TestCertCacheParseBounded(t *testing.T) {
	p := newPKI(t)
	c := newCertCache(2)
	a1, err := c.parse(p.rsa.cert.Raw)
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := c.parse(p.rsa.cert.Raw)
	if a1 != a2 {
		t.Error("the same bytes parsed twice")
	}
	if _, err := c.parse([]byte("not a certificate")); err == nil {
		t.Error("garbage parsed")
	}
	for _, kp := range []keyPair{p.ecdsa, p.old, p.ca} {
		if _, err := c.parse(kp.cert.Raw); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(c.entries); n > 2 {
		t.Errorf("%d entries in a cache of 2", n)
	}
}
