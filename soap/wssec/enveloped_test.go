package wssec

import (
	"crypto/x509"
	"errors"
	"strings"
	"testing"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

const envelopedToken = `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:xs="http://www.w3.org/2001/XMLSchema" ID="_a1" Version="2.0">` +
	`<saml:Issuer>https://sts.example</saml:Issuer><saml:Subject><saml:NameID>alice<!-- split -->@example.com</saml:NameID></saml:Subject>` +
	`<saml:AttributeStatement><saml:Attribute Name="role"><saml:AttributeValue xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">teller &amp; clerk</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>` +
	`</saml:Assertion>`

// envelopedDoc signs the token inside a SOAP message (as it travels) and
// returns the parsed assertion and its signature.
func envelopedDoc(t testing.TB, kp keyPair, prefixes string, edit func(string) string) (*etree.Element, *etree.Element) {
	t.Helper()
	env := parse(t, wrapHeader(envelopedToken))
	a := env.Header.ChildElements()[0]
	if err := SignEnveloped(a, "ID", 1, kp.key, kp.cert, prefixes); err != nil {
		t.Fatal(err)
	}
	out, _ := env.Bytes()
	s := string(out)
	if edit != nil {
		s = edit(s)
	}
	env = parse(t, s)
	a = env.Header.ChildElements()[0]
	sig, err := childNS(a, NSDSig, "Signature")
	if err != nil {
		t.Fatal(err)
	}
	return a, sig
}

func wrapHeader(block string) string {
	return `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header>` + block + `</s:Header><s:Body><p:Op xmlns:p="urn:p"/></s:Body></s:Envelope>`
}

// VerifyEnveloped accepts what goxmldsig accepts and hands back the same
// content (compared in canonical form), read from the verified bytes.
func TestVerifyEnvelopedDifferential(t *testing.T) {
	p := newPKI(t)
	for _, prefixes := range []string{"", "xs", "xs saml"} {
		a, sig := envelopedDoc(t, p.rsa, prefixes, nil)
		got, err := VerifyEnveloped(a, sig, p.rsa.cert, "ID", false)
		if err != nil {
			t.Fatalf("PrefixList %q: %v", prefixes, err)
		}
		vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{p.rsa.cert}})
		vc.IdAttribute = "ID"
		vc.Clock = dsig.NewFakeClockAt(now)
		in := detach(a)
		want, err := vc.Validate(in)
		if err != nil {
			t.Fatalf("goxmldsig: %v", err)
		}
		gc, _ := canonicalizeExc(got, nil, "")
		wc, _ := canonicalizeExc(want, nil, "")
		if string(gc) != string(wc) {
			t.Errorf("PrefixList %q:\n ours      %s\n goxmldsig %s", prefixes, gc, wc)
		}
		// Only signed content: the comment that split the name is gone
		// and the name reads whole from the one text node left.
		nid := got.FindElement("./Subject/NameID")
		if nid == nil || len(nid.Child) != 1 || nid.Text() != "alice@example.com" {
			t.Errorf("NameID read back as %v", nid)
		}
		if _, err := childNS(got, NSDSig, "Signature"); !errors.Is(err, errNotFound) {
			t.Error("the verified element still holds its signature")
		}
	}
	// ECDSA (r‖s), which goxmldsig does not read.
	a, sig := envelopedDoc(t, p.ecdsa, "", nil)
	if _, err := VerifyEnveloped(a, sig, p.ecdsa.cert, "ID", false); err != nil {
		t.Fatalf("ECDSA: %v", err)
	}
}

func TestVerifyEnvelopedRefusals(t *testing.T) {
	p := newPKI(t)
	for _, tc := range []struct {
		name string
		edit func(string) string
		cert *x509.Certificate
		form bool // ErrEnvelopedForm rather than a refusal
	}{
		{name: "content changed", edit: func(s string) string { return strings.Replace(s, "teller &amp; clerk", "admin", 1) }},
		{name: "attribute added", edit: func(s string) string { return strings.Replace(s, `Version="2.0"`, `Version="2.0" Extra="1"`, 1) }},
		{name: "another key", cert: p.ecdsa.cert},
		{name: "digest changed", edit: func(s string) string {
			i := strings.Index(s, "<ds:DigestValue>") + len("<ds:DigestValue>")
			return s[:i] + "A" + s[i+1:]
		}},
		{name: "reference to another ID", edit: func(s string) string { return strings.Replace(s, `URI="#_a1"`, `URI="#_other"`, 1) }},
		{name: "SHA-1 digest", edit: func(s string) string { return strings.Replace(s, AlgSHA256, AlgSHA1, 1) }},
		{name: "a third transform", edit: func(s string) string {
			return strings.Replace(s, `</ds:Transforms>`, `<ds:Transform Algorithm="`+AlgEnveloped+`"/></ds:Transforms>`, 1)
		}},
		{name: "inclusive canonicalization", form: true, edit: func(s string) string {
			return strings.Replace(s, `<ds:CanonicalizationMethod Algorithm="`+AlgExcC14N+`"`, `<ds:CanonicalizationMethod Algorithm="`+AlgC14N10+`"`, 1)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, sig := envelopedDoc(t, p.rsa, "", tc.edit)
			cert := p.rsa.cert
			if tc.cert != nil {
				cert = tc.cert
			}
			_, err := VerifyEnveloped(a, sig, cert, "ID", false)
			if err == nil {
				t.Fatal("accepted")
			}
			if errors.Is(err, ErrEnvelopedForm) != tc.form {
				t.Errorf("error %v", err)
			}
		})
	}
	// The signature must be the signed element's own child.
	a, sig := envelopedDoc(t, p.rsa, "", nil)
	subject := a.FindElement("./Subject")
	sig.Parent().RemoveChild(sig)
	subject.AddChild(sig)
	if _, err := VerifyEnveloped(a, sig, p.rsa.cert, "ID", false); err == nil {
		t.Error("a signature below a child accepted")
	}

}
