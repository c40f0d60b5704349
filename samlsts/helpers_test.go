package samlsts

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/soap"
	"github.com/gatehouse/gatehouse/soap/wssec"
)

var now = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func clock() time.Time { return now }

const (
	stsEntity   = "urn:gatehouse:sts"
	audience    = "urn:gatehouse:service:accounts"
	otherAud    = "urn:gatehouse:service:payments"
	edgeID      = "spiffe://demo.gatehouse.internal/gatehouse/edge"
	consumerID  = "spiffe://demo.gatehouse.internal/retail/teller-app"
	aliceNameID = "alice@example.com"
)

type keyPair struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// selfSigned makes a self-signed certificate valid around at.
func selfSigned(t testing.TB, cn string, key crypto.Signer, at time.Time, spiffe string) keyPair {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: at.Add(-time.Hour), NotAfter: at.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if spiffe != "" {
		u, _ := url.Parse(spiffe)
		tmpl.URIs = []*url.URL{u}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return keyPair{c, key}
}

type keys struct {
	stsRSA, stsEC, rogue, client, edge keyPair
}

var keyCache = map[time.Time]*keys{}

func testKeys(t testing.TB, at time.Time) *keys {
	t.Helper()
	if k := keyCache[at]; k != nil {
		return k
	}
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ec := func() crypto.Signer { k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader); return k }
	k := &keys{
		stsRSA: selfSigned(t, "Gatehouse STS", rsaKey, at, ""),
		stsEC:  selfSigned(t, "Gatehouse STS EC", ec(), at, ""),
		rogue:  selfSigned(t, "Gatehouse STS", ec(), at, ""),
		client: selfSigned(t, "teller-app", ec(), at, consumerID),
		edge:   selfSigned(t, "edge", ec(), at, edgeID),
	}
	keyCache[at] = k
	return k
}

func issuer(kp keyPair) *Issuer {
	return &Issuer{EntityID: stsEntity, Key: kp.key, Cert: kp.cert, Clock: clock}
}

func bearerRequest() IssueRequest {
	return IssueRequest{
		Subject: aliceNameID, Format: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
		Audience: audience, Lifetime: 5 * time.Minute, Method: CMBearer,
		AuthnContext: AuthnPasswordProtectedTransport, AuthnInstant: now,
		Roles: []string{"teller"}, Attributes: map[string][]string{"racfUserId": {"ALICE01"}},
	}
}

// verifier accepts SAML 2.0 and 1.1 (the default is 2.0 only, which
// TestSAMLVersions checks).
func verifier(k *keys) *Verifier {
	return &Verifier{
		Audience: audience,
		Issuers:  map[string][]*x509.Certificate{stsEntity: {k.stsRSA.cert, k.stsEC.cert}},
		Methods:  []string{CMBearer, CMHolderOfKey, CMSenderVouch},
		Clock:    clock,
		Versions: []string{Version11, Version20},
	}
}

func serialize(t testing.TB, el *etree.Element) string {
	t.Helper()
	doc := etree.NewDocument()
	doc.SetRoot(el.Copy())
	s, err := doc.WriteToString()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// message wraps assertion XML in a SOAP 1.1 Security header and returns the
// verified WS-Security view of it. With signer, the message is signed
// (Body + Timestamp, and the assertion when signToken).
func message(t testing.TB, assertion string, signer *keyPair, signToken bool) Message {
	t.Helper()
	var env *soap.Envelope
	body := `<a:GetBalance xmlns:a="urn:gatehouse:demo:accounts"><a:AccountId>1</a:AccountId></a:GetBalance>`
	if signer == nil {
		raw := `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header><wsse:Security xmlns:wsse="` +
			soap.NSWSSE + `">` + assertion + `</wsse:Security></soap:Header><soap:Body>` + body + `</soap:Body></soap:Envelope>`
		env = parseEnv(t, raw)
	} else {
		env = parseEnv(t, `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>`+body+`</soap:Body></soap:Envelope>`)
		doc := etree.NewDocument()
		if err := doc.ReadFromString(assertion); err != nil {
			t.Fatal(err)
		}
		s := &wssec.Signer{Key: signer.key, Cert: signer.cert, Clock: clock, Tokens: []*etree.Element{doc.Root()}, SignTokens: signToken}
		if err := s.Sign(env); err != nil {
			t.Fatal(err)
		}
		out, _ := env.Bytes()
		env = parseEnv(t, string(out))
	}
	pool := x509.NewCertPool()
	if signer != nil {
		pool.AddCert(signer.cert)
	}
	vr := &wssec.Verifier{Trust: wssec.NewTrustStore(pool, nil), Clock: clock}
	v, err := vr.Verify(env)
	if err != nil {
		t.Fatalf("wssec: %v", err)
	}
	return Message{Envelope: env, Security: v}
}

func parseEnv(t testing.TB, s string) *soap.Envelope {
	t.Helper()
	env, err := soap.Parse([]byte(s), soap.DefaultLimits())
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, s)
	}
	return env
}

func faultCode(t *testing.T, err error) string {
	t.Helper()
	var f *soap.Fault
	if !errors.As(err, &f) {
		t.Fatalf("error %v is not a *soap.Fault", err)
	}
	return f.Subcode.Local
}

func mustReplace(t *testing.T, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("%q not in\n%s", old, s)
	}
	return strings.Replace(s, old, new, 1)
}
