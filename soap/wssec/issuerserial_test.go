package wssec

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/dn"
)

// reorderedCA is a CA whose subject is encoded emailAddress, CN, OU, O, C
// (most significant first, the reverse of Go's fixed C, O, OU, CN), so that
// its RFC 4514 string (C first) differs from Go's pkix.Name.String() (CN
// first), with an escaped comma and an emailAddress that Go prints as an
// OID; and an
// RSA signer with serial 4242 that it issued.
func reorderedCA(t *testing.T, at time.Time) (ca, signer keyPair) {
	t.Helper()
	attr := func(oid asn1.ObjectIdentifier, v string) pkix.RelativeDistinguishedNameSET {
		return pkix.RelativeDistinguishedNameSET{{Type: oid, Value: v}}
	}
	raw, err := asn1.Marshal(pkix.RDNSequence{
		attr(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, "pki@partner.example"),
		attr(asn1.ObjectIdentifier{2, 5, 4, 3}, "Partner Issuing CA"),
		attr(asn1.ObjectIdentifier{2, 5, 4, 11}, "Trust Services"),
		attr(asn1.ObjectIdentifier{2, 5, 4, 10}, "Partner, Inc."),
		attr(asn1.ObjectIdentifier{2, 5, 4, 6}, "DE"),
	})
	if err != nil {
		t.Fatal(err)
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), RawSubject: raw,
		NotBefore: at.Add(-time.Hour), NotAfter: at.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(der)
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(4242), Subject: pkix.Name{CommonName: "billing-partner"},
		NotBefore: at.Add(-time.Hour), NotAfter: at.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err = x509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return keyPair{caCert, caKey}, keyPair{cert, crypto.Signer(key)}
}

// TestInteropIssuerSerialFromXmlsec1: xmlsec1 signs with an
// X509IssuerSerial KeyInfo, writing the issuer as RFC 2253 from the
// certificate's own encoding (as WSS4J does with Java's X500Principal);
// Gatehouse finds the pinned certificate by that name.
func TestInteropIssuerSerialFromXmlsec1(t *testing.T) {
	xmlsec1 := need(t, "xmlsec1")
	at := time.Now().UTC().Truncate(time.Second)
	_, signer := reorderedCA(t, at)
	dir := t.TempDir()
	keyFile, certFile := writePEM(t, dir, signer)
	tmpl := strings.NewReplacer(
		"CREATED", at.Format(time.RFC3339), "EXPIRES", at.Add(5*time.Minute).Format(time.RFC3339),
		"<ds:X509Data><ds:X509Certificate/></ds:X509Data>", "<ds:X509Data><ds:X509IssuerSerial/></ds:X509Data>",
	).Replace(xmlsec1Template)
	if !strings.Contains(tmpl, "X509IssuerSerial") {
		t.Fatal("template has no X509IssuerSerial")
	}
	tmplFile := filepath.Join(dir, "template.xml")
	if err := os.WriteFile(tmplFile, []byte(tmpl), 0o644); err != nil {
		t.Fatal(err)
	}
	out := run(t, nil, xmlsec1, "--sign", "--privkey-pem", keyFile+","+certFile,
		"--id-attr:Id", bodyIDAttr, "--id-attr:Id", timestampIDAttr, tmplFile)

	m := regexp.MustCompile(`<ds:X509IssuerName>([^<]*)</ds:X509IssuerName>`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("xmlsec1 wrote no X509IssuerName:\n%s", out)
	}
	written := string(m[1])
	const want = `C=DE,O=Partner\, Inc.,OU=Trust Services,CN=Partner Issuing CA,emailAddress=pki@partner.example`
	if written != want {
		t.Fatalf("xmlsec1 wrote the issuer %q, the test expects %q", written, want)
	}
	if written == signer.cert.Issuer.String() {
		t.Fatalf("the issuer %q renders the same in Go's order: the test proves nothing", written)
	}
	if got := dn.Issuer(signer.cert); got != written {
		t.Errorf("dn.Issuer = %q, xmlsec1 wrote %q", got, written)
	}

	vr := &Verifier{Trust: NewTrustStore(nil, []*x509.Certificate{signer.cert}), Clock: func() time.Time { return at }, Policy: strictPolicy()}
	v, err := vr.Verify(parse(t, string(out)))
	if err != nil {
		t.Fatalf("xmlsec1's IssuerSerial message refused: %v\n%s", err, out)
	}
	if v.Signer == nil || !v.Signer.Certificate.Equal(signer.cert) {
		t.Errorf("signer %+v, want the pinned certificate", v.Signer)
	}

	// Another serial, or the same serial of another issuer, finds nothing.
	for name, msg := range map[string][]byte{
		"serial": bytes.Replace(out, []byte(">4242<"), []byte(">4243<"), 1),
		"issuer": bytes.Replace(out, []byte("OU=Trust Services"), []byte("OU=Trust Service"), 1),
		"order":  bytes.Replace(out, []byte(written), []byte(`C=DE,O=Partner\, Inc.,OU=Trust Services,emailAddress=pki@partner.example,CN=Partner Issuing CA`), 1),
	} {
		if bytes.Equal(msg, out) {
			t.Fatalf("%s: nothing replaced", name)
		}
		if _, err := vr.Verify(parse(t, string(msg))); err == nil || faultCode(t, err) != "SecurityTokenUnavailable" {
			t.Errorf("other %s: %v", name, err)
		}
	}
}

// TestIssuerSerialNames: the forms of one issuer name that other stacks
// write all find the certificate; other names do not.
func TestIssuerSerialNames(t *testing.T) {
	at := now
	_, signer := reorderedCA(t, at)
	for _, tt := range []struct {
		issuer string
		found  bool
	}{
		{`C=DE,O=Partner\, Inc.,OU=Trust Services,CN=Partner Issuing CA,emailAddress=pki@partner.example`, true},
		// Java's X500Principal.getName() knows no emailAddress: dotted OID, #hex value.
		{`C=DE,O=Partner\, Inc.,OU=Trust Services,CN=Partner Issuing CA,1.2.840.113549.1.9.1=#1613706b6940706172746e65722e6578616d706c65`, true},
		{`c=de, O="Partner, Inc.", OU=Trust  Services, CN=partner issuing ca, E=PKI@partner.example`, true},
		{`2.5.4.6=DE;o=Partner\2C Inc.;ou=Trust Services;2.5.4.3=Partner Issuing CA;emailAddress=pki@partner.example`, true},
		{signer.cert.Issuer.String(), false}, // Go's order
		{`C=DE,O=Partner\, Inc.,OU=Trust Services,CN=Partner Issuing CA`, false},
		{`C=DE,O=Partner\, Inc.,OU=Trust Services+CN=Partner Issuing CA,emailAddress=pki@partner.example`, false},
		{`C=DE,O=Partner,O=Inc.,OU=Trust Services,CN=Partner Issuing CA,emailAddress=pki@partner.example`, false},
	} {
		in, err := dn.Parse(tt.issuer)
		if err != nil {
			t.Fatal(err)
		}
		got := NewTrustStore(nil, []*x509.Certificate{signer.cert}).lookupIssuerSerial(in, big.NewInt(4242)) != nil
		if got != tt.found {
			t.Errorf("issuer %q: found %v, want %v", tt.issuer, got, tt.found)
		}
	}
}
