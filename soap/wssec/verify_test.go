package wssec

import (
	"bytes"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/internal/dn"
	"github.com/gatehouse/gatehouse/soap"
)

func TestSignVerifyRoundTrip(t *testing.T) {
	p := newPKI(t)
	for _, tc := range []struct {
		name string
		kp   keyPair
		v    soap.Version
	}{
		{"rsa 1.1", p.rsa, soap.V11},
		{"ecdsa 1.1", p.ecdsa, soap.V11},
		{"rsa 1.2", p.rsa, soap.V12},
		{"ecdsa 1.2", p.ecdsa, soap.V12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pol := strictPolicy()
			pol.SignedParts = append(pol.SignedParts, Part{Kind: PartHeader, Name: soap.QName{Space: soap.NSWSA, Local: "To"}})
			env := parse(t, signed(t, tc.kp, tc.v, 0, true))
			v, err := verifier(p, pol).Verify(env)
			if err != nil {
				t.Fatal(err)
			}
			if !v.Signed(env.Body) || !v.Signed(v.Timestamp.Element) || len(v.Signatures) != 1 {
				t.Fatal("Body or Timestamp not reported as signed")
			}
			if v.Signer == nil || !v.Signer.Certificate.Equal(tc.kp.cert) {
				t.Errorf("signer %+v", v.Signer)
			}
			if len(v.ReplayKeys) != 1 || v.ReplayKeys[0].Kind != "sig" || v.ReplayKeys[0].TTL <= 0 {
				t.Errorf("replay keys %+v", v.ReplayKeys)
			}
		})
	}
}

// TestReplayKeyIgnoresEncoding: the replay identity of a signature is its
// canonical SignedInfo and key, so re-encoding SignatureValue (line breaks
// in base64) does not make a replay look new.
func TestReplayKeyIgnoresEncoding(t *testing.T) {
	p := newPKI(t)
	msg := signed(t, p.rsa, soap.V11, 0, false)
	v1, err := verifier(p, strictPolicy()).Verify(parse(t, msg))
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(msg, "<ds:SignatureValue>") + len("<ds:SignatureValue>")
	reencoded := msg[:i+10] + "\n" + msg[i+10:]
	v2, err := verifier(p, strictPolicy()).Verify(parse(t, reencoded))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(v1.ReplayKeys[0].Value, v2.ReplayKeys[0].Value) {
		t.Error("re-encoded SignatureValue gives a different replay key")
	}
}

func TestPolicyWithoutSecurityHeader(t *testing.T) {
	p := newPKI(t)
	env := parse(t, plainEnvelope(soap.V11))
	v, err := verifier(p, Policy{}).Verify(env)
	if err != nil || v.Security != nil || v.Signer != nil || v.UsernameToken != nil {
		t.Fatalf("empty policy: %v %+v", err, v)
	}
	_, err = verifier(p, strictPolicy()).Verify(env)
	if err == nil || faultCode(t, err) != "InvalidSecurity" {
		t.Fatalf("unsigned message under a signing policy: %v", err)
	}
}

// TestSignatureAttacks: each case changes a correctly signed message and
// must be refused with the given WS-Security fault code.
func TestSignatureAttacks(t *testing.T) {
	p := newPKI(t)
	good := signed(t, p.rsa, soap.V11, 0, false)
	tests := []struct {
		name   string
		mutate func(t *testing.T, msg string) string
		pol    func(*Policy)
		want   string
	}{
		{"body modified after signing", func(t *testing.T, m string) string {
			return replaceOnce(t, m, "<p:Id>42</p:Id>", "<p:Id>43</p:Id>")
		}, nil, "FailedCheck"},
		{"timestamp modified", func(t *testing.T, m string) string {
			return replaceOnce(t, m, now.Add(5*time.Minute).Format(timeLayout), now.Add(50*time.Minute).Format(timeLayout))
		}, nil, "FailedCheck"},
		{"signed info reformatted, canonically equal", func(t *testing.T, m string) string {
			return strings.Replace(m, `<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>`, `<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"></ds:DigestMethod>`+"<!--x-->", 1)
		}, nil, ""}, // comments and empty-element form do not change the canonical form: still valid
		{"wrapping: signed body moved into a header, evil body in place", xswBodyToHeader, nil, "InvalidSecurity"},
		{"wrapping: signed body inside a wrapper element in the header", xswWrapper, nil, "InvalidSecurity"},
		{"wrapping: signed body in ds:Object", xswObject, nil, "InvalidSecurity"},
		{"wrapping: signature covers timestamp only", func(t *testing.T, m string) string {
			return resign(t, p.rsa, m, func(env *soap.Envelope, sec *etree.Element) []*etree.Element {
				return []*etree.Element{timestampOf(sec)}
			})
		}, nil, "InvalidSecurity"},
		{"duplicate wsu:Id", func(t *testing.T, m string) string {
			return replaceOnce(t, m, "<soap:Header>", `<soap:Header><x:Dup xmlns:x="urn:x" xmlns:wsu="`+soap.NSWSU+`" wsu:Id="`+bodyID(t, m)+`"/>`)
		}, nil, "parse"},
		{"reference to an external URI", func(t *testing.T, m string) string {
			return resignRaw(t, p.rsa, m, func(si string) string {
				return strings.Replace(si, `URI="#`+bodyID(t, m)+`"`, `URI="http://127.0.0.1:1/body.xml"`, 1)
			})
		}, nil, "InvalidSecurity"},
		{"xslt transform", func(t *testing.T, m string) string {
			return resignRaw(t, p.rsa, m, func(si string) string {
				return strings.Replace(si, `<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>`, `<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xslt-19991116"/>`, 1)
			})
		}, nil, "UnsupportedAlgorithm"},
		{"xpath transform", func(t *testing.T, m string) string {
			return resignRaw(t, p.rsa, m, func(si string) string {
				return strings.Replace(si, `<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>`, `<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116"><ds:XPath>/</ds:XPath></ds:Transform>`, 1)
			})
		}, nil, "UnsupportedAlgorithm"},
		{"sha-1 digest not allowed", func(t *testing.T, m string) string {
			return resignDigest(t, p.rsa, m, AlgSHA1)
		}, nil, "UnsupportedAlgorithm"},
		{"sha-1 digest allowed by policy", func(t *testing.T, m string) string {
			return resignDigest(t, p.rsa, m, AlgSHA1)
		}, func(p *Policy) { p.AllowSHA1 = true }, ""},
		{"md5 digest", func(t *testing.T, m string) string {
			return resignRaw(t, p.rsa, m, func(si string) string {
				return strings.ReplaceAll(si, AlgSHA256, "http://www.w3.org/2001/04/xmldsig-more#md5")
			})
		}, nil, "UnsupportedAlgorithm"},
		{"hmac with truncated output", func(t *testing.T, m string) string {
			return replaceOnce(t, m, `<ds:SignatureMethod Algorithm="`+AlgRSASHA256+`"/>`,
				`<ds:SignatureMethod Algorithm="http://www.w3.org/2000/09/xmldsig#hmac-sha1"><ds:HMACOutputLength>8</ds:HMACOutputLength></ds:SignatureMethod>`)
		}, nil, "UnsupportedAlgorithm"},
		{"self-signed key embedded in the message", func(t *testing.T, m string) string {
			return signed(t, p.selfie, soap.V11, 0, false)
		}, nil, "FailedAuthentication"},
		{"expired certificate", func(t *testing.T, m string) string {
			return signed(t, p.old, soap.V11, 0, false)
		}, nil, "FailedAuthentication"},
		{"expired timestamp", func(t *testing.T, m string) string {
			return signed(t, p.rsa, soap.V11, -20*time.Minute, false)
		}, nil, "MessageExpired"},
		{"timestamp in the future", func(t *testing.T, m string) string {
			return signed(t, p.rsa, soap.V11, 20*time.Minute, false)
		}, nil, "InvalidSecurity"},
		{"timestamp within skew", func(t *testing.T, m string) string {
			return signed(t, p.rsa, soap.V11, 4*time.Minute, false)
		}, nil, ""},
		{"missing timestamp", func(t *testing.T, m string) string {
			env := parse(t, m)
			sec, _ := FindSecurity(env, "")
			sec.RemoveChild(timestampOf(sec))
			out, _ := env.Bytes()
			return string(out)
		}, nil, "InvalidSecurity"},
		{"two Security headers", func(t *testing.T, m string) string {
			return replaceOnce(t, m, "<soap:Header>", `<soap:Header><wsse:Security xmlns:wsse="`+soap.NSWSSE+`"/>`)
		}, nil, "InvalidSecurity"},
		{"key reference to a token outside the header", func(t *testing.T, m string) string {
			env := parse(t, m)
			sec, _ := FindSecurity(env, "")
			bst, _ := childNS(sec, soap.NSWSSE, "BinarySecurityToken")
			moved := detach(bst)
			sec.RemoveChild(bst)
			env.Header.AddChild(moved)
			out, _ := env.Bytes()
			return string(out)
		}, nil, "SecurityTokenUnavailable"},
		{"encrypted key", func(t *testing.T, m string) string {
			return strings.Replace(m, "<wsu:Timestamp", `<xenc:EncryptedKey xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"/><wsu:Timestamp`, 1)
		}, nil, "UnsupportedAlgorithm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := tt.mutate(t, good)
			env, err := soap.Parse([]byte(msg), soap.DefaultLimits())
			if tt.want == "parse" {
				if err == nil {
					t.Fatal("parser accepted the message")
				}
				return
			}
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			pol := strictPolicy()
			if tt.pol != nil {
				tt.pol(&pol)
			}
			_, err = verifier(p, pol).Verify(env)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if got := faultCode(t, err); got != tt.want {
				t.Errorf("fault %s (%v), want %s", got, err, tt.want)
			}
		})
	}
}

func TestKeyReferences(t *testing.T) {
	p := newPKI(t)
	pinned := NewTrustStore(nil, []*x509.Certificate{p.rsa.cert})
	thumb := sha1.Sum(p.rsa.cert.Raw)
	tests := []struct {
		name  string
		str   string
		trust *TrustStore
		want  string
	}{
		{"subject key identifier", `<wsse:KeyIdentifier ValueType="` + valueTypeSKI + `" EncodingType="` + encodingBase64 + `">` + base64.StdEncoding.EncodeToString(p.rsa.cert.SubjectKeyId) + `</wsse:KeyIdentifier>`, pinned, ""},
		{"thumbprint", `<wsse:KeyIdentifier ValueType="` + valueTypeThumb + `" EncodingType="` + encodingBase64 + `">` + base64.StdEncoding.EncodeToString(thumb[:]) + `</wsse:KeyIdentifier>`, pinned, ""},
		{"issuer serial", `<ds:X509Data><ds:X509IssuerSerial><ds:X509IssuerName>` + dn.Issuer(p.rsa.cert) + `</ds:X509IssuerName><ds:X509SerialNumber>10</ds:X509SerialNumber></ds:X509IssuerSerial></ds:X509Data>`, pinned, ""},
		{"thumbprint of an unknown certificate", `<wsse:KeyIdentifier ValueType="` + valueTypeThumb + `" EncodingType="` + encodingBase64 + `">` + base64.StdEncoding.EncodeToString(make([]byte, 20)) + `</wsse:KeyIdentifier>`, pinned, "SecurityTokenUnavailable"},
		{"subject key identifier without a pinned certificate", `<wsse:KeyIdentifier ValueType="` + valueTypeSKI + `" EncodingType="` + encodingBase64 + `">` + base64.StdEncoding.EncodeToString(p.rsa.cert.SubjectKeyId) + `</wsse:KeyIdentifier>`, p.trust(), "SecurityTokenUnavailable"},
		{"unknown reference kind", `<wsse:Embedded/>`, pinned, "UnsupportedSecurityToken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := signed(t, p.rsa, soap.V11, 0, false)
			start := strings.Index(msg, "<wsse:SecurityTokenReference>") + len("<wsse:SecurityTokenReference>")
			end := strings.Index(msg, "</wsse:SecurityTokenReference>")
			msg = msg[:start] + tt.str + msg[end:]
			if strings.Contains(tt.str, "ds:X509Data") {
				msg = strings.Replace(msg, "<wsse:SecurityTokenReference>", `<wsse:SecurityTokenReference xmlns:ds="`+NSDSig+`">`, 1)
			}
			vr := &Verifier{Trust: tt.trust, Clock: clock, Policy: strictPolicy()}
			_, err := vr.Verify(parse(t, msg))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && err == nil:
				t.Fatal("accepted")
			case tt.want != "" && faultCode(t, err) != tt.want:
				t.Errorf("fault %v, want %s", err, tt.want)
			}
		})
	}
}

// bodyID returns the wsu:Id the signer gave the Body.
func bodyID(t *testing.T, msg string) string {
	t.Helper()
	env := parse(t, msg)
	v, ok := soap.AttrNS(env.Body, soap.NSWSU, "Id")
	if !ok {
		t.Fatal("body has no wsu:Id")
	}
	return v
}

func timestampOf(sec *etree.Element) *etree.Element {
	ts, _ := childNS(sec, soap.NSWSU, "Timestamp")
	return ts
}

func serialize(t *testing.T, env *soap.Envelope) string {
	t.Helper()
	out, err := env.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// xswBodyToHeader moves the signed Body into a new header block and puts an
// unsigned Body with other content where it was.
func xswBodyToHeader(t *testing.T, msg string) string {
	env := parse(t, msg)
	orig := env.Body
	env.Root.RemoveChild(orig)
	holder := env.Header.CreateElement("x:Holder")
	holder.CreateAttr("xmlns:x", "urn:attacker")
	holder.AddChild(orig)
	evil := etree.NewElement("Body")
	evil.Space = env.Root.Space
	evil.CreateElement("p:DeleteInvoice").CreateAttr("xmlns:p", "urn:example:billing")
	env.Root.AddChild(evil)
	return serialize(t, env)
}

// xswWrapper keeps the signed Body's content in a wrapper element and
// changes the Body itself.
func xswWrapper(t *testing.T, msg string) string {
	env := parse(t, msg)
	wrapper := env.Header.CreateElement("x:Wrapper")
	wrapper.CreateAttr("xmlns:x", "urn:attacker")
	cp := env.Body.Copy()
	wrapper.AddChild(cp)
	// the real Body loses its ID and gets new content
	for _, a := range env.Body.Attr {
		if a.Key == "Id" {
			env.Body.RemoveAttr(a.Space + ":" + a.Key)
		}
	}
	env.Body.Child = nil
	env.Body.CreateElement("p:DeleteInvoice").CreateAttr("xmlns:p", "urn:example:billing")
	return serialize(t, env)
}

// xswObject hides the signed Body in a ds:Object of the signature.
func xswObject(t *testing.T, msg string) string {
	env := parse(t, msg)
	sec, _ := FindSecurity(env, "")
	sig, _ := childNS(sec, NSDSig, "Signature")
	obj := sig.CreateElement("ds:Object")
	cp := env.Body.Copy()
	obj.AddChild(cp)
	for _, a := range env.Body.Attr {
		if a.Key == "Id" {
			env.Body.RemoveAttr(a.Space + ":" + a.Key)
		}
	}
	env.Body.Child = nil
	env.Body.CreateElement("p:DeleteInvoice").CreateAttr("xmlns:p", "urn:example:billing")
	return serialize(t, env)
}

// resign replaces the Security header by a fresh signature over the elements
// pick returns (the attacker holds no trusted key, so this models a
// legitimate signer's narrower signature).
func resign(t *testing.T, kp keyPair, msg string, pick func(*soap.Envelope, *etree.Element) []*etree.Element) string {
	t.Helper()
	env := parse(t, plainEnvelope(soap.V11))
	s := &Signer{Key: kp.key, Cert: kp.cert, Clock: clock}
	if err := s.Sign(env); err != nil {
		t.Fatal(err)
	}
	sec, _ := FindSecurity(env, "")
	targets := pick(env, sec)
	// rebuild SignedInfo references over targets only
	sig, _ := childNS(sec, NSDSig, "Signature")
	sec.RemoveChild(sig)
	si := buildSignedInfo(t, targets)
	return finishSignature(t, kp, env, sec, si)
}

// resignRaw signs a SignedInfo that edit rewrote, so that only the rule
// under test (not the signature value) can refuse it.
func resignRaw(t *testing.T, kp keyPair, msg string, edit func(si string) string) string {
	t.Helper()
	env := parse(t, msg)
	sec, _ := FindSecurity(env, "")
	sig, _ := childNS(sec, NSDSig, "Signature")
	siEl, _ := childNS(sig, NSDSig, "SignedInfo")
	doc := etree.NewDocument()
	doc.SetRoot(detach(siEl))
	raw, _ := doc.WriteToString()
	edited := edit(raw)
	if edited == raw {
		t.Fatal("edit changed nothing")
	}
	newSI := etree.NewDocument()
	if err := newSI.ReadFromString(edited); err != nil {
		t.Fatal(err)
	}
	sec.RemoveChild(sig)
	return finishSignature(t, kp, env, sec, newSI.Root())
}

// resignDigest recomputes every reference with another digest method.
func resignDigest(t *testing.T, kp keyPair, msg, alg string) string {
	t.Helper()
	env := parse(t, msg)
	sec, _ := FindSecurity(env, "")
	sig, _ := childNS(sec, NSDSig, "Signature")
	sec.RemoveChild(sig)
	si := buildSignedInfoAlg(t, []*etree.Element{env.Body, timestampOf(sec)}, alg)
	return finishSignature(t, kp, env, sec, si)
}

func buildSignedInfo(t *testing.T, targets []*etree.Element) *etree.Element {
	return buildSignedInfoAlg(t, targets, AlgSHA256)
}

func buildSignedInfoAlg(t *testing.T, targets []*etree.Element, digestAlg string) *etree.Element {
	t.Helper()
	si := etree.NewElement("ds:SignedInfo")
	si.CreateAttr("xmlns:ds", NSDSig)
	si.CreateElement("ds:CanonicalizationMethod").CreateAttr("Algorithm", AlgExcC14N)
	si.CreateElement("ds:SignatureMethod").CreateAttr("Algorithm", AlgRSASHA256)
	for _, target := range targets {
		data, err := canonicalize(target, AlgExcC14N, "")
		if err != nil {
			t.Fatal(err)
		}
		h := digestMethods[digestAlg].hash.New()
		h.Write(data)
		ref := si.CreateElement("ds:Reference")
		ref.CreateAttr("URI", "#"+ensureID(target))
		ref.CreateElement("ds:Transforms").CreateElement("ds:Transform").CreateAttr("Algorithm", AlgExcC14N)
		ref.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", digestAlg)
		ref.CreateElement("ds:DigestValue").SetText(base64.StdEncoding.EncodeToString(h.Sum(nil)))
	}
	return si
}

// finishSignature signs si with kp and appends the Signature to sec.
func finishSignature(t *testing.T, kp keyPair, env *soap.Envelope, sec, si *etree.Element) string {
	t.Helper()
	sig := sec.CreateElement("ds:Signature")
	sig.CreateAttr("xmlns:ds", NSDSig)
	si.RemoveAttr("xmlns:ds")
	sig.AddChild(si)
	canon, err := canonicalize(si, AlgExcC14N, "")
	if err != nil {
		t.Fatal(err)
	}
	s := &Signer{Key: kp.key, Cert: kp.cert, Clock: clock}
	m, _ := s.method()
	val, err := s.signValue(m, canon)
	if err != nil {
		t.Fatal(err)
	}
	sig.CreateElement("ds:SignatureValue").SetText(base64.StdEncoding.EncodeToString(val))
	bst, _ := childNS(sec, soap.NSWSSE, "BinarySecurityToken")
	bstID, _ := soap.AttrNS(bst, soap.NSWSU, "Id")
	r := sig.CreateElement("ds:KeyInfo").CreateElement("wsse:SecurityTokenReference").CreateElement("wsse:Reference")
	r.CreateAttr("URI", "#"+bstID)
	r.CreateAttr("ValueType", valueTypeX509v3)
	return serialize(t, env)
}

// TestVerifyDecrypted: an EncryptedKey or ReferenceList in the Security
// header is refused unless the caller says it processes that very element
// (package xmlenc decrypts it); another element of the same name is not
// covered by the caller's word.
func TestVerifyDecrypted(t *testing.T) {
	p := newPKI(t)
	env := parse(t, signed(t, p.rsa, soap.V11, 0, true))
	sec, err := FindSecurity(env, "")
	if err != nil || sec == nil {
		t.Fatal(sec, err)
	}
	ek := sec.CreateElement("xenc:EncryptedKey")
	ek.CreateAttr("xmlns:xenc", NSXEnc)
	rl := sec.CreateElement("xenc:ReferenceList")
	rl.CreateAttr("xmlns:xenc", NSXEnc)
	vr := verifier(p, strictPolicy())
	if _, err := vr.Verify(env); err == nil || !strings.Contains(soap.AsFault(err).Reason(), "XML Encryption (EncryptedKey)") {
		t.Errorf("Verify = %v, want the EncryptedKey refused", err)
	}
	if _, err := vr.VerifyDecrypted(env, []*etree.Element{ek}); err == nil || !strings.Contains(soap.AsFault(err).Reason(), "XML Encryption (ReferenceList)") {
		t.Errorf("VerifyDecrypted(EncryptedKey) = %v, want the ReferenceList refused", err)
	}
	if _, err := vr.VerifyDecrypted(env, []*etree.Element{ek, rl}); err != nil {
		t.Errorf("VerifyDecrypted(both) = %v", err)
	}
	other := ek.Copy()
	if _, err := vr.VerifyDecrypted(env, []*etree.Element{other, rl}); err == nil {
		t.Error("an element equal to the EncryptedKey but not it was taken for it")
	}
}
