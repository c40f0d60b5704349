package interop

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/gateway/audit"
	"github.com/gatehouse/gatehouse/soap/xmlenc"
)

// trace is a header block of the consumer's own, for WSS4J to encrypt as
// a wsse11:EncryptedHeader.
const (
	nsTrace = "urn:gatehouse:interop:trace"
	trace   = `<t:Trace xmlns:t="` + nsTrace + `">secret-4711</t:Trace>`
)

// tracedEnvelope is a GetBalance call with the trace header.
func tracedEnvelope() string {
	return `<soap:Envelope xmlns:soap="` + nsSOAP11 + `"><soap:Header>` + trace + `</soap:Header><soap:Body>` + getBalance + `</soap:Body></soap:Envelope>`
}

// auditRecord waits for the audit log of g to hold its i-th record
// (from 0) and returns it. The gateway writes a request's record after it
// has answered, so a test that posts one request at a time and reads
// each one's record before the next knows which is which by count.
func auditRecord(t *testing.T, g *gatehouse, i int) audit.Record {
	t.Helper()
	path := filepath.Join(g.dir, "audit.log")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		recs, err := audit.ReadFile(path)
		if err == nil && len(recs) > i {
			return recs[i]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no audit record #%d in %s (%v)", i, path, err)
		}
	}
}

// wss4jWrites is what Interop.java's KEYID, TRANSPORT and CONTENT values
// put into the message, checked so that each case sends what it says.
var wss4jWrites = map[string][]string{
	"issuerserial": {"<ds:X509IssuerSerial>"},
	"ski":          {`ValueType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509SubjectKeyIdentifier"`},
	"thumbprint":   {`ValueType="http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#ThumbprintSHA1"`},
	"bst":          {"<wsse:BinarySecurityToken", `ValueType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"/></wsse:SecurityTokenReference></ds:KeyInfo><xenc:CipherData>`},
	"x509":         {`<wsse:KeyIdentifier EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary" ValueType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3">`},

	"oaep":                {`Algorithm="` + xmlenc.AlgRSAOAEPMGF1P + `"/>`},
	"oaep-sha256":         {`Algorithm="` + xmlenc.AlgRSAOAEPMGF1P + `"><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"`},
	"oaep11":              {`Algorithm="` + xmlenc.AlgRSAOAEP + `"/>`},
	"oaep11-sha256":       {`Algorithm="` + xmlenc.AlgRSAOAEP + `"><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"`, `Algorithm="http://www.w3.org/2009/xmlenc11#mgf1sha256"`},
	"wss4j-oaep11-sha256": {`Algorithm="` + xmlenc.AlgRSAOAEP + `"><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"`},
	"rsa15":               {`Algorithm="` + xmlenc.AlgRSA15 + `"`},

	"aes128-gcm": {`Algorithm="` + xmlenc.AlgAES128GCM + `"`},
	"aes256-gcm": {`Algorithm="` + xmlenc.AlgAES256GCM + `"`},
	"aes128-cbc": {`Algorithm="` + xmlenc.AlgAES128CBC + `"`},
	"aes256-cbc": {`Algorithm="` + xmlenc.AlgAES256CBC + `"`},
}

// TestWSS4JEncryptsGatehouseDecrypts: WSS4J's WSSecEncrypt encrypts the
// Body content (after a WSSecTimestamp, and for "signed-encrypted" after a
// WSSecSignature over Body and Timestamp: "Timestamp Signature Encrypt")
// to the gateway's certificate, in the two layouts it writes: the
// EncryptedKey in the Security header with a ReferenceList, the
// EncryptedData's KeyInfo a SecurityTokenReference to it (build, as a CXF
// or Axis2 client sends it), and the EncryptedKey inside the
// EncryptedData's KeyInfo (the embedded key). Gatehouse finds its key by
// each key identifier WSS4J writes for an EncryptedKey, unwraps it with
// each RSA-OAEP form, decrypts AES-GCM Body content and a
// wsse11:EncryptedHeader, and forwards the plaintext. What it must refuse
// — AES-CBC by default, RSA-1.5, an EncryptedKey to another certificate,
// an OAEP digest other than the one the key was wrapped with — gets the
// one FailedCheck fault, with the reason in the audit record, and nothing
// reaches the backend.
func TestWSS4JEncryptsGatehouseDecrypts(t *testing.T) {
	java := wss4j(t)
	g := startGatehouseWith(t, encryptedServices)
	dir := t.TempDir()
	gatewayCert, _ := writePEM(t, dir, "gateway-enc", g.pki.outbound.cert, nil)
	// The gateway's TLS certificate: a consumer's likely mistake, and a
	// certificate Gatehouse has no decryption key for.
	tlsCert, _ := writePEM(t, dir, "gateway-tls", g.pki.server.cert, nil)
	signerCert, signerKey := writeDER(t, dir, "signer", g.pki.signer.cert, g.pki.signer.key)
	const encrypted, signedEncrypted = "/services/encrypted", "/services/signed-encrypted"
	posted := 0 // requests sent to g, each one audit record

	for _, tc := range []struct {
		name, path string
		// keyID, transport and content are Interop.java's KEYID,
		// TRANSPORT and CONTENT.
		keyID, transport, content string
		cert                      string
		embed, sign, header       bool
		thenSign                  bool
		ok                        bool
		reason                    string // in the audit record of a refusal
	}{
		// The EncryptedKey in the Security header (WSSecEncrypt.build).
		{name: "IssuerSerial, RSA-OAEP, AES-256-GCM", path: encrypted, keyID: "issuerserial", transport: "oaep", content: "aes256-gcm", cert: gatewayCert, ok: true},
		{name: "SubjectKeyIdentifier, RSA-OAEP, AES-256-GCM", path: encrypted, keyID: "ski", transport: "oaep", content: "aes256-gcm", cert: gatewayCert, ok: true},
		{name: "ThumbprintSHA1, RSA-OAEP, AES-256-GCM", path: encrypted, keyID: "thumbprint", transport: "oaep", content: "aes256-gcm", cert: gatewayCert, ok: true},
		{name: "BinarySecurityToken direct reference, RSA-OAEP, AES-256-GCM", path: encrypted, keyID: "bst", transport: "oaep", content: "aes256-gcm", cert: gatewayCert, ok: true},
		{name: "xenc11 rsa-oaep, SHA-256 and MGF1-SHA256", path: encrypted, keyID: "ski", transport: "oaep11-sha256", content: "aes256-gcm", cert: gatewayCert, ok: true},
		{name: "Body and a header block (wsse11:EncryptedHeader)", path: encrypted, keyID: "issuerserial", transport: "oaep", content: "aes256-gcm", cert: gatewayCert, header: true, ok: true},
		{name: "signed, then encrypted", path: signedEncrypted, keyID: "issuerserial", transport: "oaep", content: "aes256-gcm", cert: gatewayCert, sign: true, ok: true},
		{name: "signed, then encrypted with a header block", path: signedEncrypted, keyID: "ski", transport: "oaep", content: "aes128-gcm", cert: gatewayCert, sign: true, header: true, ok: true},
		// "Timestamp Encrypt Signature": the signature over the Body with
		// its EncryptedData comes first in the header, and is verified
		// before the decryption.
		{name: "encrypted, then signed", path: signedEncrypted, keyID: "issuerserial", transport: "oaep", content: "aes256-gcm", cert: gatewayCert, sign: true, thenSign: true, ok: true},
		{name: "encrypted, then signed, BST reference, xenc11 SHA-256", path: signedEncrypted, keyID: "bst", transport: "oaep11-sha256", content: "aes256-gcm", cert: gatewayCert, sign: true, thenSign: true, ok: true},

		// The EncryptedKey in the EncryptedData's KeyInfo.
		{name: "embedded key, IssuerSerial, RSA-OAEP, AES-256-GCM", path: encrypted, keyID: "issuerserial", transport: "oaep", content: "aes256-gcm", cert: gatewayCert, embed: true, ok: true},
		{name: "embedded key, SubjectKeyIdentifier, RSA-OAEP, AES-256-GCM", path: encrypted, keyID: "ski", transport: "oaep", content: "aes256-gcm", cert: gatewayCert, embed: true, ok: true},
		{name: "embedded key, ThumbprintSHA1, RSA-OAEP, AES-256-GCM", path: encrypted, keyID: "thumbprint", transport: "oaep", content: "aes256-gcm", cert: gatewayCert, embed: true, ok: true},
		{name: "embedded key, BinarySecurityToken direct reference, RSA-OAEP, AES-256-GCM", path: encrypted, keyID: "bst", transport: "oaep", content: "aes256-gcm", cert: gatewayCert, embed: true, ok: true},
		// WSS4J's X509_KEY_IDENTIFIER: a wsse:KeyIdentifier whose
		// ValueType is #X509v3 and whose value is the certificate.
		// BSP 1.1 admits no such KeyIdentifier for an X.509 token
		// (SubjectKeyIdentifier; WSS 1.1 adds ThumbprintSHA1): refused.
		{name: "embedded key, X509v3 KeyIdentifier (the certificate)", path: encrypted, keyID: "x509", transport: "oaep", content: "aes256-gcm", cert: gatewayCert, embed: true, reason: "X509v3\" is not supported"},
		{name: "embedded key, rsa-oaep-mgf1p with a SHA-256 DigestMethod", path: encrypted, keyID: "issuerserial", transport: "oaep-sha256", content: "aes256-gcm", cert: gatewayCert, embed: true, ok: true},
		{name: "embedded key, xenc11 rsa-oaep (SHA-1, MGF1-SHA1 by default)", path: encrypted, keyID: "ski", transport: "oaep11", content: "aes256-gcm", cert: gatewayCert, embed: true, ok: true},
		{name: "embedded key, xenc11 rsa-oaep, SHA-256 and MGF1-SHA256", path: encrypted, keyID: "ski", transport: "oaep11-sha256", content: "aes256-gcm", cert: gatewayCert, embed: true, ok: true},
		{name: "embedded key, AES-128-GCM", path: encrypted, keyID: "issuerserial", transport: "oaep", content: "aes128-gcm", cert: gatewayCert, embed: true, ok: true},
		{name: "embedded key, signed, then encrypted", path: signedEncrypted, keyID: "issuerserial", transport: "oaep", content: "aes256-gcm", cert: gatewayCert, embed: true, sign: true, ok: true},
		{name: "embedded key, signed, then encrypted, BST reference, xenc11 SHA-256", path: signedEncrypted, keyID: "bst", transport: "oaep11-sha256", content: "aes128-gcm", cert: gatewayCert, embed: true, sign: true, ok: true},

		// Refusals.
		{name: "AES-256-CBC (not allowed by default)", path: encrypted, keyID: "issuerserial", transport: "oaep", content: "aes256-cbc", cert: gatewayCert, reason: "AES-CBC"},
		{name: "embedded key, AES-128-CBC", path: encrypted, keyID: "ski", transport: "oaep", content: "aes128-cbc", cert: gatewayCert, embed: true, reason: "AES-CBC"},
		{name: "RSA-1.5 key transport", path: encrypted, keyID: "issuerserial", transport: "rsa15", content: "aes256-gcm", cert: gatewayCert, reason: "RSA-1.5"},
		{name: "embedded key, RSA-1.5 key transport", path: encrypted, keyID: "issuerserial", transport: "rsa15", content: "aes256-gcm", cert: gatewayCert, embed: true, reason: "RSA-1.5"},
		{name: "encrypted to another certificate (the gateway's TLS certificate)", path: encrypted, keyID: "issuerserial", transport: "oaep", content: "aes256-gcm", cert: tlsCert, reason: "no decryption key matches"},
		{name: "embedded key, encrypted to another certificate, by SubjectKeyIdentifier", path: encrypted, keyID: "ski", transport: "oaep", content: "aes256-gcm", cert: tlsCert, embed: true, reason: "no decryption key matches"},
		{name: "signed, then encrypted to another certificate", path: signedEncrypted, keyID: "bst", transport: "oaep", content: "aes256-gcm", cert: tlsCert, sign: true, reason: "no decryption key matches"},
		// What WSS4J 1.6 writes for xenc11 rsa-oaep given a SHA-256
		// digest: the DigestMethod says SHA-256, the key is wrapped with
		// the JCE's default OAEP (SHA-1). Gatehouse unwraps as the
		// EncryptionMethod says, and that fails.
		{name: "WSS4J 1.6's own xenc11 rsa-oaep with SHA-256 (wrapped with SHA-1)", path: encrypted, keyID: "issuerserial", transport: "wss4j-oaep11-sha256", content: "aes256-gcm", cert: gatewayCert, embed: true, reason: "key transport"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub := t.TempDir()
			in, out := filepath.Join(sub, "request.xml"), filepath.Join(sub, "encrypted.xml")
			msg := envelope(getBalance)
			args := []string{"encrypt", tc.keyID, tc.transport, tc.content, tc.cert, in, out}
			if tc.header {
				msg = tracedEnvelope()
				args = append(args, "header={"+nsTrace+"}Trace")
			}
			if tc.sign {
				args = append(args, "sign="+signerKey+","+signerCert)
			}
			if tc.embed {
				args = append(args, "embed")
			}
			if tc.thenSign {
				args = append(args, "then-sign")
			}
			writeFile(t, in, []byte(msg))
			if _, stderr, ok := java(args...); !ok {
				t.Fatalf("WSS4J could not encrypt: %s", stderr)
			}
			sent, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(sent), "<a:AccountId>") || !strings.Contains(string(sent), "EncryptedData") {
				t.Fatalf("WSS4J's message is not encrypted:\n%s", sent)
			}
			if tc.header && (strings.Contains(string(sent), "<t:Trace") || !strings.Contains(string(sent), "EncryptedHeader")) {
				t.Fatalf("WSS4J's message has the Trace header in plaintext:\n%s", sent)
			}
			for _, opt := range []string{tc.keyID, tc.transport, tc.content} {
				for _, want := range wss4jWrites[opt] {
					if !strings.Contains(string(sent), want) {
						t.Fatalf("WSS4J's message (%s) lacks %s:\n%s", opt, want, sent)
					}
				}
			}
			sec, _, _ := strings.Cut(string(sent), "</wsse:Security>")
			if inHeader := strings.Contains(sec, "<xenc:EncryptedKey"); inHeader == tc.embed {
				t.Fatalf("EncryptedKey in the Security header: %v, want %v:\n%s", inHeader, !tc.embed, sent)
			}

			status, body := g.post(t, tc.path, sent)
			posted++
			rec := auditRecord(t, g, posted-1)
			forwarded := g.backend.take(strings.TrimPrefix(tc.path, "/services"))
			if tc.ok {
				if status != 200 {
					t.Fatalf("Gatehouse refused WSS4J's message: %d %s\naudit reason: %s\n%s", status, body, rec.Reason, sent)
				}
				fwd := string(forwarded)
				if !strings.Contains(fwd, "<a:AccountId>4711</a:AccountId>") || strings.Contains(fwd, "EncryptedData") {
					t.Errorf("the backend got %s", fwd)
				}
				if tc.header && (!strings.Contains(fwd, ">secret-4711</t:Trace>") || strings.Contains(fwd, "EncryptedHeader")) {
					t.Errorf("the backend got %s, want the Trace header in plaintext", fwd)
				}
				return
			}
			t.Logf("audit reason: %s", rec.Reason)
			if status != 500 || !strings.Contains(body, "FailedCheck") || !strings.Contains(body, "security error in the message") {
				t.Errorf("%d %s, want the FailedCheck fault", status, body)
			}
			if !strings.Contains(rec.Reason, tc.reason) {
				t.Errorf("audit reason %q, want it to mention %q", rec.Reason, tc.reason)
			}
			if forwarded != nil {
				t.Errorf("the backend got %s", forwarded)
			}
		})
	}
}

// TestWSS4JEncryptionSplices: what a second trusted consumer can do with
// another's encrypted message, since anyone may encrypt to the gateway's
// certificate. Each spliced message is built from WSS4J's output.
//
//   - Into a message encrypted, then signed, it adds an EncryptedHeader of
//     its own (and the EncryptedKey that decrypts it): the signature covers
//     the Body, and the header would come out of decryption unsigned.
//   - In a message signed, then encrypted, it replaces the encrypted Body
//     (and its EncryptedKey) with its own: the signature, verified over the
//     plaintext, no longer matches.
//
// Both are refused and nothing reaches the backend; the audit says why.
func TestWSS4JEncryptionSplices(t *testing.T) {
	java := wss4j(t)
	g := startGatehouseWith(t, encryptedServices)
	dir := t.TempDir()
	gatewayCert, _ := writePEM(t, dir, "gateway-enc", g.pki.outbound.cert, nil)
	signerCert, signerKey := writeDER(t, dir, "signer", g.pki.signer.cert, g.pki.signer.key)
	encrypt := func(name, msg string, opts ...string) *etree.Document {
		in, out := filepath.Join(dir, name+".in.xml"), filepath.Join(dir, name+".xml")
		writeFile(t, in, []byte(msg))
		if _, stderr, ok := java(append([]string{"encrypt", "issuerserial", "oaep", "aes256-gcm", gatewayCert, in, out}, opts...)...); !ok {
			t.Fatalf("WSS4J could not encrypt: %s", stderr)
		}
		doc := etree.NewDocument()
		if err := doc.ReadFromFile(out); err != nil {
			t.Fatal(err)
		}
		return doc
	}
	sign := "sign=" + signerKey + "," + signerCert
	find := func(doc *etree.Document, path string) *etree.Element {
		el := doc.FindElement(path)
		if el == nil {
			t.Fatalf("no %s in WSS4J's message", path)
		}
		return el
	}
	posted := 0
	send := func(doc *etree.Document) (int, string, audit.Record) {
		b, err := doc.WriteToBytes()
		if err != nil {
			t.Fatal(err)
		}
		status, body := g.post(t, "/services/signed-encrypted", b)
		posted++
		return status, body, auditRecord(t, g, posted-1)
	}

	t.Run("an unsigned EncryptedHeader added to a message encrypted, then signed", func(t *testing.T) {
		victim := encrypt("victim1", envelope(getBalance), sign, "then-sign")
		attacker := encrypt("attacker1", tracedEnvelope(), "header={"+nsTrace+"}Trace")
		ek := find(attacker, "//Security/EncryptedKey")
		eh := find(attacker, "//Header/EncryptedHeader")
		// Its ReferenceList keeps only the header's EncryptedData.
		rl := ek.SelectElement("ReferenceList")
		headerED := eh.SelectElement("EncryptedData").SelectAttrValue("Id", "")
		for _, ref := range rl.ChildElements() {
			if ref.SelectAttrValue("URI", "") != "#"+headerED {
				rl.RemoveChild(ref)
			}
		}
		sec := find(victim, "//Security")
		sec.InsertChildAt(find(victim, "//Security/EncryptedKey").Index()+1, ek.Copy())
		find(victim, "//Header").AddChild(eh.Copy())

		status, body, rec := send(victim)
		if status != 500 || !strings.Contains(body, "InvalidSecurity") || !strings.Contains(rec.Reason, "not covered by the Body's signature") {
			t.Errorf("%d %s\naudit reason: %s", status, body, rec.Reason)
		}
		if fwd := g.backend.take("/signed-encrypted"); fwd != nil {
			t.Errorf("the backend got %s", fwd)
		}
	})

	t.Run("the encrypted Body of a message signed, then encrypted, replaced", func(t *testing.T) {
		victim := encrypt("victim2", envelope(getBalance), sign)
		attacker := encrypt("attacker2", envelope(strings.Replace(getBalance, "4711", "666", 1)))
		vBody := find(victim, "//Body")
		for _, c := range vBody.ChildElements() {
			vBody.RemoveChild(c)
		}
		vBody.AddChild(find(attacker, "//Body/EncryptedData").Copy())
		vEK := find(victim, "//Security/EncryptedKey")
		sec := vEK.Parent()
		sec.InsertChildAt(vEK.Index(), find(attacker, "//Security/EncryptedKey").Copy())
		sec.RemoveChild(vEK)

		status, body, rec := send(victim)
		if status != 500 || !strings.Contains(body, "FailedCheck") || !strings.Contains(rec.Reason, "digest") {
			t.Errorf("%d %s\naudit reason: %s", status, body, rec.Reason)
		}
		if fwd := g.backend.take("/signed-encrypted"); fwd != nil {
			t.Errorf("the backend got %s", fwd)
		}
	})
}
