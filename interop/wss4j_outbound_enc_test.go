package interop

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/soap"
	"github.com/gatehouse/gatehouse/soap/wssec"
	"github.com/gatehouse/gatehouse/soap/xmlenc"
)

// issueWithoutSKI is c.issue without a SubjectKeyIdentifier extension: a
// recipient the Encrypter names by X509IssuerSerial.
func (c *ca) issueWithoutSKI(t *testing.T, cn string) keyPair {
	t.Helper()
	key := rsaKey(t)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(t), Subject: pkix.Name{CommonName: cn, Organization: []string{"Gatehouse Interop"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, key.Public(), c.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if len(cert.SubjectKeyId) != 0 {
		t.Fatalf("%s has a SubjectKeyIdentifier", cn)
	}
	return keyPair{cert: cert, key: key}
}

// encryptedKeyCipherValue is the CipherValue element of the EncryptedKey
// in the Security header of doc.
func encryptedKeyCipherValue(t *testing.T, doc *etree.Document) *etree.Element {
	t.Helper()
	cv := doc.FindElement("//Header/Security/EncryptedKey/CipherData/CipherValue")
	if cv == nil {
		t.Fatal("no EncryptedKey CipherValue in the Security header")
	}
	return cv
}

// TestGatehouseEncryptsWSS4JDecrypts: the Body Gatehouse's xmlenc.Encrypter
// encrypts for a backend (AES-256-GCM, the key transported with RSA-OAEP
// in an EncryptedKey at the top of the Security header) is decrypted by
// WSS4J 1.6's WSSecurityEngine holding the backend's key, whichever way
// the EncryptedKey names the backend's certificate (SubjectKeyIdentifier,
// or X509IssuerSerial for a certificate without one); signed first with
// wssec.Signer, WSS4J also verifies the signature over the decrypted Body
// against the CA. Encrypted to another certificate, or changed in transit,
// WSS4J refuses the message.
//
// The SHA-256 form (xenc11 rsa-oaep, SHA-256 and MGF1-SHA256) is beyond
// WSS4J 1.6: its BSP 1.1 profile (on by default) allows no key transport
// but rsa-1_5 and rsa-oaep-mgf1p, and without the profile it unwraps an
// xenc11 rsa-oaep key with the JCE's OAEP defaults (SHA-1, MGF1-SHA1)
// whatever the DigestMethod and MGF say. The cases show both: the same
// message with only the key rewrapped with SHA-1 is decrypted, and the
// key Gatehouse wrapped unwraps with SHA-256 and MGF1-SHA256, not SHA-1.
//
// Known Gatehouse issue (case skipped while it lasts): the X509IssuerName
// the Encrypter writes for an issuer whose DN is not in Go's attribute
// order is not the certificate's issuer DN to WSS4J.
func TestGatehouseEncryptsWSS4JDecrypts(t *testing.T) {
	java := wss4j(t)
	p := newPKI(t)
	dir := t.TempDir()
	backend := p.outbound // its certificate has a SubjectKeyIdentifier
	noSKI := p.ca.issueWithoutSKI(t, "backend without ski")
	otherOrderNoSKI := p.otherOrderCA.issueWithoutSKI(t, "partner backend without ski")
	caFile, _ := writeDER(t, dir, "ca", p.ca.cert, nil)
	otherCAFile, _ := writeDER(t, dir, "other-ca", p.otherOrderCA.cert, nil)

	const (
		skiRef          = `<wsse:KeyIdentifier ValueType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509SubjectKeyIdentifier"`
		issuerSerialRef = "<ds:X509IssuerSerial>"
		mgf1p           = `Algorithm="` + xmlenc.AlgRSAOAEPMGF1P + `"`
		oaep11          = `Algorithm="` + xmlenc.AlgRSAOAEP + `"`
	)
	// rewrapSHA1 unwraps the content key of the EncryptedKey as its
	// EncryptionMethod says (SHA-256, MGF1-SHA256) and wraps it again with
	// SHA-1 and MGF1-SHA1, leaving the EncryptionMethod as it is.
	rewrapSHA1 := func(t *testing.T, key *rsa.PrivateKey, msg []byte) []byte {
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(msg); err != nil {
			t.Fatal(err)
		}
		cv := encryptedKeyCipherValue(t, doc)
		wrapped, err := base64.StdEncoding.DecodeString(cv.Text())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rsa.DecryptOAEP(sha1.New(), nil, key, wrapped, nil); err == nil {
			t.Fatal("Gatehouse's key unwraps with SHA-1: its SHA-256 form proves nothing")
		}
		cek, err := rsa.DecryptOAEP(sha256.New(), nil, key, wrapped, nil)
		if err != nil {
			t.Fatalf("Gatehouse's key does not unwrap with SHA-256 and MGF1-SHA256: %v", err)
		}
		rewrapped, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, &key.PublicKey, cek, nil)
		if err != nil {
			t.Fatal(err)
		}
		cv.SetText(base64.StdEncoding.EncodeToString(rewrapped))
		out, err := doc.WriteToBytes()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// flipCiphertext changes a byte of the EncryptedData's ciphertext.
	flipCiphertext := func(t *testing.T, _ *rsa.PrivateKey, msg []byte) []byte {
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(msg); err != nil {
			t.Fatal(err)
		}
		cv := doc.FindElement("//Body/EncryptedData/CipherData/CipherValue")
		if cv == nil {
			t.Fatal("no EncryptedData in the Body")
		}
		ct, err := base64.StdEncoding.DecodeString(cv.Text())
		if err != nil {
			t.Fatal(err)
		}
		ct[len(ct)/2] ^= 1
		cv.SetText(base64.StdEncoding.EncodeToString(ct))
		out, err := doc.WriteToBytes()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	for _, tc := range []struct {
		name string
		// to is the certificate Gatehouse encrypts to, holder the key and
		// certificate WSS4J decrypts with.
		to, holder keyPair
		sign       bool
		sha256     bool
		// change is applied to Gatehouse's message before WSS4J gets it.
		change func(*testing.T, *rsa.PrivateKey, []byte) []byte
		// opts are Interop.java's decrypt OPTIONs.
		opts []string
		// writes are in Gatehouse's message.
		writes []string
		// out is in WSS4J's stdout when it decrypts; refused, if not
		// empty, in its stderr when it must refuse.
		out     []string
		refused string
	}{
		{name: "SubjectKeyIdentifier", to: backend, holder: backend,
			writes: []string{skiRef, mgf1p}},
		{name: "X509IssuerSerial (a certificate without SubjectKeyIdentifier)", to: noSKI, holder: noSKI,
			writes: []string{issuerSerialRef, mgf1p}},
		// An issuer whose DN is not in the order Go writes (CN, OU, O, C
		// in the DER): WSS4J (Merlin, without BouncyCastle) compares the
		// X509IssuerName as an X500Principal, in RDN order, so it must be
		// the RFC 4514 string of the DER's RDNs, last first, not Go's
		// pkix.Name order (which made WSS4J find no certificate before
		// the Encrypter wrote the DER's order).
		{name: "X509IssuerSerial, issuer DN in another order", to: otherOrderNoSKI, holder: otherOrderNoSKI,
			writes: []string{issuerSerialRef, "<ds:X509IssuerName>C=DE,O=Gatehouse Interop,OU=Partners,CN=Interop Partner CA</ds:X509IssuerName>"}},
		// wssec.Signer's Timestamp, BinarySecurityToken and Signature,
		// then the EncryptedKey before them: WSS4J decrypts, then verifies
		// the signature over the plaintext Body against the CA.
		{name: "signed, then encrypted", to: backend, holder: backend, sign: true, opts: []string{"trust=" + caFile},
			writes: []string{skiRef, "<ds:Signature"},
			out:    []string{"signed {" + nsSOAP11 + "}Body", "signed {" + soap.NSWSU + "}Timestamp", "timestamp", "signer CN=wss4j client,O=Gatehouse Interop,C=DE"}},
		{name: "signed, then encrypted, to a certificate without SubjectKeyIdentifier", to: noSKI, holder: noSKI, sign: true, opts: []string{"trust=" + caFile},
			writes: []string{issuerSerialRef, "<ds:Signature"},
			out:    []string{"signed {" + nsSOAP11 + "}Body", "signer CN=wss4j client,O=Gatehouse Interop,C=DE"}},

		// Refusals.
		{name: "encrypted to another certificate (SubjectKeyIdentifier)", to: p.server, holder: backend,
			writes: []string{skiRef}, refused: "No certificates were found for decryption"},
		{name: "encrypted to another certificate (X509IssuerSerial)", to: otherOrderNoSKI, holder: noSKI,
			writes: []string{issuerSerialRef}, refused: "No certificates were found for decryption"},
		{name: "ciphertext changed", to: backend, holder: backend, change: flipCiphertext,
			refused: "The signature or decryption was invalid"},
		// The signature is checked: signed by a certificate of a CA WSS4J
		// does not trust, the message is refused after decryption.
		{name: "signed by a signer WSS4J does not trust", to: backend, holder: backend, sign: true, opts: []string{"trust=" + otherCAFile},
			refused: "The security token could not be authenticated or authorized"},

		// The SHA-256 form and WSS4J 1.6.
		{name: "xenc11 rsa-oaep SHA-256: refused by WSS4J's BSP 1.1 profile", to: backend, holder: backend, sha256: true,
			writes:  []string{oaep11, `Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"`, `Algorithm="http://www.w3.org/2009/xmlenc11#mgf1sha256"`},
			refused: "xenc:EncryptionMethod/@Algorithm is not supported: " + xmlenc.AlgRSAOAEP},
		{name: "xenc11 rsa-oaep SHA-256, BSP off: WSS4J unwraps with SHA-1", to: backend, holder: backend, sha256: true, opts: []string{"no-bsp"},
			writes: []string{oaep11}, refused: "The signature or decryption was invalid"},
		{name: "xenc11 rsa-oaep SHA-256, BSP off, the key rewrapped with SHA-1: decrypted", to: backend, holder: backend, sha256: true, opts: []string{"no-bsp"},
			change: rewrapSHA1, writes: []string{oaep11}, out: []string{"transport " + xmlenc.AlgRSAOAEP}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub := t.TempDir()
			env, err := soap.Parse([]byte(envelope(getBalance)), soap.DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			if tc.sign {
				s := &wssec.Signer{Key: p.signer.key, Cert: p.signer.cert, Clock: time.Now}
				if err := s.Sign(env); err != nil {
					t.Fatal(err)
				}
			}
			if err := (&xmlenc.Encrypter{Recipient: tc.to.cert, SHA256: tc.sha256}).Encrypt(env); err != nil {
				t.Fatal(err)
			}
			msg, err := env.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(msg), "<a:AccountId>") || !strings.Contains(string(msg), "EncryptedData") {
				t.Fatalf("Gatehouse's message is not encrypted:\n%s", msg)
			}
			for _, want := range tc.writes {
				if !strings.Contains(string(msg), want) {
					t.Fatalf("Gatehouse's message lacks %s:\n%s", want, msg)
				}
			}
			if tc.change != nil {
				msg = tc.change(t, tc.to.key, msg)
			}
			certFile, keyFile := writeDER(t, sub, "backend", tc.holder.cert, tc.holder.key)
			in, out := filepath.Join(sub, "encrypted.xml"), filepath.Join(sub, "decrypted.xml")
			writeFile(t, in, msg)
			stdout, stderr, ok := java(append([]string{"decrypt", keyFile, certFile, in, out}, tc.opts...)...)
			if tc.refused != "" {
				if ok {
					t.Fatalf("WSS4J decrypted what it must refuse:\n%s\n%s", stdout, msg)
				}
				t.Logf("WSS4J: %s", stderr)
				if !strings.HasPrefix(stderr, "refused: ") || !strings.Contains(stderr, tc.refused) {
					t.Errorf("WSS4J failed with %q, want a refusal saying %q", stderr, tc.refused)
				}
				return
			}
			if !ok {
				t.Fatalf("WSS4J refused Gatehouse's message: %s\n%s", stderr, msg)
			}
			t.Logf("WSS4J:\n%s", stdout)
			for _, want := range append([]string{"decrypted {" + nsSOAP11 + "}Body " + xmlenc.AlgAES256GCM}, tc.out...) {
				if !strings.Contains(stdout, want) {
					t.Errorf("WSS4J's result lacks %q:\n%s", want, stdout)
				}
			}
			plain, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			doc := etree.NewDocument()
			if err := doc.ReadFromBytes(plain); err != nil {
				t.Fatal(err)
			}
			body := doc.FindElement("/Envelope/Body")
			if body == nil {
				t.Fatalf("no Body in WSS4J's output:\n%s", plain)
			}
			b := etree.NewDocument()
			b.SetRoot(body.Copy())
			bodyXML, _ := b.WriteToString()
			if !strings.Contains(bodyXML, "<a:AccountId>4711</a:AccountId>") || strings.Contains(bodyXML, "EncryptedData") {
				t.Errorf("WSS4J's decrypted Body is %s", bodyXML)
			}
		})
	}
}
