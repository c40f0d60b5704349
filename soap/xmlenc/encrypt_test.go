package xmlenc

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/soap"
)

// A request whose Body content uses prefixes declared on the Envelope (the
// plaintext must carry them) and the default namespace, with text between.
const outbound = `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:a="urn:gatehouse:demo:accounts" xmlns="urn:default">` +
	`<soap:Header><a:Trace>t-1</a:Trace></soap:Header><soap:Body>
  <a:GetBalance><a:AccountId>4711</a:AccountId><Note>plain &amp; simple</Note></a:GetBalance>
</soap:Body></soap:Envelope>`

// TestEncryptDecryptRoundTrip: what Encrypter writes, Decrypter reads back
// to the same content, with either OAEP form, SKI or IssuerSerial; the
// Body holds nothing but the EncryptedData, and the EncryptedKey comes
// first in the Security header (before a signature's, were there one).
func TestEncryptDecryptRoundTrip(t *testing.T) {
	kp := testKeyPair(t, "backend")
	noSKI := testKeyPair(t, "backend-no-ski")
	noSKI.Certificate.SubjectKeyId = nil
	for _, tc := range []struct {
		name   string
		kp     KeyPair
		sha256 bool
		want   string
	}{
		{"rsa-oaep-mgf1p, SKI", kp, false, "#X509SubjectKeyIdentifier"},
		{"xenc11 rsa-oaep SHA-256, SKI", kp, true, "mgf1sha256"},
		{"IssuerSerial", noSKI, false, "X509IssuerSerial"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, err := soap.Parse([]byte(outbound), soap.DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			want := serializeChildren(t, env)
			e := &Encrypter{Recipient: tc.kp.Certificate, SHA256: tc.sha256}
			if err := e.Encrypt(env); err != nil {
				t.Fatal(err)
			}
			out, err := env.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(out), "<a:AccountId>") || !strings.Contains(string(out), tc.want) || !strings.Contains(string(out), "<a:Trace>t-1</a:Trace>") {
				t.Fatalf("encrypted message:\n%s", out)
			}
			got, err := soap.Parse(out, soap.DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			if kids := got.Body.ChildElements(); len(kids) != 1 || kids[0].Tag != "EncryptedData" {
				t.Fatalf("Body holds %v", kids)
			}
			sec := got.HeaderBlocks()[0]
			if sec.Tag != "Security" || sec.ChildElements()[0].Tag != "EncryptedKey" {
				t.Fatalf("first header %s", sec.Tag)
			}
			d := &Decrypter{Keys: []KeyPair{tc.kp}, Limits: soap.DefaultLimits()}
			res, err := d.Decrypt(got, sec)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Body || serializeChildren(t, got) != want {
				t.Errorf("decrypted Body content\n%s\nwant\n%s", serializeChildren(t, got), want)
			}
			if got.Operation() != (soap.QName{Space: "urn:gatehouse:demo:accounts", Local: "GetBalance"}) {
				t.Errorf("operation %v", got.Operation())
			}
		})
	}
}

// serializeChildren is the Body's content as text, with its element's
// namespaces: what must survive the round trip.
func serializeChildren(t *testing.T, env *soap.Envelope) string {
	t.Helper()
	var b strings.Builder
	for _, c := range env.Body.ChildElements() {
		b.WriteString("{" + c.NamespaceURI() + "}" + c.Tag + ":")
		for _, d := range c.FindElements(".//*") {
			b.WriteString("{" + d.NamespaceURI() + "}" + d.Tag + "=" + d.Text() + ";")
		}
	}
	return b.String()
}

// TestXmlsec1DecryptsEncrypter: xmlsec1 (libxmlsec) decrypts what the
// Encrypter wrote with the recipient's private key, following the
// EncryptedData's RetrievalMethod to the EncryptedKey, and gets the Body
// content back. (xmlsec1 1.2 has no xenc11 rsa-oaep: the SHA-256 form is
// checked by the round trip only.)
func TestXmlsec1DecryptsEncrypter(t *testing.T) {
	xmlsec1, err := exec.LookPath("xmlsec1")
	if err != nil {
		t.Fatal("xmlsec1 is not installed: run ./build.sh deps (Debian package xmlsec1)")
	}
	kp := testKeyPair(t, "backend")
	dir := t.TempDir()
	der, err := x509.MarshalPKCS8PrivateKey(kp.Key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "backend.key")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, sha256 := range []bool{false} {
		env, err := soap.Parse([]byte(outbound), soap.DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		if err := (&Encrypter{Recipient: kp.Certificate, SHA256: sha256}).Encrypt(env); err != nil {
			t.Fatal(err)
		}
		out, _ := env.Bytes()
		msg := filepath.Join(dir, "encrypted.xml")
		if err := os.WriteFile(msg, out, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(xmlsec1, "decrypt", "--privkey-pem", keyFile, "--id-attr:Id", "EncryptedKey", "--id-attr:Id", "EncryptedData", msg)
		plain, err := cmd.Output()
		if err != nil {
			var stderr string
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("sha256=%v: xmlsec1 decrypt: %v\n%s\n%s", sha256, err, stderr, out)
		}
		if !strings.Contains(string(plain), "<a:AccountId>4711</a:AccountId>") || strings.Contains(string(plain), "EncryptedData") {
			t.Errorf("sha256=%v: xmlsec1 decrypted\n%s", sha256, plain)
		}
	}
}
