package dn

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseAndEqual(t *testing.T) {
	tests := []struct {
		name, a, b string
		equal      bool
	}{
		{"same", "CN=teller-app,OU=Retail,O=Demo Bank", "CN=teller-app,OU=Retail,O=Demo Bank", true},
		{"type case", "cn=teller-app,ou=Retail,o=Demo Bank", "CN=teller-app,OU=Retail,O=Demo Bank", true},
		{"value case", "CN=TELLER-APP,OU=retail,O=demo bank", "CN=teller-app,OU=Retail,O=Demo Bank", true},
		{"spaces around separators", " CN = teller-app , OU=Retail ;O=Demo Bank ", "CN=teller-app,OU=Retail,O=Demo Bank", true},
		{"inner spaces collapse", "CN=Demo   Bank CA", "CN=Demo Bank CA", true},
		{"inner space matters", "CN=DemoBank", "CN=Demo Bank", false},
		{"order matters", "O=Demo Bank,CN=teller-app", "CN=teller-app,O=Demo Bank", false},
		{"an RDN more", "CN=teller-app,OU=Retail,O=Demo Bank", "CN=teller-app,O=Demo Bank", false},
		{"other value", "CN=teller-app,O=Demo Bank", "CN=teller-app,O=Not Demo Bank", false},
		{"other type", "CN=Retail,O=Demo Bank", "OU=Retail,O=Demo Bank", false},
		{"OID for name", "2.5.4.3=teller-app,2.5.4.10=Demo Bank", "CN=teller-app,O=Demo Bank", true},
		{"long names", "commonName=a,organizationalUnitName=b,organizationName=c,countryName=DE", "CN=a,OU=b,O=c,C=DE", true},
		{"E and emailAddress", "E=ops@example.org,O=x", "emailAddress=OPS@example.org,O=x", true},
		{"email as Java writes it", "1.2.840.113549.1.9.1=#160f6f7073406578616d706c652e6f7267,O=x", "emailAddress=ops@example.org,O=x", true},
		{"DC and UID", "UID=jdoe,DC=example,DC=com", "userid=JDoe,domainComponent=Example,dc=COM", true},
		{"SERIALNUMBER", "SERIALNUMBER=1234,CN=x", "serialNumber=1234,CN=x", true},
		{"hex value of a known type", "CN=#0c0161", "CN=a", true},
		{"printable and utf8 are one string", "CN=#130161", "CN=#0c0161", true},
		{"escaped comma", `CN=Doe\, John,O=x`, `CN=Doe\2C John,O=x`, true},
		{"escaped comma is not a separator", `CN=Doe\, John,O=x`, `CN=Doe,CN=John,O=x`, false},
		{"escaped plus", `CN=a\+b,O=x`, `CN=a+CN=b,O=x`, false},
		{"escapes", `CN=\"q\" \<x\> \; \\,O=x`, `CN=\22q\22 \3Cx\3E \3B \5C,O=x`, true},
		{"hex pairs make UTF-8", `CN=Jos\C3\A9,O=x`, `CN=José,O=x`, true},
		{"unicode case", `CN=JOSÉ`, `CN=josé`, true},
		{"quoted (RFC 2253)", `CN="Doe, John",O=x`, `CN=Doe\, John,O=x`, true},
		{"multi-valued RDN is a set", "CN=a+UID=b,O=x", "UID=b+CN=a,O=x", true},
		{"multi-valued RDN is not two RDNs", "CN=a+UID=b,O=x", "CN=a,UID=b,O=x", false},
		{"multi-valued RDN member missing", "CN=a+UID=b,O=x", "CN=a,O=x", false},
		{"unknown OID compares exactly", "1.2.3.4=#0c0141", "1.2.3.4=#0c0161", false},
		{"unknown OID same", "1.2.3.4=#0C0141", "1.2.3.4=#0c0141", true},
		{"escaped leading space is trimmed for matching", `CN=\ a`, "CN=a", true},
		{"empty", "", "", true},
		{"empty is not a name", "", "CN=a", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Parse(tt.a)
			if err != nil {
				t.Fatal(err)
			}
			b, err := Parse(tt.b)
			if err != nil {
				t.Fatal(err)
			}
			if got := a.Equal(b); got != tt.equal {
				t.Errorf("Equal(%q, %q) = %v, want %v (keys %q, %q)", tt.a, tt.b, got, tt.equal, a.Key(), b.Key())
			}
			if got := b.Equal(a); got != tt.equal {
				t.Errorf("Equal(%q, %q) = %v, want %v", tt.b, tt.a, got, tt.equal)
			}
		})
	}
}

func TestParseStructure(t *testing.T) {
	d, err := Parse(`CN=Doe\, John+UID=jd,OU=R\2bD,O=\#1 Bank\ ,1.2.3.4=#0c0161,DC=com`)
	if err != nil {
		t.Fatal(err)
	}
	oid := func(a ...int) asn1.ObjectIdentifier { return asn1.ObjectIdentifier(a) }
	want := DN{
		{{Type: "DC", OID: oid(0, 9, 2342, 19200300, 100, 1, 25), Value: "com"}},
		{{Type: "1.2.3.4", OID: oid(1, 2, 3, 4), BER: []byte{0x0c, 1, 'a'}}},
		{{Type: "O", OID: oid(2, 5, 4, 10), Value: "#1 Bank "}},
		{{Type: "OU", OID: oid(2, 5, 4, 11), Value: "R+D"}},
		{{Type: "UID", OID: oid(0, 9, 2342, 19200300, 100, 1, 1), Value: "jd"}, {Type: "CN", OID: oid(2, 5, 4, 3), Value: "Doe, John"}},
	}
	if !reflect.DeepEqual(d, want) {
		t.Fatalf("got  %#v\nwant %#v", d, want)
	}
	if got, want := d.String(), `CN=Doe\, John+UID=jd,OU=R\+D,O=\#1 Bank\ ,1.2.3.4=#0C0161,DC=com`; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	for _, s := range []string{
		"CN", "CN=a,", ",CN=a", "CN=a,,O=b", "=a", "CN=a+", "C N=a", "CN=a\\", `CN=a\x`, `CN=a\4`,
		`CN="a`, `CN="a"b`, `CN=a"b`, "CN=a\x00b", `CN=\ff`, "CN=#", "CN=#0c", "CN=#0c0161ff", "CN=#zz",
		"foo=#0c0161", "1=a", "1.=a", "1..2=a", "01.2=a", "3.1=a", "1.40=a", "a.b=c", "-a=b", "1.2.a=b",
	} {
		if d, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) = %#v, want an error", s, d)
		}
	}
}

func TestKey(t *testing.T) {
	if got := Key("spiffe://demo.example/app"); got != "spiffe://demo.example/app" {
		t.Errorf("Key of a SPIFFE ID = %q", got)
	}
	if Key("cn=A, o=B") != Key("CN=a,O=b") {
		t.Error("two spellings of one DN have different keys")
	}
	if Key("CN=a,O=b") == Key("CN=a,O=c") {
		t.Error("two DNs have one key")
	}
}

// name encodes a Name from RDNs given in DER order (most significant first).
func name(t *testing.T, rdns ...[]pkix.AttributeTypeAndValue) []byte {
	t.Helper()
	var seq pkix.RDNSequence
	for _, r := range rdns {
		seq = append(seq, pkix.RelativeDistinguishedNameSET(r))
	}
	der, err := asn1.Marshal(seq)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func atv(oid asn1.ObjectIdentifier, v any) pkix.AttributeTypeAndValue {
	return pkix.AttributeTypeAndValue{Type: oid, Value: v}
}

var (
	oidCN    = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidC     = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidO     = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOU    = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidUID   = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}
	oidDC    = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}
	oidEmail = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
)

// certificate makes a self-signed certificate whose subject and issuer are
// the DER name raw.
func certificate(t *testing.T, raw []byte) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), RawSubject: raw,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// opensslSubject prints the certificate's subject with openssl, the
// independent reference.
func opensslSubject(t *testing.T, c *x509.Certificate, nameopt string) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatalf("openssl is needed for this test (apt-get install openssl): %v", err)
	}
	file := filepath.Join(t.TempDir(), "c.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(path, "x509", "-in", file, "-noout", "-subject", "-nameopt", nameopt).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	s, ok := strings.CutPrefix(strings.TrimRight(string(out), "\n"), "subject=")
	if !ok {
		t.Fatalf("openssl printed %q", out)
	}
	return s
}

// TestSubjectAsOpenSSLPrintsIt renders names that Go's pkix.Name.String()
// gets wrong (CN encoded first, multi-valued RDNs, DC, UID, emailAddress,
// unknown OIDs, escapes) and compares them with openssl's RFC 2253 output.
func TestSubjectAsOpenSSLPrintsIt(t *testing.T) {
	tests := []struct {
		name    string
		raw     []byte
		nameopt string
		want    string // as openssl prints it (checked by the test)
	}{
		{"CN first in DER", name(t,
			[]pkix.AttributeTypeAndValue{atv(oidCN, "teller-app")},
			[]pkix.AttributeTypeAndValue{atv(oidOU, "Retail")},
			[]pkix.AttributeTypeAndValue{atv(oidO, "Demo Bank")},
			[]pkix.AttributeTypeAndValue{atv(oidC, "DE")},
		), "RFC2253", "C=DE,O=Demo Bank,OU=Retail,CN=teller-app"},
		{"Go order", name(t,
			[]pkix.AttributeTypeAndValue{atv(oidC, "DE")},
			[]pkix.AttributeTypeAndValue{atv(oidO, "Demo Bank")},
			[]pkix.AttributeTypeAndValue{atv(oidOU, "Retail")},
			[]pkix.AttributeTypeAndValue{atv(oidCN, "teller-app")},
		), "RFC2253", "CN=teller-app,OU=Retail,O=Demo Bank,C=DE"},
		{"DC, UID, email, multi-valued", name(t,
			[]pkix.AttributeTypeAndValue{atv(oidDC, "com")},
			[]pkix.AttributeTypeAndValue{atv(oidDC, "example")},
			[]pkix.AttributeTypeAndValue{atv(oidCN, "Doe, John"), atv(oidUID, "jdoe")},
			[]pkix.AttributeTypeAndValue{atv(oidEmail, "jdoe@example.com")},
		), "RFC2253", `emailAddress=jdoe@example.com,UID=jdoe+CN=Doe\, John,DC=example,DC=com`},
		{"escapes", name(t,
			[]pkix.AttributeTypeAndValue{atv(oidO, "#1 Bank ")},
			[]pkix.AttributeTypeAndValue{atv(oidOU, `a+b;c<d>"e"\f=g`)},
			[]pkix.AttributeTypeAndValue{atv(oidCN, " lead\ttab")},
		), "RFC2253", `CN=\ lead\09tab,OU=a\+b\;c\<d\>\"e\"\\f=g,O=\#1 Bank\ `},
		{"unknown OID", name(t,
			[]pkix.AttributeTypeAndValue{atv(asn1.ObjectIdentifier{1, 2, 3, 4}, "hello")},
			[]pkix.AttributeTypeAndValue{atv(oidCN, "x")},
		), "RFC2253", "CN=x,1.2.3.4=#130568656C6C6F"},
		{"UTF-8", name(t,
			[]pkix.AttributeTypeAndValue{atv(oidO, "Banco Ñandú")},
			[]pkix.AttributeTypeAndValue{atv(oidCN, "José")},
		), "RFC2253,-esc_msb", "CN=José,O=Banco Ñandú"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := certificate(t, tt.raw)
			ref := opensslSubject(t, c, tt.nameopt)
			if ref != tt.want {
				t.Fatalf("openssl prints %q, the test expects %q", ref, tt.want)
			}
			if got := Subject(c); got != ref {
				t.Errorf("Subject = %q, openssl prints %q (Go's pkix.Name.String() is %q)", got, ref, c.Subject.String())
			}
			if got := Issuer(c); got != ref {
				t.Errorf("Issuer = %q, openssl prints %q", got, ref)
			}
			d, err := Parse(ref)
			if err != nil {
				t.Fatal(err)
			}
			fromCert, err := FromDER(c.RawSubject)
			if err != nil {
				t.Fatal(err)
			}
			if !d.Equal(fromCert) {
				t.Errorf("openssl's string %q does not match the certificate's name (keys %q, %q)", ref, d.Key(), fromCert.Key())
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"CN=teller-app,OU=Retail,O=Demo Bank", `CN=Doe\, John+UID=jd,O=\#1 Bank\ `, "1.2.3.4=#0c0161",
		`CN="a, b" , O = x ; C=DE`, `CN=Jos\C3\A9`, "emailAddress=a@b,E=c@d", "CN=#130161", "", `CN=\ \ `,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d1, err := Parse(s)
		if err != nil {
			return
		}
		s2 := d1.String()
		d2, err := Parse(s2)
		if err != nil {
			t.Fatalf("Parse(%q) rendered as %q, which does not parse: %v", s, s2, err)
		}
		if !reflect.DeepEqual(d1, d2) {
			t.Fatalf("Parse(%q) = %#v rendered as %q parses as %#v", s, d1, s2, d2)
		}
		if d2.String() != s2 {
			t.Fatalf("rendering is not stable: %q, then %q", s2, d2.String())
		}
		if !d1.Equal(d2) {
			t.Fatalf("%q and %q do not match", s, s2)
		}
	})
}

func FuzzFromDER(f *testing.F) {
	f.Add([]byte{0x30, 0x00})
	f.Add(mustMarshal(pkix.Name{CommonName: "a,b", Organization: []string{"#x "}, Country: []string{"DE"}}.ToRDNSequence()))
	f.Fuzz(func(t *testing.T, der []byte) {
		d1, err := FromDER(der)
		if err != nil {
			return
		}
		s := d1.String()
		d2, err := Parse(s)
		if err != nil {
			t.Fatalf("name rendered as %q does not parse: %v", s, err)
		}
		if !reflect.DeepEqual(d1, d2) && !(len(d1) == 0 && len(d2) == 0) {
			t.Fatalf("name %#v rendered as %q parses as %#v", d1, s, d2)
		}
	})
}

func mustMarshal(v any) []byte {
	b, err := asn1.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// The memo of renderings returns what rendering the bytes gives, for the
// subject and the issuer alike, and stays bounded.
func TestRenderMemo(t *testing.T) {
	a := name(t, []pkix.AttributeTypeAndValue{atv(asn1.ObjectIdentifier{2, 5, 4, 3}, "alpha, beta")})
	b := name(t, []pkix.AttributeTypeAndValue{atv(asn1.ObjectIdentifier{2, 5, 4, 10}, "Org+1")})
	want := func(der []byte) string {
		d, err := FromDER(der)
		if err != nil {
			t.Fatal(err)
		}
		return d.String()
	}
	for i := 0; i < 3; i++ {
		c := &x509.Certificate{RawSubject: a, RawIssuer: b}
		if got := Subject(c); got != want(a) || got != `CN=alpha\, beta` {
			t.Fatalf("subject %q", got)
		}
		if got := Issuer(c); got != want(b) {
			t.Fatalf("issuer %q, want %q", got, want(b))
		}
	}
	for i := 0; i < maxRendered+10; i++ {
		der := name(t, []pkix.AttributeTypeAndValue{atv(asn1.ObjectIdentifier{2, 5, 4, 3}, fmt.Sprintf("n%d", i))})
		if got := Subject(&x509.Certificate{RawSubject: der}); got != fmt.Sprintf("CN=n%d", i) {
			t.Fatalf("subject %q", got)
		}
	}
	rendered.RLock()
	n := len(rendered.m)
	rendered.RUnlock()
	if n > maxRendered {
		t.Errorf("memo holds %d renderings, bound %d", n, maxRendered)
	}
}
