package wssec

import (
	"crypto/ecdsa"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/soap"
)

// Hostile messages whose signatures come from python-xmlsec (libxmlsec1),
// a signer we did not write, through testdata/xmlsec_sign.py: several
// signers in one message, references to elements anywhere, inclusive C14N,
// references without Transforms. A missing python-xmlsec fails the tests.

// pySign appends a signature by kp over the elements with the given wsu:Ids
// to the message's Security header; opts are xmlsec_sign.py options.
func pySign(t *testing.T, kp keyPair, msg string, opts []string, ids ...string) string {
	t.Helper()
	if _, err := os.Stat(debianPython); err != nil {
		t.Fatalf("%s missing: run ./build.sh deps", debianPython)
	}
	if err := exec.Command(debianPython, "-c", "import xmlsec, lxml").Run(); err != nil {
		t.Fatalf("python3-xmlsec or python3-lxml missing (%v): run ./build.sh deps", err)
	}
	keyFile, certFile := writePEM(t, t.TempDir(), kp)
	args := []string{"testdata/xmlsec_sign.py", keyFile, certFile}
	if _, ok := kp.key.(*ecdsa.PrivateKey); ok {
		args = append(args, "--method", "ecdsa")
	}
	args = append(append(args, opts...), ids...)
	return string(run(t, []byte(msg), debianPython, args...))
}

// hostileEnvelope is a SOAP 1.1 request whose Security header holds
// security and whose Header holds a wsa:To (wsu:Id "To") and then headers.
// The Body's wsu:Id is "Body"; payload replaces the usual request body when
// not empty.
func hostileEnvelope(security, headers, payload string) string {
	if payload == "" {
		payload = requestBody
	}
	return `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsu="` + soap.NSWSU + `" xmlns:wsse="` + soap.NSWSSE + `" xmlns:wsa="http://www.w3.org/2005/08/addressing">` +
		`<soap:Header><wsse:Security soap:mustUnderstand="1">` + security + `</wsse:Security>` +
		`<wsa:To wsu:Id="To">https://gw.example/billing</wsa:To>` + headers + `</soap:Header>` +
		`<soap:Body wsu:Id="Body">` + payload + `</soap:Body></soap:Envelope>`
}

// timestampXML is a wsu:Timestamp with wsu:Id id, created at created and
// expiring ttl later, in UTC with "Z".
func timestampXML(id string, created time.Time, ttl time.Duration) string {
	return timestampRaw(id, created.UTC().Format(timeLayout), created.Add(ttl).UTC().Format(timeLayout))
}

func timestampRaw(id, created, expires string) string {
	return `<wsu:Timestamp wsu:Id="` + id + `"><wsu:Created>` + created + `</wsu:Created><wsu:Expires>` + expires + `</wsu:Expires></wsu:Timestamp>`
}

// verifyAt verifies msg with the test PKI's trust store at the given time.
func verifyAt(t *testing.T, p *testPKI, pol Policy, at time.Time, msg string) (*Verified, error) {
	t.Helper()
	vr := &Verifier{Trust: p.trust(), Clock: func() time.Time { return at }, Policy: pol}
	return vr.Verify(parse(t, msg))
}

// wantRefused checks that err is the fault code with a reason containing
// reason.
func wantRefused(t *testing.T, err error, code, reason string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted, want %s (%s)", code, reason)
	}
	if got := faultCode(t, err); got != code || !strings.Contains(err.Error(), reason) {
		t.Fatalf("refused with %v, want %s containing %q", err, code, reason)
	}
}

// TestMixAndMatchReplay is item 1 of issue 11: A's old request (Body and
// Timestamp signed by A) is replayed after its Timestamp expired, with A's
// Timestamp moved into an ordinary header block (A's signature still
// verifies, its reference resolves by ID) and a fresh Timestamp signed by
// B, another key of the same CA.
func TestMixAndMatchReplay(t *testing.T) {
	p := newPKI(t)
	a, b := p.rsa, p.ecdsa
	then := now.Add(-20 * time.Minute)
	old := pySign(t, a, hostileEnvelope(timestampXML("TS-A", then, 5*time.Minute), "", ""), nil, "Body", "TS-A")
	if v, err := verifyAt(t, p, strictPolicy(), then.Add(time.Second), old); err != nil || v.Signer == nil {
		t.Fatalf("A's original request refused at its time: %v", err)
	}

	// B moves A's Timestamp out of the Security header into a header block
	// and puts a fresh one, signed by B alone, in its place.
	tsA := old[strings.Index(old, "<wsu:Timestamp") : strings.Index(old, "</wsu:Timestamp>")+len("</wsu:Timestamp>")]
	replay := replaceOnce(t, old, tsA, timestampXML("TS-B", now, 5*time.Minute))
	replay = replaceOnce(t, replay, "</wsse:Security>", "</wsse:Security>"+tsA)
	replay = pySign(t, b, replay, nil, "TS-B")

	for name, pol := range map[string]Policy{
		"signed parts Body and Timestamp": strictPolicy(),
		"signed parts Body only": {RequireTimestamp: true, RequireSignature: true,
			SignedParts: []Part{{Kind: PartBody}}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := verifyAt(t, p, pol, now, replay)
			wantRefused(t, err, "InvalidSecurity", "Timestamp")
		})
	}
}

// TestOneSigner: the signature over the Body is the message's signer; it
// must cover the Security header's Timestamp and every signed part.
func TestOneSigner(t *testing.T) {
	p := newPKI(t)
	a, b := p.rsa, p.ecdsa
	plain := hostileEnvelope(timestampXML("TS", now, 5*time.Minute), "", "")
	withTo := strictPolicy()
	withTo.SignedParts = append(withTo.SignedParts, Part{Kind: PartHeader, Name: soap.QName{Space: soap.NSWSA, Local: "To"}})
	tsOnly := Policy{RequireTimestamp: true, RequireSignature: true, SignedParts: []Part{{Kind: PartBody}}}
	tests := []struct {
		name   string
		msg    func(t *testing.T) string
		pol    Policy
		code   string
		reason string
	}{
		{"A signs Body and Timestamp", func(t *testing.T) string {
			return pySign(t, a, plain, nil, "Body", "TS")
		}, strictPolicy(), "", ""},
		{"A signs Body, B signs Timestamp", func(t *testing.T) string {
			return pySign(t, b, pySign(t, a, plain, nil, "Body"), nil, "TS")
		}, strictPolicy(), "InvalidSecurity", "Timestamp"},
		{"A signs Body, B signs Timestamp, policy signs Body only", func(t *testing.T) string {
			return pySign(t, b, pySign(t, a, plain, nil, "Body"), nil, "TS")
		}, tsOnly, "InvalidSecurity", "does not cover the Security header's Timestamp"},
		{"A signs Body, A signs Timestamp in a second signature", func(t *testing.T) string {
			return pySign(t, a, pySign(t, a, plain, nil, "Body"), nil, "TS")
		}, tsOnly, "InvalidSecurity", "does not cover the Security header's Timestamp"},
		{"no timestamp required: B's Timestamp does not matter", func(t *testing.T) string {
			return pySign(t, b, pySign(t, a, plain, nil, "Body"), nil, "TS")
		}, Policy{RequireSignature: true, SignedParts: []Part{{Kind: PartBody}}}, "", ""},
		// Item 3 of issue 11: signed WS-Addressing headers are the signer's.
		{"A signs Body, Timestamp and wsa:To", func(t *testing.T) string {
			return pySign(t, a, plain, nil, "Body", "TS", "To")
		}, withTo, "", ""},
		{"A signs Body and Timestamp, B signs wsa:To", func(t *testing.T) string {
			return pySign(t, b, pySign(t, a, plain, nil, "Body", "TS"), nil, "To")
		}, withTo, "InvalidSecurity", "header {http://www.w3.org/2005/08/addressing}To to be signed by the Body's signer"},
		{"B signs wsa:To, the policy does not ask for it", func(t *testing.T) string {
			return pySign(t, b, pySign(t, a, plain, nil, "Body", "TS"), nil, "To")
		}, strictPolicy(), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := verifyAt(t, p, tt.pol, now, tt.msg(t))
			if tt.code != "" {
				wantRefused(t, err, tt.code, tt.reason)
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if v.Signer == nil || !v.Signer.Covers(v.Envelope.Body) || v.Signer.Certificate.Equal(b.cert) {
				t.Fatalf("signer %+v, want A's signature over the Body", v.Signer)
			}
			if v.Signer == nil || !v.Signer.Certificate.Equal(a.cert) {
				t.Errorf("signer %+v, want A", v.Signer)
			}
		})
	}
}

// TestSignatureReplayTTL: each signature's replay entry lives as long as
// the Timestamp it covers keeps it fresh, or maxAge+skew when it covers
// none; never as long as a Timestamp it does not cover.
func TestSignatureReplayTTL(t *testing.T) {
	p := newPKI(t)
	created := now.Add(-4 * time.Minute)
	msg := hostileEnvelope(timestampXML("TS", created, 4*time.Minute+30*time.Second), "", "")
	msg = pySign(t, p.ecdsa, pySign(t, p.rsa, msg, nil, "Body", "TS"), nil, "To")
	v, err := verifyAt(t, p, strictPolicy(), now, msg)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.ReplayKeys) != 2 || len(v.Signatures) != 2 {
		t.Fatalf("replay keys %+v", v.ReplayKeys)
	}
	// A's covers the Timestamp: until Expires+skew (30s+5m), before Created+maxAge+skew.
	if got, want := v.ReplayKeys[0].TTL, 5*time.Minute+30*time.Second; got != want {
		t.Errorf("TTL of the signature over the Timestamp %s, want %s", got, want)
	}
	if v.Signatures[0].Timestamp != v.Timestamp || v.Signatures[1].Timestamp != nil {
		t.Error("Signature.Timestamp does not name the covered Timestamp")
	}
	// B's covers no Timestamp: maxAge+skew from now.
	if got, want := v.ReplayKeys[1].TTL, 10*time.Minute; got != want {
		t.Errorf("TTL of the signature over wsa:To only %s, want %s", got, want)
	}

	// Never below a second, even at the very end of the window.
	created = now.Add(-10*time.Minute + 500*time.Millisecond)
	msg = pySign(t, p.rsa, hostileEnvelope(timestampXML("TS", created, 20*time.Minute), "", ""), nil, "Body", "TS")
	v, err = verifyAt(t, p, strictPolicy(), now, msg)
	if err != nil {
		t.Fatal(err)
	}
	if got := v.ReplayKeys[0].TTL; got != time.Second {
		t.Errorf("TTL %s at the end of the window, want 1s", got)
	}
}

// TestReferenceTargets: references resolve only to the Body, children of
// the Security header being processed, and header blocks.
func TestReferenceTargets(t *testing.T) {
	p := newPKI(t)
	ts := timestampXML("TS", now, 5*time.Minute)
	tests := []struct {
		name      string
		security  string
		headers   string
		payload   string
		extraRefs []string
		want      string
	}{
		{"header block", ts, `<x:Hop xmlns:x="urn:x" wsu:Id="Hop">1</x:Hop>`, "", []string{"Hop"}, ""},
		{"token in the Security header", ts + `<wsse:BinarySecurityToken wsu:Id="Tok" ValueType="` + valueTypeX509v3 + `" EncodingType="` + encodingBase64 + `">AAAA</wsse:BinarySecurityToken>`, "", "", []string{"Tok"}, ""},
		{"element nested in a header block", ts, `<x:Holder xmlns:x="urn:x"><x:Inner wsu:Id="Inner">1</x:Inner></x:Holder>`, "", []string{"Inner"}, "InvalidSecurity"},
		{"element nested in the Body", ts, "", `<p:GetInvoice xmlns:p="urn:example:billing" wsu:Id="Inner"><p:Id>42</p:Id></p:GetInvoice>`, []string{"Inner"}, "InvalidSecurity"},
		{"Timestamp of another actor's Security header", ts, `<wsse:Security soap:actor="urn:other">` + timestampXML("Inner", now, time.Minute) + `</wsse:Security>`, "", []string{"Inner"}, "InvalidSecurity"},
		{"assertion in the Security header", ts + `<saml:Assertion xmlns:saml="` + NSSAML2 + `" ID="A1"><saml:Issuer>urn:idp</saml:Issuer></saml:Assertion>`, "", "", []string{"A1"}, ""},
		{"element nested in a token of the Security header", ts + `<saml:Assertion xmlns:saml="` + NSSAML2 + `" ID="A1"><saml:Issuer wsu:Id="Inner">urn:idp</saml:Issuer></saml:Assertion>`, "", "", []string{"Inner"}, "InvalidSecurity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := hostileEnvelope(tt.security, tt.headers, tt.payload)
			msg = pySign(t, p.rsa, msg, nil, append([]string{"Body", "TS"}, tt.extraRefs...)...)
			_, err := verifyAt(t, p, strictPolicy(), now, msg)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			wantRefused(t, err, tt.want, "is not the Body, a child of the Security header or a header block")
		})
	}
}

// TestTwoKeysOverOneElement: an element covered by the signatures of two
// keys has no single signer, unless the policy allows endorsing
// signatures; the Body never has two signers.
func TestTwoKeysOverOneElement(t *testing.T) {
	p := newPKI(t)
	a, b := p.rsa, p.ecdsa
	plain := hostileEnvelope(timestampXML("TS", now, 5*time.Minute), "", "")
	endorsing := strictPolicy()
	endorsing.AllowEndorsing = true
	tests := []struct {
		name string
		msg  func(t *testing.T) string
		pol  Policy
		want string
	}{
		{"B also signs A's Timestamp", func(t *testing.T) string {
			return pySign(t, b, pySign(t, a, plain, nil, "Body", "TS"), nil, "TS")
		}, strictPolicy(), "InvalidSecurity"},
		{"B also signs A's Timestamp, endorsing allowed", func(t *testing.T) string {
			return pySign(t, b, pySign(t, a, plain, nil, "Body", "TS"), nil, "TS")
		}, endorsing, ""},
		{"B also signs A's Body, endorsing allowed", func(t *testing.T) string {
			return pySign(t, b, pySign(t, a, plain, nil, "Body", "TS"), nil, "Body")
		}, endorsing, "InvalidSecurity"},
		{"A signs the Timestamp twice", func(t *testing.T) string {
			return pySign(t, a, pySign(t, a, plain, nil, "Body", "TS"), nil, "TS")
		}, strictPolicy(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := verifyAt(t, p, tt.pol, now, tt.msg(t))
			if tt.want != "" {
				wantRefused(t, err, tt.want, "covered by signatures of two keys")
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if v.Signer == nil || !v.Signer.Certificate.Equal(a.cert) {
				t.Fatal("A is not the signer")
			}
		})
	}
}

// TestBSPCanonicalization: BSP 1.1 allows only exclusive C14N (R5404 for
// SignedInfo, R5412 for Reference transforms) and wants Transforms on every
// Reference (R5416); AllowNonBSP re-admits inclusive C14N 1.0 and 1.1 and a
// Reference without Transforms, as signed by libxmlsec1.
func TestBSPCanonicalization(t *testing.T) {
	p := newPKI(t)
	plain := hostileEnvelope(timestampXML("TS", now, 5*time.Minute), "", "")
	nonBSP := strictPolicy()
	nonBSP.AllowNonBSP = true
	tests := []struct {
		name string
		opts []string
		code string
		rule string
	}{
		{"exclusive everywhere", nil, "", ""},
		{"inclusive C14N 1.0 SignedInfo", []string{"--c14n", "c14n"}, "UnsupportedAlgorithm", "BSP R5404"},
		{"C14N 1.1 SignedInfo", []string{"--c14n", "c14n11"}, "UnsupportedAlgorithm", "BSP R5404"},
		{"inclusive C14N 1.0 transform", []string{"--transform", "c14n"}, "UnsupportedAlgorithm", "BSP R5412"},
		{"C14N 1.1 transform", []string{"--transform", "c14n11"}, "UnsupportedAlgorithm", "BSP R5412"},
		{"reference without Transforms", []string{"--transform", "none"}, "InvalidSecurity", "BSP R5416"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := pySign(t, p.rsa, plain, tt.opts, "Body", "TS")
			_, err := verifyAt(t, p, strictPolicy(), now, msg)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
			} else {
				wantRefused(t, err, tt.code, tt.rule)
			}
			if _, err := verifyAt(t, p, nonBSP, now, msg); err != nil {
				t.Fatalf("refused with AllowNonBSP: %v", err)
			}
			tampered := replaceOnce(t, msg, "<p:Id>42</p:Id>", "<p:Id>43</p:Id>")
			if _, err := verifyAt(t, p, nonBSP, now, tampered); err == nil || faultCode(t, err) != "FailedCheck" {
				t.Fatalf("tampered message with AllowNonBSP: %v", err)
			}
		})
	}
}

// TestBSPTimestampUTC: BSP R3217 (Created) and R3223 (Expires) want UTC
// times; an offset is read only with AllowNonBSP.
func TestBSPTimestampUTC(t *testing.T) {
	p := newPKI(t)
	cet := time.FixedZone("CET", 3600)
	tests := []struct {
		name, created, expires, rule string
	}{
		{"UTC", now.Format(time.RFC3339), now.Add(5 * time.Minute).Format(time.RFC3339), ""},
		{"Created with an offset", now.In(cet).Format(time.RFC3339), now.Add(5 * time.Minute).Format(time.RFC3339), "BSP R3217"},
		{"Expires with an offset", now.Format(time.RFC3339), now.Add(5 * time.Minute).In(cet).Format(time.RFC3339), "BSP R3223"},
		{"UTC as +00:00", strings.TrimSuffix(now.Format(time.RFC3339), "Z") + "+00:00", now.Add(5 * time.Minute).Format(time.RFC3339), "BSP R3217"},
	}
	nonBSP := strictPolicy()
	nonBSP.AllowNonBSP = true
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := pySign(t, p.rsa, hostileEnvelope(timestampRaw("TS", tt.created, tt.expires), "", ""), nil, "Body", "TS")
			_, err := verifyAt(t, p, strictPolicy(), now, msg)
			if tt.rule == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
			} else {
				wantRefused(t, err, "InvalidSecurity", tt.rule)
			}
			v, err := verifyAt(t, p, nonBSP, now, msg)
			if err != nil {
				t.Fatalf("refused with AllowNonBSP: %v", err)
			}
			if !v.Timestamp.Created.Equal(now) {
				t.Errorf("Created read as %s", v.Timestamp.Created)
			}
		})
	}
}

// TestLimitsAndBSPForm: bounded signatures and references, and the BSP
// rules on the form of Transforms and Timestamps, on messages our own
// signer made and then edited.
func TestLimitsAndBSPForm(t *testing.T) {
	p := newPKI(t)
	signedWith := func(t *testing.T, headers int) string {
		env := parse(t, plainEnvelope(soap.V11))
		var blocks = env.HeaderBlocks()
		for i := 0; i < headers-1; i++ {
			h := env.Header.CreateElement("x:H")
			h.CreateAttr("xmlns:x", "urn:x")
			blocks = append(blocks, h)
		}
		if err := (&Signer{Key: p.rsa.key, Cert: p.rsa.cert, Clock: clock}).Sign(env, blocks...); err != nil {
			t.Fatal(err)
		}
		return serialize(t, env)
	}
	good := signed(t, p.rsa, soap.V11, 0, false)
	sig := good[strings.Index(good, "<ds:Signature") : strings.Index(good, "</ds:Signature>")+len("</ds:Signature>")]
	tests := []struct {
		name   string
		msg    func(t *testing.T) string
		code   string
		reason string
	}{
		{"four signatures", func(t *testing.T) string {
			return replaceOnce(t, good, sig, strings.Repeat(sig, 4))
		}, "", ""},
		{"five signatures", func(t *testing.T) string {
			return replaceOnce(t, good, sig, strings.Repeat(sig, 5))
		}, "InvalidSecurity", "more than 4 signatures"},
		{"twelve references", func(t *testing.T) string { return signedWith(t, 10) }, "", ""},
		{"thirteen references", func(t *testing.T) string { return signedWith(t, 11) }, "InvalidSecurity", "signature with 13 references (at most 12)"},
		{"Transforms without a Transform", func(t *testing.T) string {
			return resignRaw(t, p.rsa, good, func(si string) string {
				return strings.Replace(si, `<ds:Transforms><ds:Transform Algorithm="`+AlgExcC14N+`"/></ds:Transforms>`, `<ds:Transforms/>`, 1)
			})
		}, "InvalidSecurity", "BSP R5411"},
		{"two Timestamps", func(t *testing.T) string {
			return replaceOnce(t, good, "<wsse:BinarySecurityToken", timestampXML("TS-2", now, time.Minute)+"<wsse:BinarySecurityToken")
		}, "InvalidSecurity", "BSP R3227"},
		{"Timestamp without Created", func(t *testing.T) string {
			return replaceOnce(t, good, "<wsu:Created>"+now.Format(timeLayout)+"</wsu:Created>", "")
		}, "InvalidSecurity", "BSP R3203"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := verifier(p, strictPolicy()).Verify(parse(t, tt.msg(t)))
			if tt.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			wantRefused(t, err, tt.code, tt.reason)
		})
	}
}
