package gateway_test

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/gateway/internal/demopki"
	"github.com/gatehouse/gatehouse/samlsts"
	"github.com/gatehouse/gatehouse/soap"
)

// signWithAssertionKey signs the Body and Timestamp of a request carrying
// assertion with python3-xmlsec (libxmlsec1, not Gatehouse's signer), with
// the key in pki/keyFile, KeyInfo naming the assertion's key as WSS4J/CXF
// do: an STR with KeyIdentifier #SAMLID (SAML Token Profile 1.1).
func signWithAssertionKey(t *testing.T, e *env, assertion, certFile, keyFile string) string {
	t.Helper()
	return signWithAssertionKeyAt(t, e, assertion, certFile, keyFile, time.Now())
}

// signWithAssertionKeyAt is signWithAssertionKey with the Timestamp created
// at created (to the second): two messages signed in one second differ.
func signWithAssertionKeyAt(t *testing.T, e *env, assertion, certFile, keyFile string, created time.Time) string {
	t.Helper()
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import xmlsec, lxml").Run(); err != nil {
		t.Fatalf("python3-xmlsec or python3-lxml missing (%v): run ./build.sh deps", err)
	}
	id := regexp.MustCompile(` ID="([^"]+)"`).FindStringSubmatch(assertion)
	if id == nil {
		t.Fatalf("no ID in assertion %s", assertion)
	}
	now := created.UTC()
	msg := `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsu="` + soap.NSWSU + `"><soap:Header>` +
		`<wsse:Security xmlns:wsse="` + soap.NSWSSE + `" soap:mustUnderstand="1">` +
		`<wsu:Timestamp wsu:Id="TS"><wsu:Created>` + now.Format(time.RFC3339) + `</wsu:Created><wsu:Expires>` + now.Add(5*time.Minute).Format(time.RFC3339) + `</wsu:Expires></wsu:Timestamp>` +
		assertion + `</wsse:Security></soap:Header><soap:Body wsu:Id="Body">` + getBalance + `</soap:Body></soap:Envelope>`
	certPEM, err := os.ReadFile(filepath.Join(e.dir, "pki", certFile))
	must(t, err)
	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	must(t, err)
	method := "rsa"
	if cert.PublicKeyAlgorithm == x509.ECDSA {
		method = "ecdsa"
	}
	cmd := exec.Command(python, "../soap/wssec/testdata/xmlsec_sign.py",
		filepath.Join(e.dir, "pki", keyFile), filepath.Join(e.dir, "pki", certFile), "--method", method,
		"--key-ref", "samlid:"+id[1], "--token-type", "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV2.0", "Body", "TS")
	cmd.Stdin = strings.NewReader(msg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("xmlsec_sign.py: %v\n%s", err, stderr.String())
	}
	return string(out)
}

// TestHolderOfKeyBySAMLIDThroughGateway: a holder-of-key assertion from
// the STS (bound to the consumer's key) with the Body signed by that key,
// KeyInfo naming the assertion by STR #SAMLID, is accepted even from
// another TLS client (the message signature confirms it, not the TLS key;
// the service has no trust store for message signers). The same assertion
// with the Body signed by another key is refused.
func TestHolderOfKeyBySAMLIDThroughGateway(t *testing.T) {
	e := samlEnv(t, "2m")
	other := e.clientWith(demopki.ServerCert, demopki.ServerKey) // a demo workload, not the holder
	send := func(body string) *http.Response {
		req, err := http.NewRequest(http.MethodPost, e.base+accountsPath, strings.NewReader(body))
		must(t, err)
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
		req.Header.Set("SOAPAction", `"urn:gatehouse:demo:accounts:GetBalance"`)
		resp, err := other.Do(req)
		must(t, err)
		return resp
	}
	token := func() string {
		hok, out := requestToken(t, e, tellerSecret, audAccounts, "", `<wst:KeyType>`+samlsts.KeyTypePublic+`</wst:KeyType>`)
		if hok == "" || !strings.Contains(hok, "KeyInfoConfirmationDataType") {
			t.Fatalf("holder-of-key token: %s", out)
		}
		return hok
	}

	signed := signWithAssertionKey(t, e, token(), demopki.ConsumerCert, demopki.ConsumerKey)
	if resp := send(signed); resp.StatusCode != 200 {
		t.Fatalf("Body signed by the holder key: %d %s\n%s", resp.StatusCode, readAll(t, resp), signed)
	} else {
		readAll(t, resp)
	}
	recs := e.records(t)
	if last := recs[len(recs)-1]; last.Subject != "alice@example.com" {
		t.Errorf("audit subject %q, want the assertion's subject", last.Subject)
	}

	forged := signWithAssertionKey(t, e, token(), demopki.ServerCert, demopki.ServerKey)
	expectFault(t, send(forged), 500, "FailedCheck")
}

// TestHolderOfKeyReusedThroughGateway: a consumer that keeps its
// holder-of-key token sends it with every request; after the first, the
// service serves the assertion from its verified-assertion cache (the
// metric shows hits), and a hit still needs the Body signed by the
// confirmed key.
func TestHolderOfKeyReusedThroughGateway(t *testing.T) {
	e := samlEnv(t, "2m")
	other := e.clientWith(demopki.ServerCert, demopki.ServerKey)
	send := func(body string) *http.Response {
		req, err := http.NewRequest(http.MethodPost, e.base+accountsPath, strings.NewReader(body))
		must(t, err)
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
		req.Header.Set("SOAPAction", `"urn:gatehouse:demo:accounts:GetBalance"`)
		resp, err := other.Do(req)
		must(t, err)
		return resp
	}
	hok, out := requestToken(t, e, tellerSecret, audAccounts, "", `<wst:KeyType>`+samlsts.KeyTypePublic+`</wst:KeyType>`)
	if hok == "" {
		t.Fatalf("holder-of-key token: %s", out)
	}
	start := time.Now()
	for i := range 3 {
		// Timestamps a second apart: the signatures differ (no replay). They
		// go forwards (within the skew): one from before the store's epoch
		// would be refused as from before its data (store/epoch.go).
		signed := signWithAssertionKeyAt(t, e, hok, demopki.ConsumerCert, demopki.ConsumerKey, start.Add(time.Duration(i)*time.Second))
		if resp := send(signed); resp.StatusCode != 200 {
			recs := e.records(t)
			t.Fatalf("request %d: %d %s\n%+v", i, resp.StatusCode, readAll(t, resp), recs[len(recs)-1])
		} else {
			readAll(t, resp)
		}
	}
	// Each request looks the assertion up twice: for the key its
	// signature names (STR #SAMLID), then for the subject confirmation.
	const s = `gatehouse_saml_assertion_cache_lookups_total{result=`
	wantSamples(t, e.scrape(t), map[string]string{s + `"miss",service="accounts"}`: "1", s + `"hit",service="accounts"}`: "5"})

	forged := signWithAssertionKey(t, e, hok, demopki.ServerCert, demopki.ServerKey)
	expectFault(t, send(forged), 500, "FailedCheck")
	wantSamples(t, e.scrape(t), map[string]string{s + `"miss",service="accounts"}`: "1", s + `"hit",service="accounts"}`: "6"})
}
