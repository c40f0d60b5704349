package interop

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/soap"
	"github.com/gatehouse/gatehouse/soap/wssec"
)

// encryptedServices take XML-encrypted Bodies, decrypted with the
// gateway's key (outbound.crt/key of the interop PKI): "encrypted" needs a
// Timestamp and an encrypted Body, "signed-encrypted" also a signature
// over Body and Timestamp made before the encryption.
var encryptedServices = extraConfig{
	flows: `<flow from="interop" to="encrypted"/><flow from="interop" to="signed-encrypted"/>`,
	rules: `<rule id="encrypted" effect="allow" service="encrypted" operation="*"><caller prefix="spiffe://interop.test/"/></rule>` +
		`<rule id="signed-encrypted" effect="allow" service="signed-encrypted" operation="*"><caller prefix="spiffe://interop.test/"/></rule>`,
	services: `<service name="encrypted" path="/services/encrypted" soapVersions="1.1"><backend url="BACKEND/encrypted"/>
    <security require="timestamp" encryptedParts="Body"><decryptionKey certificate="outbound.crt" key="outbound.key"/></security>
    <schema file="accounts.xsd"/></service>
  <service name="signed-encrypted" path="/services/signed-encrypted" soapVersions="1.1"><backend url="BACKEND/signed-encrypted"/>
    <security trust="interop" require="timestamp signature" signedParts="Body Timestamp" encryptedParts="Body"><decryptionKey certificate="outbound.crt" key="outbound.key"/></security>
    <schema file="accounts.xsd"/></service>`,
}

// xmlsecEncrypt has xmlsec1 encrypt the content of msg's Body to cert
// with the given content and key-transport algorithms, from a template
// whose EncryptedKey is in the EncryptedData's KeyInfo (as xmlsec1 writes
// it) and names the recipient's certificate.
func xmlsecEncrypt(t *testing.T, dir, msg, cert, dataAlg, keyAlg, sessionKey string) string {
	t.Helper()
	xmlsec1 := needTool(t, "xmlsec1", "xmlsec1")
	tmpl := `<xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Id="ED1" Type="http://www.w3.org/2001/04/xmlenc#Content">` +
		`<xenc:EncryptionMethod Algorithm="` + dataAlg + `"/><dsig:KeyInfo xmlns:dsig="http://www.w3.org/2000/09/xmldsig#">` +
		`<xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="` + keyAlg + `"/><dsig:KeyInfo><dsig:X509Data><dsig:X509Certificate/></dsig:X509Data></dsig:KeyInfo>` +
		`<xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedKey></dsig:KeyInfo>` +
		`<xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedData>`
	writeFile(t, filepath.Join(dir, "tmpl.xml"), []byte(tmpl))
	writeFile(t, filepath.Join(dir, "plain.xml"), []byte(msg))
	out, stderr, ok := run(t, dir, xmlsec1, "encrypt", "--pubkey-cert-pem", cert, "--session-key", sessionKey,
		"--xml-data", "plain.xml", "--node-xpath", "/*[local-name()='Envelope']/*[local-name()='Body']", "tmpl.xml")
	if !ok {
		t.Fatalf("xmlsec1 encrypt: %s", stderr)
	}
	return out
}

func timestampedEnvelope() string {
	now := time.Now().UTC()
	return `<soap:Envelope xmlns:soap="` + nsSOAP11 + `"><soap:Header>` +
		`<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">` +
		`<wsu:Timestamp><wsu:Created>` + now.Format("2006-01-02T15:04:05Z") + `</wsu:Created><wsu:Expires>` + now.Add(time.Minute).Format("2006-01-02T15:04:05Z") + `</wsu:Expires></wsu:Timestamp>` +
		`</wsse:Security></soap:Header><soap:Body>` + getBalance + `</soap:Body></soap:Envelope>`
}

// TestXmlsec1EncryptsGatehouseDecrypts: xmlsec1 encrypts the Body (AES-GCM
// content, RSA-OAEP key transport to the gateway's certificate), alone and
// after a WS-Security signature over Body and Timestamp (sign then
// encrypt); Gatehouse decrypts, verifies and forwards the plaintext. What
// it must refuse — CBC by default, RSA-1.5, a changed ciphertext, a
// plaintext Body where the service wants it encrypted, an encrypted
// Body to a service that has no key — gets one and the
// same FailedCheck fault, and nothing reaches the backend.
func TestXmlsec1EncryptsGatehouseDecrypts(t *testing.T) {
	g := startGatehouseWith(t, encryptedServices)
	dir := t.TempDir()
	cert, _ := writePEM(t, dir, "gateway-enc", g.pki.outbound.cert, nil)
	const gcm, cbc = "http://www.w3.org/2009/xmlenc11#aes256-gcm", "http://www.w3.org/2001/04/xmlenc#aes256-cbc"
	const oaep, rsa15 = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p", "http://www.w3.org/2001/04/xmlenc#rsa-1_5"

	signed := func() string {
		env, err := soap.Parse([]byte(envelope(getBalance)), soap.DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		s := &wssec.Signer{Key: g.pki.signer.key, Cert: g.pki.signer.cert, Clock: time.Now}
		if err := s.Sign(env); err != nil {
			t.Fatal(err)
		}
		out, err := env.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	cipherValue := regexp.MustCompile(`(<xenc:CipherData><xenc:CipherValue>)([^<]*)(</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData>)`)
	flip := func(msg string) string {
		return cipherValue.ReplaceAllStringFunc(msg, func(m string) string {
			p := cipherValue.FindStringSubmatch(m)
			ct, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(p[2]), ""))
			if err != nil {
				t.Fatal(err)
			}
			ct[len(ct)/2] ^= 1
			return p[1] + base64.StdEncoding.EncodeToString(ct) + p[3]
		})
	}
	for _, tc := range []struct {
		name, path, msg string
		ok              bool
	}{
		{"encrypted Body (AES-256-GCM, RSA-OAEP)", "/services/encrypted", xmlsecEncrypt(t, dir, timestampedEnvelope(), cert, gcm, oaep, "aes-256"), true},
		{"signed, then encrypted", "/services/signed-encrypted", xmlsecEncrypt(t, dir, signed(), cert, gcm, oaep, "aes-256"), true},
		{"AES-CBC (not allowed by default)", "/services/encrypted", xmlsecEncrypt(t, dir, timestampedEnvelope(), cert, cbc, oaep, "aes-256"), false},
		{"RSA-1.5 key transport", "/services/encrypted", xmlsecEncrypt(t, dir, timestampedEnvelope(), cert, gcm, rsa15, "aes-256"), false},
		{"ciphertext changed", "/services/encrypted", flip(xmlsecEncrypt(t, dir, timestampedEnvelope(), cert, gcm, oaep, "aes-256")), false},
		{"Body not encrypted", "/services/encrypted", timestampedEnvelope(), false},
		{"encrypted to a service without a decryption key", "/services/accounts", xmlsecEncrypt(t, dir, signed(), cert, gcm, oaep, "aes-256"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := g.post(t, tc.path, []byte(tc.msg))
			backend := strings.TrimPrefix(tc.path, "/services")
			forwarded := g.backend.take(backend)
			if tc.ok {
				if status != 200 {
					t.Fatalf("%d %s", status, body)
				}
				if !strings.Contains(string(forwarded), "<a:AccountId>4711</a:AccountId>") || strings.Contains(string(forwarded), "EncryptedData") {
					t.Errorf("the backend got %s", forwarded)
				}
				return
			}
			if status != 500 || !strings.Contains(body, "FailedCheck") || !strings.Contains(body, "security error in the message") {
				t.Errorf("%d %s, want the FailedCheck fault", status, body)
			}
			if forwarded != nil {
				t.Errorf("the backend got %s", forwarded)
			}
		})
	}
	_ = os.Remove(filepath.Join(dir, "plain.xml"))
}
