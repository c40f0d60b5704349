package wssec

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/soap"
)

// now is the fixed clock of the tests.
var now = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func clock() time.Time { return now }

type keyPair struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// testPKI is a CA with an RSA and an ECDSA signer, an expired signer, and a
// self-signed impostor with the same subject.
type testPKI struct {
	ca                      keyPair
	rsa, ecdsa, old, selfie keyPair
}

var pkiCache = map[time.Time]*testPKI{}

// newPKI returns the test PKI valid around the fixed clock.
func newPKI(t testing.TB) *testPKI { return newPKIAt(t, now) }

// newPKIAt returns a test PKI whose certificates are valid around at.
func newPKIAt(t testing.TB, now time.Time) *testPKI {
	t.Helper()
	if p := pkiCache[now]; p != nil {
		return p
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Partner CA"},
		NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, cn string, key crypto.Signer, notAfter time.Time, parent *x509.Certificate, parentKey crypto.Signer) keyPair {
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn, Organization: []string{"Partner"}},
			NotBefore: now.Add(-24 * time.Hour), NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature,
			SubjectKeyId: []byte{byte(serial), 1, 2, 3},
		}
		if parent == nil {
			parent, parentKey = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return keyPair{c, key}
	}
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	oldKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	selfKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p := &testPKI{
		ca:     keyPair{ca, caKey},
		rsa:    issue(10, "billing-rsa", rsaKey, now.Add(30*24*time.Hour), ca, caKey),
		ecdsa:  issue(11, "billing-ec", ecKey, now.Add(30*24*time.Hour), ca, caKey),
		old:    issue(12, "billing-old", oldKey, now.Add(-time.Hour), ca, caKey),
		selfie: issue(13, "billing-ec", selfKey, now.Add(30*24*time.Hour), nil, nil),
	}
	pkiCache[now] = p
	return p
}

func (p *testPKI) trust() *TrustStore {
	pool := x509.NewCertPool()
	pool.AddCert(p.ca.cert)
	return NewTrustStore(pool, nil)
}

const requestBody = `<p:GetInvoice xmlns:p="urn:example:billing"><p:Id>42</p:Id></p:GetInvoice>`

func plainEnvelope(v soap.Version) string {
	if v == soap.V12 {
		return `<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Header><wsa:To xmlns:wsa="http://www.w3.org/2005/08/addressing">https://gw.example/billing</wsa:To></env:Header><env:Body>` + requestBody + `</env:Body></env:Envelope>`
	}
	return `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header><wsa:To xmlns:wsa="http://www.w3.org/2005/08/addressing">https://gw.example/billing</wsa:To></soap:Header><soap:Body>` + requestBody + `</soap:Body></soap:Envelope>`
}

func parse(t testing.TB, s string) *soap.Envelope {
	t.Helper()
	env, err := soap.Parse([]byte(s), soap.DefaultLimits())
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, s)
	}
	return env
}

// signed returns a serialized SOAP message signed by kp at the clock time
// (plus offset), covering Body, Timestamp and the wsa:To header when withTo.
func signed(t testing.TB, kp keyPair, v soap.Version, offset time.Duration, withTo bool) string {
	t.Helper()
	env := parse(t, plainEnvelope(v))
	s := &Signer{Key: kp.key, Cert: kp.cert, Clock: func() time.Time { return now.Add(offset) }}
	var hdrs []*etree.Element
	if withTo {
		hdrs = env.HeaderBlocks()
	}
	if err := s.Sign(env, hdrs...); err != nil {
		t.Fatal(err)
	}
	out, err := env.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func strictPolicy() Policy {
	return Policy{
		RequireTimestamp: true, RequireSignature: true,
		SignedParts: []Part{{Kind: PartBody}, {Kind: PartTimestamp}},
	}
}

func verifier(p *testPKI, pol Policy) *Verifier {
	return &Verifier{Trust: p.trust(), Clock: clock, Policy: pol}
}

// faultCode returns the WS-Security fault code of err ("" if none).
func faultCode(t *testing.T, err error) string {
	t.Helper()
	var f *soap.Fault
	if !errors.As(err, &f) {
		t.Fatalf("error %v is not a *soap.Fault", err)
	}
	if f.Subcode.IsZero() {
		return f.Code.String()
	}
	return f.Subcode.Local
}

// replaceOnce replaces exactly one occurrence, failing the test otherwise.
func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	if strings.Count(s, old) != 1 {
		t.Fatalf("%q occurs %d times in\n%s", old, strings.Count(s, old), s)
	}
	return strings.Replace(s, old, new, 1)
}
