package wssec

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/soap"
)

// Interoperability with third-party WS-Security stacks from Debian packages
// (installed by ./build.sh deps): xmlsec1 and python3-zeep (with
// python3-xmlsec). A missing tool fails the test: these checks are part of
// the suite, not optional.

const (
	bodyIDAttr      = "http://schemas.xmlsoap.org/soap/envelope/:Body"
	timestampIDAttr = soap.NSWSU + ":Timestamp"
	debianPython    = "/usr/bin/python3" // Debian's, where python3-zeep lives
)

func need(t *testing.T, tool string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		t.Fatalf("%s is not installed: run ./build.sh deps (it installs the interop peers)", tool)
	}
	return path
}

func writePEM(t *testing.T, dir string, kp keyPair) (keyFile, certFile string) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(kp.key.(crypto.Signer))
	if err != nil {
		t.Fatal(err)
	}
	keyFile, certFile = filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem")
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600))
	must(os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: kp.cert.Raw}), 0o644))
	return keyFile, certFile
}

func run(t *testing.T, stdin []byte, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// realClockPKI is a test PKI valid now: third-party stacks stamp messages
// with the real time.
func realClockPKI(t *testing.T) (*testPKI, time.Time) {
	at := time.Now().UTC().Truncate(time.Second)
	return newPKIAt(t, at), at
}

// TestInteropXmlsec1VerifiesGatehouse: a message signed by wssec.Sign
// verifies with xmlsec1 --verify.
func TestInteropXmlsec1VerifiesGatehouse(t *testing.T) {
	xmlsec1 := need(t, "xmlsec1")
	p, at := realClockPKI(t)
	for name, kp := range map[string]keyPair{"rsa": p.rsa, "ecdsa": p.ecdsa} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			_, certFile := writePEM(t, dir, kp)
			env := parse(t, plainEnvelope(soap.V11))
			if err := (&Signer{Key: kp.key, Cert: kp.cert, Clock: func() time.Time { return at }}).Sign(env); err != nil {
				t.Fatal(err)
			}
			msg := filepath.Join(dir, "signed.xml")
			out, _ := env.Bytes()
			if err := os.WriteFile(msg, out, 0o644); err != nil {
				t.Fatal(err)
			}
			run(t, nil, xmlsec1, "--verify", "--pubkey-cert-pem", certFile,
				"--id-attr:Id", bodyIDAttr, "--id-attr:Id", timestampIDAttr, msg)
			// xmlsec1 prints its verdict on stderr and exits non-zero on failure;
			// run already failed the test in that case. Tamper to prove the
			// check bites.
			bad := bytes.Replace(out, []byte("<p:Id>42</p:Id>"), []byte("<p:Id>43</p:Id>"), 1)
			if err := os.WriteFile(msg, bad, 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(xmlsec1, "--verify", "--pubkey-cert-pem", certFile,
				"--id-attr:Id", bodyIDAttr, "--id-attr:Id", timestampIDAttr, msg)
			if err := cmd.Run(); err == nil {
				t.Error("xmlsec1 accepted a tampered message: the interop check proves nothing")
			}
		})
	}
}

// xmlsec1Template is a SOAP 1.1 request with a detached signature template
// over Body and Timestamp (exclusive C14N, RSA-SHA256, SHA-256 digests).
const xmlsec1Template = `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">
<soap:Header><wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" soap:mustUnderstand="1">
<wsu:Timestamp wsu:Id="TS-1"><wsu:Created>CREATED</wsu:Created><wsu:Expires>EXPIRES</wsu:Expires></wsu:Timestamp>
<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>
<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>
<ds:Reference URI="#Body-1"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference>
<ds:Reference URI="#TS-1"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference>
</ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data><ds:X509Certificate/></ds:X509Data></ds:KeyInfo></ds:Signature>
</wsse:Security></soap:Header>
<soap:Body wsu:Id="Body-1"><p:GetInvoice xmlns:p="urn:example:billing"><p:Id>42</p:Id></p:GetInvoice></soap:Body></soap:Envelope>`

// TestInteropGatehouseVerifiesXmlsec1: a message signed by xmlsec1 verifies
// in Gatehouse, and Gatehouse still refuses it when tampered.
func TestInteropGatehouseVerifiesXmlsec1(t *testing.T) {
	xmlsec1 := need(t, "xmlsec1")
	p, at := realClockPKI(t)
	dir := t.TempDir()
	keyFile, certFile := writePEM(t, dir, p.rsa)
	tmpl := strings.NewReplacer("CREATED", at.Format(time.RFC3339), "EXPIRES", at.Add(5*time.Minute).Format(time.RFC3339)).Replace(xmlsec1Template)
	tmplFile := filepath.Join(dir, "template.xml")
	if err := os.WriteFile(tmplFile, []byte(tmpl), 0o644); err != nil {
		t.Fatal(err)
	}
	out := run(t, nil, xmlsec1, "--sign", "--privkey-pem", keyFile+","+certFile,
		"--id-attr:Id", bodyIDAttr, "--id-attr:Id", timestampIDAttr, tmplFile)

	vr := &Verifier{Trust: p.trust(), Clock: func() time.Time { return at }, Policy: strictPolicy()}
	v, err := vr.Verify(parse(t, string(out)))
	if err != nil {
		t.Fatalf("xmlsec1's message refused: %v\n%s", err, out)
	}
	if v.Signer == nil || !v.Signer.Certificate.Equal(p.rsa.cert) {
		t.Errorf("signer %+v, want the RSA key", v.Signer)
	}
	tampered := bytes.Replace(out, []byte("<p:Id>42</p:Id>"), []byte("<p:Id>43</p:Id>"), 1)
	if _, err := vr.Verify(parse(t, string(tampered))); err == nil || faultCode(t, err) != "FailedCheck" {
		t.Errorf("tampered xmlsec1 message: %v", err)
	}
}

// TestInteropZeep: python3-zeep's UsernameToken (PasswordDigest) and
// BinarySignature (RSA-SHA256 over Body and Timestamp) verify in Gatehouse.
func TestInteropZeep(t *testing.T) {
	if _, err := os.Stat(debianPython); err != nil {
		t.Fatalf("%s missing: run ./build.sh deps", debianPython)
	}
	if err := exec.Command(debianPython, "-c", "import zeep, xmlsec").Run(); err != nil {
		t.Fatalf("python3-zeep or python3-xmlsec missing (%v): run ./build.sh deps", err)
	}
	p, at := realClockPKI(t)
	dir := t.TempDir()
	keyFile, certFile := writePEM(t, dir, p.rsa)
	out := run(t, []byte(plainEnvelope(soap.V11)), debianPython, "testdata/zeep_sign.py", keyFile, certFile, "legacy", "legacy-secret")

	users := NewUsers(map[string]Credential{"legacy": SecretCredential([]byte("legacy-secret"))}, 1)
	pol := strictPolicy()
	pol.RequireUsernameToken = true
	vr := &Verifier{Trust: p.trust(), Users: users, Clock: func() time.Time { return at }, Policy: pol}
	env := parse(t, string(out))
	v, err := vr.Verify(env)
	if err != nil {
		t.Fatalf("zeep's message refused: %v\n%s", err, out)
	}
	if v.UsernameToken == nil || !v.UsernameToken.Digest || v.UsernameToken.Username != "legacy" {
		t.Errorf("username token %+v", v.UsernameToken)
	}
	if !v.Signed(env.Body) || !v.Signed(v.Timestamp.Element) {
		t.Error("zeep signature does not cover Body and Timestamp")
	}
	wrongUsers := NewUsers(map[string]Credential{"legacy": SecretCredential([]byte("other"))}, 1)
	vr.Users = wrongUsers
	if _, err := vr.Verify(parse(t, string(out))); err == nil || faultCode(t, err) != "FailedAuthentication" {
		t.Errorf("zeep digest with the wrong secret: %v", err)
	}
}
