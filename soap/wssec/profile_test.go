package wssec

import (
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/soap"
)

// Interop forms of WSS4J/CXF, node-soap and .NET-era stacks, signed by
// python-xmlsec (testdata/xmlsec_sign.py): enveloped-signature before
// exclusive C14N, SAML token profile key references (STR KeyIdentifier
// #SAMLID / #SAMLAssertionID, Reference #SAMLID), the STR Dereference
// Transform over an assertion, and KeyIdentifier references into a trust
// store's known signers.

const (
	xpathTransform  = "http://www.w3.org/TR/1999/REC-xpath-19991116"
	base64Transform = "http://www.w3.org/2000/09/xmldsig#base64"
)

// TestEnvelopedSignatureTransform: enveloped-signature, then exclusive
// C14N, as node-soap writes it, is accepted (a no-op when the signature is
// not inside the referenced element, the signature removed when it is);
// every other transform chain is still refused.
func TestEnvelopedSignatureTransform(t *testing.T) {
	p := newPKI(t)
	ts := timestampXML("TS", now, 5*time.Minute)
	msg := hostileEnvelope(ts, "", "")

	t.Run("body and timestamp", func(t *testing.T) {
		out := pySign(t, p.rsa, msg, []string{"--enveloped"}, "Body", "TS")
		if !strings.Contains(out, AlgEnveloped) {
			t.Fatalf("no enveloped-signature transform in\n%s", out)
		}
		env := parse(t, out)
		v, err := verifier(p, strictPolicy()).Verify(env)
		if err != nil {
			t.Fatalf("refused: %v\n%s", err, out)
		}
		if v.Signer == nil || !v.Signer.Covers(env.Body) {
			t.Fatal("the Body is not signed")
		}
		_, err = verifier(p, strictPolicy()).Verify(parse(t, replaceOnce(t, out, "<p:Id>42</p:Id>", "<p:Id>43</p:Id>")))
		wantRefused(t, err, "FailedCheck", "digest")
	})
	t.Run("the Security header itself", func(t *testing.T) {
		// The one target that contains the signature: the transform takes
		// the signature out of what is digested.
		in := replaceOnce(t, msg, `<wsse:Security soap:mustUnderstand="1">`, `<wsse:Security soap:mustUnderstand="1" wsu:Id="Sec">`)
		out := pySign(t, p.rsa, in, []string{"--enveloped"}, "Body", "TS", "Sec")
		env := parse(t, out)
		v, err := verifier(p, strictPolicy()).Verify(env)
		if err != nil {
			t.Fatalf("refused: %v\n%s", err, out)
		}
		if !v.Signed(v.Security) {
			t.Error("the Security header is not recorded as signed")
		}
		// Without enveloped-signature the reference covers its own signature.
		out = pySign(t, p.rsa, in, nil, "Body", "TS", "Sec")
		_, err = verifier(p, strictPolicy()).Verify(parse(t, out))
		wantRefused(t, err, "InvalidSecurity", "covers the signature itself")
	})
	t.Run("inclusive C14N after enveloped needs AllowNonBSP", func(t *testing.T) {
		out := pySign(t, p.rsa, msg, []string{"--enveloped", "--transform", "c14n"}, "Body", "TS")
		_, err := verifier(p, strictPolicy()).Verify(parse(t, out))
		wantRefused(t, err, "UnsupportedAlgorithm", "BSP R5412")
		pol := strictPolicy()
		pol.AllowNonBSP = true
		if _, err := verifier(p, pol).Verify(parse(t, out)); err != nil {
			t.Fatalf("refused with AllowNonBSP: %v", err)
		}
	})
	for _, tc := range []struct {
		name string
		opts []string
	}{
		{"XPath before exclusive C14N", []string{"--prepend-transform", xpathTransform}},
		{"XPath after enveloped and exclusive C14N", []string{"--enveloped", "--append-transform", xpathTransform}},
		{"enveloped after exclusive C14N", []string{"--append-transform", AlgEnveloped}},
		{"enveloped twice", []string{"--enveloped", "--prepend-transform", AlgEnveloped}},
		{"enveloped alone", []string{"--enveloped", "--transform", "none"}},
		{"enveloped then base64", []string{"--enveloped", "--transform", "none", "--append-transform", base64Transform}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := pySign(t, p.rsa, msg, tc.opts, "Body", "TS")
			_, err := verifier(p, strictPolicy()).Verify(parse(t, out))
			wantRefused(t, err, "UnsupportedAlgorithm", "")
		})
	}
}

// fakeTokenKeys stands in for samlsts: it confirms cert for every
// assertion it is asked about (or fails with err) and records them.
type fakeTokenKeys struct {
	cert  *x509.Certificate
	err   error
	asked []*etree.Element
}

func (f *fakeTokenKeys) HolderKey(a *etree.Element) (*x509.Certificate, error) {
	f.asked = append(f.asked, a)
	return f.cert, f.err
}

const (
	saml2Assertion = `<saml2:Assertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a1" Version="2.0" IssueInstant="2026-11-23T09:59:00Z">` +
		`<saml2:Issuer>urn:example:idp</saml2:Issuer><saml2:Subject><saml2:NameID>alice@example.com</saml2:NameID></saml2:Subject></saml2:Assertion>`
	// saml2Unprefixed uses the default namespace: exclusive C14N declares
	// it on the apex itself.
	saml2Unprefixed = `<Assertion xmlns="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a1" Version="2.0" IssueInstant="2026-11-23T09:59:00Z">` +
		`<Issuer>urn:example:idp</Issuer><Subject><NameID>alice@example.com</NameID></Subject></Assertion>`
	saml11Assertion = `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:1.0:assertion" AssertionID="_s1" MajorVersion="1" MinorVersion="1" Issuer="urn:example:idp" IssueInstant="2026-11-23T09:59:00Z">` +
		`<saml:AuthenticationStatement AuthenticationMethod="urn:oasis:names:tc:SAML:1.0:am:password" AuthenticationInstant="2026-11-23T09:59:00Z"><saml:Subject><saml:NameIdentifier>alice</saml:NameIdentifier></saml:Subject></saml:AuthenticationStatement></saml:Assertion>`
	samlTokenType2  = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV2.0"
	samlTokenType11 = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1"
)

// TestSAMLKeyReferences: a signature whose KeyInfo names a holder-of-key
// assertion of the Security header (SAML Token Profile 1.1) verifies with
// the key TokenKeys confirms, without the trust store, and records the
// assertion; every other form is refused with the right fault.
func TestSAMLKeyReferences(t *testing.T) {
	p := newPKI(t)
	holder := p.selfie // self-signed: not in the trust store
	ts := timestampXML("TS", now, 5*time.Minute)
	for _, tc := range []struct {
		name      string
		security  string // after the Timestamp
		headers   string
		signer    keyPair
		opts      []string
		tokenKeys TokenKeys
		code      string // "" accepted
		reason    string
	}{
		{name: "KeyIdentifier SAMLID", security: saml2Assertion, opts: []string{"--key-ref", "samlid:_a1"}},
		{name: "KeyIdentifier SAMLID with TokenType", security: saml2Assertion, opts: []string{"--key-ref", "samlid:_a1", "--token-type", samlTokenType2}},
		{name: "Reference SAMLID", security: saml2Assertion, opts: []string{"--key-ref", "samlref:_a1", "--token-type", samlTokenType2}},
		{name: "KeyIdentifier SAMLAssertionID", security: saml11Assertion, opts: []string{"--key-ref", "samlassertionid:_s1", "--token-type", samlTokenType11}},
		{name: "TokenType of the other version", security: saml2Assertion, opts: []string{"--key-ref", "samlid:_a1", "--token-type", samlTokenType11},
			code: "UnsupportedSecurityToken", reason: "TokenType"},
		{name: "SAMLAssertionID naming a SAML 2.0 assertion", security: saml2Assertion, opts: []string{"--key-ref", "samlassertionid:_a1"},
			code: "SecurityTokenUnavailable", reason: "no SAML assertion with AssertionID"},
		{name: "unknown assertion ID", security: saml2Assertion, opts: []string{"--key-ref", "samlid:_other"},
			code: "SecurityTokenUnavailable", reason: "no SAML assertion with ID"},
		{name: "assertion outside the Security header", headers: `<x:Tokens xmlns:x="urn:example">` + saml2Assertion + `</x:Tokens>`, opts: []string{"--key-ref", "samlref:_a1"},
			code: "SecurityTokenUnavailable", reason: "not a SAML 2.0 assertion of this Security header"},
		{name: "KeyIdentifier to an assertion outside the Security header", headers: `<x:Tokens xmlns:x="urn:example">` + saml2Assertion + `</x:Tokens>`, opts: []string{"--key-ref", "samlid:_a1"},
			code: "SecurityTokenUnavailable", reason: "no SAML assertion with ID"},
		{name: "no TokenKeys", security: saml2Assertion, opts: []string{"--key-ref", "samlid:_a1"}, tokenKeys: TokenKeys(nil),
			code: "UnsupportedSecurityToken", reason: "verifies no SAML assertions"},
		{name: "assertion not verified", security: saml2Assertion, opts: []string{"--key-ref", "samlid:_a1"}, tokenKeys: &fakeTokenKeys{err: errors.New("issuer not trusted")},
			code: "FailedAuthentication", reason: "issuer not trusted"},
		{name: "Body signed by another key", security: saml2Assertion, signer: p.rsa, opts: []string{"--key-ref", "samlid:_a1"},
			code: "FailedCheck", reason: "SignatureValue"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			signer := tc.signer
			if signer.cert == nil {
				signer = holder
			}
			fake := &fakeTokenKeys{cert: holder.cert}
			var keys TokenKeys = fake
			if tc.tokenKeys != nil || strings.HasPrefix(tc.name, "no TokenKeys") {
				keys = tc.tokenKeys
			}
			out := pySign(t, signer, hostileEnvelope(ts+tc.security, tc.headers, ""), tc.opts, "Body", "TS")
			env := parse(t, out)
			vr := &Verifier{Trust: p.trust(), TokenKeys: keys, Clock: clock, Policy: strictPolicy()}
			v, err := vr.Verify(env)
			if tc.code != "" {
				wantRefused(t, err, tc.code, tc.reason)
				return
			}
			if err != nil {
				t.Fatalf("refused: %v\n%s", err, out)
			}
			if len(v.Assertions) != 1 || v.Signer == nil || v.Signer.Token != v.Assertions[0] {
				t.Fatalf("Signer %+v does not record the assertion", v.Signer)
			}
			if !v.Signer.Certificate.Equal(holder.cert) || !v.Signer.Covers(env.Body) {
				t.Error("the Body's signer is not the holder key")
			}
			if len(fake.asked) != 1 || fake.asked[0] != v.Assertions[0] {
				t.Errorf("TokenKeys asked about %v, want the assertion once", fake.asked)
			}
		})
	}
}

// TestKeyIdentifierValueTypeFirst: a KeyIdentifier of an unknown ValueType
// is an unsupported token, whatever its value (it used to be decoded as
// base64 first: "illegal base64 data", InvalidSecurity).
func TestKeyIdentifierValueTypeFirst(t *testing.T) {
	p := newPKI(t)
	msg := hostileEnvelope(timestampXML("TS", now, 5*time.Minute)+saml2Assertion, "", "")
	out := pySign(t, p.selfie, msg, []string{"--key-ref", "samlid:_a1"}, "Body", "TS")
	out = replaceOnce(t, out, valueTypeSAMLID, "urn:example:token#NotBase64")
	vr := &Verifier{Trust: p.trust(), TokenKeys: &fakeTokenKeys{cert: p.selfie.cert}, Clock: clock, Policy: strictPolicy()}
	_, err := vr.Verify(parse(t, out))
	wantRefused(t, err, "UnsupportedSecurityToken", "KeyIdentifier ValueType")
}

// TestSTRTransform: a Reference through the STR Dereference Transform to a
// SecurityTokenReference of the Security header covers the assertion it
// names (WSS4J's way of signing a sender-vouches assertion): SignerOf the
// assertion is the Body's signature.
func TestSTRTransform(t *testing.T) {
	p := newPKI(t)
	ts := timestampXML("TS", now, 5*time.Minute)
	str := `<wsse:SecurityTokenReference xmlns:wsse11="` + soap.NSWSSE1 + `" wsu:Id="STR-1" wsse11:TokenType="` + samlTokenType2 + `">` +
		`<wsse:KeyIdentifier ValueType="` + valueTypeSAMLID + `">_a1</wsse:KeyIdentifier></wsse:SecurityTokenReference>`
	for name, assertion := range map[string]string{"prefixed": saml2Assertion, "default namespace": saml2Unprefixed} {
		t.Run(name, func(t *testing.T) {
			out := pySign(t, p.rsa, hostileEnvelope(ts+assertion+str, "", ""), []string{"--str-ref", "STR-1"}, "Body", "TS")
			env := parse(t, out)
			v, err := verifier(p, strictPolicy()).Verify(env)
			if err != nil {
				t.Fatalf("refused: %v\n%s", err, out)
			}
			if len(v.Assertions) != 1 || v.SignerOf(v.Assertions[0]) != v.Signer || v.Signer == nil {
				t.Fatal("the assertion is not signed by the Body's signer")
			}
			tampered := replaceOnce(t, out, "alice@example.com", "mallory@example.com")
			_, err = verifier(p, strictPolicy()).Verify(parse(t, tampered))
			wantRefused(t, err, "FailedCheck", "digest")
		})
	}
	skiSTR := `<wsse:SecurityTokenReference wsu:Id="STR-2"><wsse:KeyIdentifier ValueType="` + valueTypeSKI + `" EncodingType="` + encodingBase64 + `">CgECAw==</wsse:KeyIdentifier></wsse:SecurityTokenReference>`
	for _, tc := range []struct {
		name, ref string
		opts      []string
		code      string
		reason    string
	}{
		{"naming the Body", "Body", nil, "InvalidSecurity", "not a SecurityTokenReference"},
		{"naming an STR to a certificate", "STR-2", nil, "UnsupportedSecurityToken", "other than a SAML assertion"},
		{"inclusive C14N parameter", "STR-1", []string{"--str-c14n", "c14n"}, "UnsupportedAlgorithm", "not exclusive C14N"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := pySign(t, p.rsa, hostileEnvelope(ts+saml2Assertion+str+skiSTR, "", ""), append([]string{"--str-ref", tc.ref}, tc.opts...), "Body", "TS")
			_, err := verifier(p, strictPolicy()).Verify(parse(t, out))
			wantRefused(t, err, tc.code, tc.reason)
		})
	}
}

// TestKnownSigners: KeyIdentifier (subject key identifier, thumbprint) and
// IssuerSerial references find a trust store's known signers, which must
// still chain to its CAs; with CAs only, nothing is found.
func TestKnownSigners(t *testing.T) {
	p := newPKI(t)
	msg := hostileEnvelope(timestampXML("TS", now, 5*time.Minute), "", "")
	pool := x509.NewCertPool()
	pool.AddCert(p.ca.cert)
	for _, tc := range []struct {
		name   string
		signer keyPair
		ref    string
		trust  *TrustStore
		code   string
		reason string
	}{
		{"SKI of a known signer", p.rsa, "ski", NewTrustStore(pool, nil, p.rsa.cert), "", ""},
		{"thumbprint of a known signer", p.rsa, "thumb", NewTrustStore(pool, nil, p.ecdsa.cert, p.rsa.cert), "", ""},
		{"IssuerSerial of a known signer", p.rsa, "issuerserial", NewTrustStore(pool, nil, p.rsa.cert), "", ""},
		{"pinned, as before", p.selfie, "ski", NewTrustStore(nil, []*x509.Certificate{p.selfie.cert}), "", ""},
		{"CA only", p.rsa, "ski", NewTrustStore(pool, nil), "SecurityTokenUnavailable", "no configured certificate matches"},
		{"known signer that does not chain to a CA", p.selfie, "ski", NewTrustStore(pool, nil, p.selfie.cert), "FailedAuthentication", "not trusted"},
		{"expired known signer", p.old, "thumb", NewTrustStore(pool, nil, p.old.cert), "FailedAuthentication", "not trusted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := pySign(t, tc.signer, msg, []string{"--key-ref", tc.ref}, "Body", "TS")
			vr := &Verifier{Trust: tc.trust, Clock: clock, Policy: strictPolicy()}
			v, err := vr.Verify(parse(t, out))
			if tc.code != "" {
				wantRefused(t, err, tc.code, tc.reason)
				return
			}
			if err != nil {
				t.Fatalf("refused: %v\n%s", err, out)
			}
			if !v.Signer.Certificate.Equal(tc.signer.cert) || v.Signer.Token != nil {
				t.Errorf("signer %q, token %v", v.Signer.Certificate.Subject, v.Signer.Token)
			}
		})
	}
}
