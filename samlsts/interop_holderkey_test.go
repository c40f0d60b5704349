package samlsts

import (
	"crypto/x509"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/soap"
	"github.com/gatehouse/gatehouse/soap/wssec"
)

var keyInfoRE = regexp.MustCompile(`<ds:KeyInfo><ds:X509Data><ds:X509Certificate>[^<]*</ds:X509Certificate></ds:X509Data></ds:KeyInfo>`)

// samlIDKeyInfo is how WSS4J/CXF point a message signature at a
// holder-of-key assertion's key (SAML Token Profile 1.1).
func samlIDKeyInfo(id string) string {
	return `<ds:KeyInfo><wsse:SecurityTokenReference xmlns:wsse11="` + soap.NSWSSE1 + `" wsse11:TokenType="http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV2.0">` +
		`<wsse:KeyIdentifier ValueType="` + valueTypeSAMLID + `">` + id + `</wsse:KeyIdentifier></wsse:SecurityTokenReference></ds:KeyInfo>`
}

// signEnvelope signs the message's signature template with python3-xmlsec
// and points its KeyInfo at the assertion id (KeyInfo is not signed).
func signEnvelope(t *testing.T, env, id string, signers ...[]string) string {
	t.Helper()
	if _, err := os.Stat(debianPython); err != nil {
		t.Fatalf("%s missing: run ./build.sh deps", debianPython)
	}
	script, err := filepath.Abs("testdata/xmlsec_sign_envelope.py")
	if err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, s := range signers {
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
	// The last KeyInfo is the message signature's; the assertion's own
	// comes before it.
	locs := keyInfoRE.FindAllStringIndex(string(signed), -1)
	if len(locs) != 2 {
		t.Fatalf("%d KeyInfo elements, want the assertion's and the message's", len(locs))
	}
	last := locs[1]
	return string(signed[:last[0]]) + samlIDKeyInfo(id) + string(signed[last[1]:])
}

// TestInteropHolderKeySAMLID: a holder-of-key assertion signed by xmlsec1,
// and a message whose signature (python3-xmlsec) names its key by STR
// KeyIdentifier #SAMLID. HolderKey gives wssec the confirmed key without
// any trust store; the confirmation then holds through the Body's
// signature. A Body signed by another key, or a service that does not
// accept holder-of-key, is refused; a holder key never makes its holder an
// attesting entity for sender-vouches.
func TestInteropHolderKeySAMLID(t *testing.T) {
	k, at := interopKeys(t)
	dir := t.TempDir()
	clientCert, clientKey := writeKeyPair(t, dir, "client", k.client, true)
	edgeCert, edgeKey := writeKeyPair(t, dir, "edge", k.edge, true)
	client, edge := []string{clientKey, clientCert}, []string{edgeKey, edgeCert}
	holderKeyInfo := `<ds:KeyInfo xmlns:ds="` + nsDSig + `"><ds:X509Data><ds:X509Certificate>` +
		base64.StdEncoding.EncodeToString(k.client.cert.Raw) + `</ds:X509Certificate></ds:X509Data></ds:KeyInfo>`
	hok, hokID := xmlsec1Assertion(t, k, at, "CM_METHOD", CMHolderOfKey, "SCD_CONTENT", holderKeyInfo)
	// Sender-vouches first, holder-of-key second, both about alice.
	both, bothID := xmlsec1Assertion(t, k, at, "CM_METHOD", CMSenderVouch+`"/><saml:SubjectConfirmation Method="`+CMHolderOfKey, "SCD_CONTENT", holderKeyInfo)

	for _, tc := range []struct {
		name, assertion, id string
		refs                []string
		signer              []string
		methods             []string
		attesting           []string
		wssecErr, samlErr   string
		want                string // confirmation method
	}{
		{name: "Body signed by the holder", assertion: hok, id: hokID, refs: []string{"Body-1", "TS-1"}, signer: client, want: CMHolderOfKey},
		{name: "Body signed by another key", assertion: hok, id: hokID, refs: []string{"Body-1", "TS-1"}, signer: edge, wssecErr: "SignatureValue does not verify"},
		{name: "holder-of-key not accepted", assertion: hok, id: hokID, refs: []string{"Body-1", "TS-1"}, signer: client, methods: []string{CMBearer, CMSenderVouch},
			wssecErr: "no holder-of-key confirmation this service accepts"},
		{name: "holder key is no attesting entity", assertion: both, id: bothID, refs: []string{"Body-1", "TS-1", bothID}, signer: client,
			attesting: []string{consumerID}, want: CMHolderOfKey},
		{name: "sender-vouches only, signed by a holder key", assertion: both, id: bothID, refs: []string{"Body-1", "TS-1", bothID}, signer: client,
			attesting: []string{consumerID}, methods: []string{CMSenderVouch}, wssecErr: "no holder-of-key confirmation this service accepts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := strings.NewReplacer("CREATED", at.Format(time.RFC3339), "TS_EXPIRES", at.Add(5*time.Minute).Format(time.RFC3339),
				"ASSERTION", tc.assertion, "SIGNATURES", sigTemplate(tc.refs...)).Replace(envelopeTemplate)
			signed := signEnvelope(t, env, tc.id, tc.signer)
			v := verifier(k)
			v.Clock, v.AttestingEntities = func() time.Time { return at }, tc.attesting
			if tc.methods != nil {
				v.Methods = tc.methods
			}
			parsed := parseEnv(t, signed)
			// No trust store: the key is trusted through the assertion.
			vr := &wssec.Verifier{TokenKeys: v, Clock: func() time.Time { return at }}
			sec, err := vr.Verify(parsed)
			if tc.wssecErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wssecErr) {
					t.Fatalf("wssec: %v, want %q", err, tc.wssecErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("wssec refused: %v\n%s", err, signed)
			}
			if sec.Signer == nil || sec.Signer.Token != sec.Assertions[0] || !sec.Signer.Certificate.Equal(k.client.cert) {
				t.Fatalf("signer %+v: want the holder key from the assertion", sec.Signer)
			}
			p, _, err := v.Verify(Message{Envelope: parsed, Security: sec})
			if tc.samlErr != "" {
				wantRefused(t, err, tc.samlErr)
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if p.Confirmation != tc.want || p.Subject != aliceNameID {
				t.Errorf("principal %+v, want %s", p, tc.want)
			}
		})
	}
}

// TestInteropSenderVouchesSTRTransform: WSS4J signs a sender-vouches
// assertion through its STR (STR Dereference Transform). With an
// xmlsec1-signed assertion and the message signed by python3-xmlsec
// (libxml2 canonicalizes the dereferenced assertion), the signature that
// covers the Body covers the assertion too, which is what sender-vouches
// asks of an attesting entity's signature.
func TestInteropSenderVouchesSTRTransform(t *testing.T) {
	if _, err := os.Stat(debianPython); err != nil {
		t.Fatalf("%s missing: run ./build.sh deps", debianPython)
	}
	k, at := interopKeys(t)
	dir := t.TempDir()
	edgeCert, edgeKey := writeKeyPair(t, dir, "edge", k.edge, true)
	a, id := xmlsec1Assertion(t, k, at, "CM_METHOD", CMSenderVouch)
	str := `<wsse:SecurityTokenReference xmlns:wsse11="` + soap.NSWSSE1 + `" wsu:Id="STR-1" wsse11:TokenType="http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV2.0">` +
		`<wsse:KeyIdentifier ValueType="` + valueTypeSAMLID + `">` + id + `</wsse:KeyIdentifier></wsse:SecurityTokenReference>`
	env := strings.NewReplacer("CREATED", at.Format(time.RFC3339), "TS_EXPIRES", at.Add(5*time.Minute).Format(time.RFC3339),
		"ASSERTION", a+str, "SIGNATURES", "").Replace(envelopeTemplate)
	cmd := exec.Command(debianPython, "../soap/wssec/testdata/xmlsec_sign.py", edgeKey, edgeCert, "--method", "ecdsa", "--str-ref", "STR-1", "Body-1", "TS-1")
	cmd.Stdin = strings.NewReader(env)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	signed, err := cmd.Output()
	if err != nil {
		t.Fatalf("xmlsec_sign.py: %v\n%s", err, stderr.String())
	}
	pool := x509.NewCertPool()
	pool.AddCert(k.edge.cert)
	vr := &wssec.Verifier{Trust: wssec.NewTrustStore(pool, nil), Clock: func() time.Time { return at }}
	v := verifier(k)
	v.Clock, v.AttestingEntities = func() time.Time { return at }, []string{edgeID}
	verify := func(msg string) (*Principal, error) {
		parsed := parseEnv(t, msg)
		sec, err := vr.Verify(parsed)
		if err != nil {
			return nil, err
		}
		p, _, err := v.Verify(Message{Envelope: parsed, Security: sec})
		return p, err
	}
	p, err := verify(string(signed))
	if err != nil {
		t.Fatalf("refused: %v\n%s", err, signed)
	}
	if p.Confirmation != CMSenderVouch || p.AssertionID != id {
		t.Errorf("principal %+v", p)
	}
	// Without the STR-Transform reference, the assertion is not signed.
	cmd = exec.Command(debianPython, "../soap/wssec/testdata/xmlsec_sign.py", edgeKey, edgeCert, "--method", "ecdsa", "Body-1", "TS-1")
	cmd.Stdin = strings.NewReader(env)
	unsigned, err := cmd.Output()
	if err != nil {
		t.Fatalf("xmlsec_sign.py: %v", err)
	}
	if _, err := verify(string(unsigned)); err == nil || !strings.Contains(err.Error(), "not both signed") {
		t.Errorf("assertion not covered: %v", err)
	}
}
