package interop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/samlsts"
)

const (
	stsEntity   = "urn:gatehouse:sts"
	spEntity    = "urn:interop:sp"
	spACS       = "https://sp.interop.test/acs"
	aliceNameID = "alice@example.com"
	debianPy    = "/usr/bin/python3" // Debian's, where python3-lasso lives
)

// stsIssuer is Gatehouse's STS issuer with an RSA-2048 key (the demo
// default) or, with ecdsa, a P-256 one.
func stsIssuer(t *testing.T, c *ca, ecdsaKey bool) (*samlsts.Issuer, *x509.Certificate) {
	t.Helper()
	var key crypto.Signer
	var cert *x509.Certificate
	if ecdsaKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: serial(t), Subject: pkix.Name{CommonName: "Gatehouse STS (ECDSA)"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, k.Public(), c.key)
		if err != nil {
			t.Fatal(err)
		}
		if cert, err = x509.ParseCertificate(der); err != nil {
			t.Fatal(err)
		}
		key = k
	} else {
		kp := c.issue(t, leaf{subject: pkix.Name{CommonName: "Gatehouse STS", Organization: []string{"Gatehouse Interop"}}})
		key, cert = kp.key, kp.cert
	}
	return &samlsts.Issuer{EntityID: stsEntity, Key: key, Cert: cert, Clock: time.Now}, cert
}

// issueAssertion issues a bearer assertion for the relying party spEntity
// (Recipient spACS) about alice, as the STS answers an Issue request, and
// serializes it.
func issueAssertion(t *testing.T, is *samlsts.Issuer) string {
	t.Helper()
	el, err := is.Issue(samlsts.IssueRequest{
		Subject: aliceNameID, Format: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
		Audience: spEntity, Lifetime: 5 * time.Minute, Method: samlsts.CMBearer, Recipient: spACS,
		AuthnContext: samlsts.AuthnPasswordProtectedTransport, AuthnInstant: time.Now(),
		Roles: []string{"teller"}, Attributes: map[string][]string{"racfUserId": {"ALICE01"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	doc.SetRoot(el)
	s, err := doc.WriteToString()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// samlCase is an assertion a relying party must accept (ok) or refuse.
type samlCase struct {
	name, assertion, cert string
	ok                    bool
}

// samlCases are the issued RSA assertion, the same changed after signing,
// and the same checked with another certificate.
func samlCases(t *testing.T, dir string) []samlCase {
	t.Helper()
	c := newCA(t, pkix.RDNSequence{attr(oidCN, "Interop STS CA")})
	is, cert := stsIssuer(t, c, false)
	_, rogueCert := stsIssuer(t, c, false)
	certFile, _ := writePEM(t, dir, "sts", cert, nil)
	rogueFile, _ := writePEM(t, dir, "rogue", rogueCert, nil)
	a := issueAssertion(t, is)
	tampered := strings.Replace(a, "ALICE01", "ADMIN01", 1)
	if tampered == a {
		t.Fatalf("no attribute value in\n%s", a)
	}
	return []samlCase{
		{"issued (RSA-2048)", a, certFile, true},
		{"attribute changed after signing", tampered, certFile, false},
		{"checked with another certificate", a, rogueFile, false},
	}
}

func writeAssertion(t *testing.T, dir string, i int, a string) string {
	t.Helper()
	f := filepath.Join(dir, fmt.Sprintf("assertion-%d.xml", i))
	writeFile(t, f, []byte(a))
	return f
}

// TestXmlsec1VerifiesSTSAssertion: xmlsec1 verifies the signature of an
// assertion issued by Gatehouse's STS with the STS certificate alone.
func TestXmlsec1VerifiesSTSAssertion(t *testing.T) {
	xmlsec1 := needTool(t, "xmlsec1", "xmlsec1")
	dir := t.TempDir()
	for i, c := range samlCases(t, dir) {
		f := writeAssertion(t, dir, i, c.assertion)
		_, stderr, ok := run(t, dir, xmlsec1, "--verify", "--pubkey-cert-pem", c.cert,
			"--id-attr:ID", samlsts.NSAssertion+":Assertion", f)
		if ok != c.ok {
			t.Errorf("%s: xmlsec1 verified %v, want %v\n%s", c.name, ok, c.ok, stderr)
		}
	}
}

// TestXMLCryptoVerifiesSTSAssertion: xml-crypto (node) verifies an RSA
// assertion issued by Gatehouse's STS with the STS certificate, and
// refuses it changed or checked with another certificate. It has no
// ECDSA: an ECDSA-signed assertion is refused, which is why the demo STS
// signs with RSA-2048.
func TestXMLCryptoVerifiesSTSAssertion(t *testing.T) {
	node := needNode(t)
	script, err := filepath.Abs("node/verify-assertion.js")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cases := samlCases(t, dir)
	ec, ecCert := stsIssuer(t, newCA(t, pkix.RDNSequence{attr(oidCN, "Interop STS CA")}), true)
	ecFile, _ := writePEM(t, dir, "sts-ec", ecCert, nil)
	cases = append(cases, samlCase{"issued (ECDSA P-256): xml-crypto has no ECDSA", issueAssertion(t, ec), ecFile, false})
	for i, c := range cases {
		f := writeAssertion(t, dir, i, c.assertion)
		out, stderr, ok := run(t, dir, node, script, c.cert, f)
		var r struct {
			OK    bool   `json:"ok"`
			Error string `json:"error"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%s: verify-assertion.js printed %q (%v); stderr:\n%s", c.name, out, err, stderr)
		}
		if r.OK != c.ok || ok != c.ok {
			t.Errorf("%s: xml-crypto verified %v (%s), want %v", c.name, r.OK, r.Error, c.ok)
		} else if !c.ok {
			t.Logf("%s: xml-crypto refused it: %s", c.name, r.Error)
		}
	}
}

// TestLassoAcceptsSTSAssertion: lasso, as a SAML 2.0 service provider
// that knows the STS as an identity provider by its metadata (the STS
// certificate), accepts an assertion issued by Gatehouse's STS for it and
// reads the subject; changed after signing, or with other metadata, it
// refuses it. Like xml-crypto it refuses an ECDSA-signed assertion.
func TestLassoAcceptsSTSAssertion(t *testing.T) {
	if _, err := os.Stat(debianPy); err != nil {
		t.Fatalf("%s missing: run ./build.sh deps", debianPy)
	}
	if out, err := exec.Command(debianPy, "-c", "import lasso").CombinedOutput(); err != nil {
		t.Fatalf("python3-lasso missing (%v: %s): run ./build.sh deps (Debian package python3-lasso)", err, strings.TrimSpace(string(out)))
	}
	script, err := filepath.Abs("python/lasso_verify.py")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cases := samlCases(t, dir)
	ec, ecCert := stsIssuer(t, newCA(t, pkix.RDNSequence{attr(oidCN, "Interop STS CA")}), true)
	ecFile, _ := writePEM(t, dir, "sts-ec", ecCert, nil)
	cases = append(cases, samlCase{"issued (ECDSA P-256): lasso verifies no ECDSA", issueAssertion(t, ec), ecFile, false})
	for i, c := range cases {
		f := writeAssertion(t, dir, i, c.assertion)
		out, stderr, ok := run(t, dir, debianPy, script, stsEntity, c.cert, spEntity, spACS, f)
		var r struct {
			OK     bool   `json:"ok"`
			NameID string `json:"nameid"`
			Error  string `json:"error"`
		}
		if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &r); err != nil {
			t.Fatalf("%s: lasso_verify.py printed %q (%v); stderr:\n%s", c.name, out, err, stderr)
		}
		if r.OK != c.ok || ok != c.ok {
			t.Errorf("%s: lasso accepted %v (%s), want %v", c.name, r.OK, r.Error, c.ok)
		}
		if !c.ok {
			t.Logf("%s: lasso refused it: %s", c.name, r.Error)
		}
		if c.ok && r.NameID != aliceNameID {
			t.Errorf("%s: lasso read NameID %q", c.name, r.NameID)
		}
	}
}
