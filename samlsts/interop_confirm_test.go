package samlsts

import (
	"crypto/x509"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/soap"
	"github.com/gatehouse/gatehouse/soap/wssec"
)

// Subject confirmation rules checked against assertions and messages that
// an independent implementation signed: xmlsec1 signs the assertions (as
// their issuer), python3-xmlsec (testdata/xmlsec_sign_envelope.py) signs
// the messages that carry them.

const (
	sigRSASHA256   = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	gwRecipient    = "https://gatehouse.example:8443/accounts"
	otherRecipient = "https://gatehouse.example:8443/payments"
)

// xmlsec1Assertion signs samlTemplate, filled by assertionVars with more,
// with xmlsec1 as the STS (its RSA key).
func xmlsec1Assertion(t *testing.T, k *keys, at time.Time, more ...string) (assertion, id string) {
	t.Helper()
	xmlsec1 := needTool(t, "xmlsec1")
	dir := t.TempDir()
	certFile, keyFile := writeKeyPair(t, dir, "sts", k.stsRSA, true)
	id = newAssertionID(t)
	return xmlsec1Sign(t, xmlsec1, dir, assertionVars(at, id, sigRSASHA256, more...), keyFile, certFile), id
}

// TestInteropBearerRecipient: a bearer assertion whose Recipient names
// another endpoint is refused; naming this one, it is accepted.
func TestInteropBearerRecipient(t *testing.T) {
	k, at := interopKeys(t)
	v := verifier(k)
	v.Clock, v.Recipients = func() time.Time { return at }, []string{gwRecipient}
	for _, tc := range []struct {
		name, recipient, wantErr string
	}{
		{"this endpoint", gwRecipient, ""},
		{"another endpoint", otherRecipient, `Recipient "` + otherRecipient + `" is not this endpoint`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, id := xmlsec1Assertion(t, k, at, "SCD_ATTRS", ` Recipient="`+tc.recipient+`"`)
			m := message(t, a, nil, false)
			m.Caller, m.CallerCert = consumerID, k.client.cert
			p, key, err := v.Verify(m)
			if tc.wantErr != "" {
				wantRefused(t, err, tc.wantErr)
				return
			}
			if err != nil {
				t.Fatalf("xmlsec1's assertion refused: %v\n%s", err, a)
			}
			if p.Confirmation != CMBearer || p.AssertionID != id || key == nil {
				t.Errorf("principal %+v, replay key %+v", p, key)
			}
		})
	}
}

// TestInteropHolderOfKeyOneTimeUse: a holder-of-key assertion with
// OneTimeUse is single use like a bearer one; without it, it is not.
func TestInteropHolderOfKeyOneTimeUse(t *testing.T) {
	k, at := interopKeys(t)
	v := verifier(k)
	v.Clock = func() time.Time { return at }
	keyInfo := `<ds:KeyInfo xmlns:ds="` + nsDSig + `"><ds:X509Data><ds:X509Certificate>` +
		base64.StdEncoding.EncodeToString(k.client.cert.Raw) + `</ds:X509Certificate></ds:X509Data></ds:KeyInfo>`
	for _, tc := range []struct {
		name, conditions string
		oneTime          bool
	}{
		{"OneTimeUse", `<saml:OneTimeUse/>`, true},
		{"no OneTimeUse", ``, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, id := xmlsec1Assertion(t, k, at, "CM_METHOD", CMHolderOfKey, "SCD_CONTENT", keyInfo, "EXTRA_CONDITIONS", tc.conditions)
			m := message(t, a, nil, false)
			m.Caller, m.CallerCert = consumerID, k.client.cert
			p, key, err := v.Verify(m)
			if err != nil {
				t.Fatalf("xmlsec1's assertion refused: %v\n%s", err, a)
			}
			if p.Confirmation != CMHolderOfKey {
				t.Fatalf("confirmation %s", p.Confirmation)
			}
			if !tc.oneTime {
				if key != nil {
					t.Errorf("replay key %+v for a holder-of-key assertion without OneTimeUse", key)
				}
				return
			}
			want := at.Add(5*time.Minute + v.skew()).Sub(at)
			if key == nil || key.Kind != "assertion" || string(key.Value) != stsEntity+"\x00"+id || key.TTL != want {
				t.Errorf("replay key %+v, want assertion %q for %s", key, stsEntity+"\x00"+id, want)
			}
		})
	}
}

// envelopeTemplate is a SOAP 1.1 request carrying ASSERTION in its Security
// header, followed by SIGNATURES (templates from sigTemplate).
const envelopeTemplate = `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsu="` + soap.NSWSU + `">` +
	`<soap:Header><wsse:Security xmlns:wsse="` + soap.NSWSSE + `" soap:mustUnderstand="1">` +
	`<wsu:Timestamp wsu:Id="TS-1"><wsu:Created>CREATED</wsu:Created><wsu:Expires>TS_EXPIRES</wsu:Expires></wsu:Timestamp>` +
	`ASSERTION SIGNATURES</wsse:Security></soap:Header>` +
	`<soap:Body wsu:Id="Body-1"><a:GetBalance xmlns:a="urn:gatehouse:demo:accounts"><a:AccountId>1</a:AccountId></a:GetBalance></soap:Body></soap:Envelope>`

// sigTemplate is a detached ECDSA-SHA256 signature template over the
// elements with the IDs refs.
func sigTemplate(refs ...string) string {
	s := `<ds:Signature xmlns:ds="` + nsDSig + `"><ds:SignedInfo>` +
		`<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>` +
		`<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"/>`
	for _, r := range refs {
		s += `<ds:Reference URI="#` + r + `"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>` +
			`<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference>`
	}
	return s + `</ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data><ds:X509Certificate/></ds:X509Data></ds:KeyInfo></ds:Signature>`
}

// TestInteropSenderVouchesOneSignature: a sender-vouches assertion is
// confirmed by a message signature only when one signature of an attesting
// entity covers both the Body and the assertion. Both signing keys are
// trusted message signers and attesting entities here, so only the rule
// decides.
func TestInteropSenderVouchesOneSignature(t *testing.T) {
	if _, err := os.Stat(debianPython); err != nil {
		t.Fatalf("%s missing: run ./build.sh deps", debianPython)
	}
	if out, err := exec.Command(debianPython, "-c", "import xmlsec, lxml").CombinedOutput(); err != nil {
		t.Fatalf("python3-xmlsec or python3-lxml missing (%v: %s): run ./build.sh deps", err, out)
	}
	script, err := filepath.Abs("testdata/xmlsec_sign_envelope.py")
	if err != nil {
		t.Fatal(err)
	}
	k, at := interopKeys(t)
	a, id := xmlsec1Assertion(t, k, at, "CM_METHOD", CMSenderVouch)
	dir := t.TempDir()
	edgeCert, edgeKey := writeKeyPair(t, dir, "edge", k.edge, true)
	clientCert, clientKey := writeKeyPair(t, dir, "client", k.client, true)
	edge, client := []string{edgeKey, edgeCert}, []string{clientKey, clientCert}

	for _, tc := range []struct {
		name    string
		sigs    []string   // signature templates, in order
		signers [][]string // key and certificate file of each
		wantErr string
	}{
		{"one signature of an attesting entity over Body and assertion",
			[]string{sigTemplate("Body-1", "TS-1", id)}, [][]string{edge}, ""},
		{"Body and assertion signed by two keys",
			[]string{sigTemplate("Body-1", "TS-1"), sigTemplate(id)}, [][]string{edge, client}, "two different signatures"},
		{"Body and assertion signed by one key in two signatures",
			[]string{sigTemplate("Body-1", "TS-1"), sigTemplate(id)}, [][]string{edge, edge}, "two different signatures"},
		{"assertion first, then Body, by two keys",
			[]string{sigTemplate(id), sigTemplate("Body-1", "TS-1")}, [][]string{client, edge}, "two different signatures"},
		{"assertion not signed",
			[]string{sigTemplate("Body-1", "TS-1")}, [][]string{edge}, "not both signed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := strings.NewReplacer("CREATED", at.Format(time.RFC3339), "TS_EXPIRES", at.Add(5*time.Minute).Format(time.RFC3339),
				"ASSERTION", a, "SIGNATURES", strings.Join(tc.sigs, "")).Replace(envelopeTemplate)
			var args []string
			for _, s := range tc.signers {
				args = append(args, s...)
			}
			cmd := exec.Command(debianPython, append([]string{script}, args...)...)
			cmd.Stdin = strings.NewReader(env)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			signed, err := cmd.Output()
			if err != nil {
				t.Fatalf("xmlsec_sign_envelope.py: %v\n%s", err, stderr.String())
			}
			pool := x509.NewCertPool()
			pool.AddCert(k.edge.cert)
			pool.AddCert(k.client.cert)
			parsed := parseEnv(t, string(signed))
			vr := &wssec.Verifier{Trust: wssec.NewTrustStore(pool, nil), Clock: func() time.Time { return at }}
			sec, err := vr.Verify(parsed)
			if err != nil {
				t.Fatalf("wssec refused python3-xmlsec's message: %v\n%s", err, signed)
			}
			if got := len(sec.Signatures); got != len(tc.sigs) {
				t.Fatalf("%d verified signatures, want %d", got, len(tc.sigs))
			}
			v := verifier(k)
			v.Clock, v.AttestingEntities = func() time.Time { return at }, []string{edgeID, consumerID}
			p, _, err := v.Verify(Message{Envelope: parsed, Security: sec})
			if tc.wantErr != "" {
				wantRefused(t, err, tc.wantErr)
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if p.Confirmation != CMSenderVouch || p.AssertionID != id {
				t.Errorf("principal %+v", p)
			}
		})
	}
}
