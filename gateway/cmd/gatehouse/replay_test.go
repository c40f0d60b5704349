package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/gateway/audit"
	"github.com/gatehouse/gatehouse/gateway/internal/demo"
	"github.com/gatehouse/gatehouse/gateway/internal/demopki"
	"github.com/gatehouse/gatehouse/gateway/internal/redistest"
	"github.com/gatehouse/gatehouse/soap"
)

// Issue 11, item 1, through the real binary: two consumers hold
// certificates of the same internal CA, and the one may not replay the
// other's signed request by giving it a fresh Timestamp of its own. The
// messages are signed by python3-xmlsec (testdata/wss_replay.py), not by
// Gatehouse's signer.

const (
	// consumerBSPIFFEID is the second consumer, a leaf of the demo CA the
	// test issues itself: a trusted insider, not an outsider.
	consumerBSPIFFEID = "spiffe://" + demopki.TrustDomain + "/retail/branch-app"
	signedPath        = "/services/accounts-signed"
	// Timestamps live tsLifetime (long enough for a loaded CI machine to
	// deliver them fresh); the service tolerates replaySkew and allows
	// replayMaxAge. A message is stale once Expires + skew has passed.
	tsLifetime   = 3 * time.Second
	replaySkew   = time.Second
	replayMaxAge = 5 * time.Second
)

// The service under attack: signature and Timestamp required, keys from
// the demo CA, any retail workload may read balances.
var signedServiceReplacements = []string{
	`<users file="users.xml"/>`, `<trust name="consumers"><ca file="pki/ca.crt"/></trust>
  <users file="users.xml"/>`,
	`<flow from="retail-apps" to="accounts"/>`, `<flow from="retail-apps" to="accounts"/>
    <flow from="retail-apps" to="accounts-signed"/>`,
	`    <!-- Any retail workload may read balances`, `    <rule id="retail-signed-balance" effect="allow" service="accounts-signed" operation="{urn:gatehouse:demo:accounts}GetBalance">
      <caller prefix="spiffe://demo.gatehouse.internal/retail/"/>
    </rule>
    <!-- Any retail workload may read balances`,
}

func signedService(backendURL string) string {
	return `  <service name="accounts-signed" path="` + signedPath + `" soapVersions="1.1 1.2">
    <backend url="` + backendURL + `" connectTimeout="2s" timeout="10s"/>
    <security trust="consumers" require="signature timestamp" maxSkew="` + replaySkew.String() + `" maxAge="` + replayMaxAge.String() + `"/>
    <schema file="schemas/accounts.xsd"/>
  </service>
</gatehouse>`
}

// replayDemo is the demo edge with the accounts-signed service on the real
// binary, a backend that keeps every request, and the two consumers.
type replayDemo struct {
	t                *testing.T
	dir, pki, edge   string
	proc             *running
	backend          *recorder
	consumerA        consumer
	consumerB        consumer
	python, signTool string
}

// consumer is a workload with its mTLS client and its signing key.
type consumer struct {
	certFile, keyFile string
	client            *http.Client
}

func startReplayDemo(t *testing.T, extra ...string) *replayDemo {
	t.Helper()
	d := &replayDemo{t: t, python: debianPython(t), signTool: filepath.Join("testdata", "wss_replay.py")}
	bin := buildBinary(t)
	d.dir = t.TempDir()
	d.pki = filepath.Join(d.dir, "pki")
	d.backend = &recorder{next: &demo.Accounts{}}
	srv := httptest.NewServer(d.backend)
	t.Cleanup(srv.Close)
	var admin string
	d.edge, admin = freeAddr(t), freeAddr(t)
	replace := append(slices.Clone(signedServiceReplacements), "</gatehouse>", signedService(srv.URL+signedPath))
	for _, r := range extra { // BACKEND in extra names the recording backend
		replace = append(replace, strings.ReplaceAll(r, "BACKEND", srv.URL))
	}
	cfg := writeDemo(t, d.dir, srv.URL+"/accounts", d.edge, admin, replace...)
	certB, keyB := issueConsumer(t, d.pki, "branch-app", consumerBSPIFFEID)
	d.consumerA = consumer{filepath.Join(d.pki, demopki.ConsumerCert), filepath.Join(d.pki, demopki.ConsumerKey), mtlsClient(t, d.pki)}
	d.consumerB = consumer{certB, keyB, mtlsClientAs(t, d.pki, certB, keyB)}
	d.proc = serveDemo(t, bin, cfg, admin)
	return d
}

// debianPython is the interpreter that has python3-xmlsec; the test fails
// without it: the independent signer is the point of the test.
func debianPython(t *testing.T) string {
	t.Helper()
	const python = "/usr/bin/python3"
	if out, err := exec.Command(python, "-c", "import xmlsec, lxml").CombinedOutput(); err != nil {
		t.Fatalf("%s with python3-xmlsec and python3-lxml is needed (run ./build.sh deps): %v\n%s", python, err, out)
	}
	return python
}

// issueConsumer issues a client certificate of the demo CA in pki with the
// SPIFFE ID id, and writes it as name.crt and name.key.
func issueConsumer(t *testing.T, pki, name, id string) (certFile, keyFile string) {
	t.Helper()
	kp, err := tls.LoadX509KeyPair(filepath.Join(pki, demopki.CACert), filepath.Join(pki, demopki.CAKey))
	if err != nil {
		t.Fatal(err)
	}
	ca := &demopki.Issuer{Cert: kp.Leaf, Key: kp.PrivateKey.(crypto.Signer)}
	cert, key, err := ca.Issue(demopki.Leaf{
		Subject: pkix.Name{CommonName: name, OrganizationalUnit: []string{"Retail"}, Organization: []string{"Demo Bank"}},
		URIs:    []string{id}, Client: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(pki, name+".crt"), filepath.Join(pki, name+".key")
	if err := demopki.WriteCert(certFile, cert); err != nil {
		t.Fatal(err)
	}
	if err := demopki.WriteKey(keyFile, key); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// runSigner runs wss_replay.py with args on stdin.
func (d *replayDemo) runSigner(stdin []byte, args ...string) []byte {
	d.t.Helper()
	cmd := exec.Command(d.python, append([]string{d.signTool}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		d.t.Fatalf("wss_replay.py %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// signAsA returns the demo GetBalance signed by consumer A over Body and
// Timestamp, and the time by which its Timestamp is stale at the gateway.
func (d *replayDemo) signAsA(tag string) ([]byte, time.Time) {
	d.t.Helper()
	plain, err := os.ReadFile(filepath.Join(requests, "get-balance-11.xml"))
	if err != nil {
		d.t.Fatal(err)
	}
	msg := d.runSigner(plain, "sign", d.consumerA.keyFile, d.consumerA.certFile, tag, seconds(tsLifetime))
	// Created is before now: the message is stale by now + lifetime + skew.
	return msg, time.Now().Add(tsLifetime + replaySkew)
}

// mixAsB is consumer B's replay of msg: A's Timestamp moved to place
// ("header" or "nested"), a fresh Timestamp in the Security header and a
// second signature, B's, over that Timestamp only.
func (d *replayDemo) mixAsB(msg []byte, tag, place string) []byte {
	d.t.Helper()
	return d.runSigner(msg, "mix", d.consumerB.keyFile, d.consumerB.certFile, tag, seconds(tsLifetime), place)
}

func seconds(d time.Duration) string { return strings.TrimSuffix(d.String(), "s") }

// reply is the gateway's answer to one call.
type reply struct {
	status        int
	body          string
	correlationID string
}

func (d *replayDemo) post(c consumer, msg []byte) reply {
	d.t.Helper()
	req, _ := http.NewRequest("POST", "https://"+d.edge+signedPath, bytes.NewReader(msg))
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `"urn:gatehouse:demo:accounts:GetBalance"`)
	resp, err := c.client.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, string(b), resp.Header.Get("X-Correlation-ID")}
}

// backendCalls is how many requests reached the signed service's backend.
func (d *replayDemo) backendCalls() int { return len(d.backend.bodies(signedPath)) }

// stopAndAudit stops the gateway and returns its audit records by
// correlation id.
func (d *replayDemo) stopAndAudit() map[string]audit.Record {
	d.t.Helper()
	if err := d.proc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		d.t.Fatal(err)
	}
	select {
	case err := <-d.proc.done:
		if err != nil {
			d.t.Fatalf("exit after SIGTERM: %v\n%s", err, d.proc.stderr.String())
		}
	case <-time.After(10 * time.Second):
		d.t.Fatal("gatehouse did not stop after SIGTERM")
	}
	recs := map[string]audit.Record{}
	for _, r := range readAudit(d.t, filepath.Join(d.dir, "run", "audit.log")) {
		recs[r.CorrelationID] = r
	}
	return recs
}

// sleepUntil waits until t has passed.
func sleepUntil(t time.Time) { time.Sleep(time.Until(t) + 250*time.Millisecond) }

// acceptedForA checks that r is A's request, answered and forwarded.
func acceptedForA(t *testing.T, what string, r reply) {
	t.Helper()
	if r.status != http.StatusOK || !strings.Contains(r.body, "GetBalanceResponse") {
		t.Fatalf("%s: HTTP %d, want 200 with a GetBalanceResponse\n%s", what, r.status, r.body)
	}
}

// securityFault checks that r is a SOAP 1.1 fault (the request's version)
// with one of the WS-Security fault codes in codes, sent with HTTP 500.
func securityFault(t *testing.T, what string, r reply, codes ...string) {
	t.Helper()
	envNS, code := faultCode(r.body)
	if r.status != http.StatusInternalServerError || envNS != soap.NS11 || code.Space != soap.NSWSSE || !slices.Contains(codes, code.Local) {
		t.Errorf("%s: HTTP %d, fault code %s in envelope %q; want HTTP 500 and a SOAP 1.1 fault with wsse:%s\n%s",
			what, r.status, code, envNS, strings.Join(codes, " or wsse:"), r.body)
	}
}

// faultCode returns the namespace of a SOAP 1.1 response's Envelope and its
// faultcode, resolved as a QName; zero values when there is none.
func faultCode(body string) (envelopeNS string, code soap.QName) {
	dec := xml.NewDecoder(strings.NewReader(body))
	var scopes []map[string]string
	lookup := func(prefix string) string {
		for i := len(scopes) - 1; i >= 0; i-- {
			if ns, ok := scopes[i][prefix]; ok {
				return ns
			}
		}
		return ""
	}
	inCode := false
	for {
		tok, err := dec.Token()
		if err != nil {
			return envelopeNS, code
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			scope := map[string]string{}
			for _, a := range tok.Attr {
				if a.Name.Space == "xmlns" {
					scope[a.Name.Local] = a.Value
				}
			}
			scopes = append(scopes, scope)
			if len(scopes) == 1 && tok.Name.Local == "Envelope" {
				envelopeNS = tok.Name.Space
			}
			inCode = tok.Name.Local == "faultcode" && tok.Name.Space == ""
		case xml.EndElement:
			scopes = scopes[:len(scopes)-1]
			inCode = false
		case xml.CharData:
			if inCode {
				prefix, local, ok := strings.Cut(strings.TrimSpace(string(tok)), ":")
				if ok {
					code = soap.QName{Space: lookup(prefix), Local: local}
				}
			}
		}
	}
}

// TestBinaryReplayTimestampMixAndMatch is issue 11 item 1: consumer B takes
// consumer A's signed request after its Timestamp expired, moves A's
// Timestamp out of the Security header (into a Header block, or directly
// under Header), adds a fresh Timestamp and signs only that with its own
// key of the same CA. A's signature still verifies; the Body is A's. The
// gateway must refuse it: the signature over the Body must also cover the
// Security header's Timestamp. The backend sees A's request once, and the
// audit record of the replay does not name A.
func TestBinaryReplayTimestampMixAndMatch(t *testing.T) {
	d := startReplayDemo(t)
	variants := []struct{ name, place, tag string }{
		{"timestamp as a header block", "header", "1"},
		{"timestamp nested in a header block", "nested", "2"},
	}
	originals := map[string][]byte{}
	var stale time.Time
	var accepted []string
	for _, v := range variants {
		msg, s := d.signAsA("A" + v.tag)
		r := d.post(d.consumerA, msg)
		acceptedForA(t, "consumer A's own request", r)
		originals[v.tag], stale, accepted = msg, s, append(accepted, r.correlationID)
	}
	if n := d.backendCalls(); n != len(variants) {
		t.Fatalf("backend calls after A's requests = %d, want %d", n, len(variants))
	}
	sleepUntil(stale)

	var refused []string
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			before := d.backendCalls()
			r := d.post(d.consumerB, d.mixAsB(originals[v.tag], "B"+v.tag, v.place))
			refused = append(refused, r.correlationID)
			securityFault(t, "B's replay of A's request with a fresh Timestamp signed by B", r, "InvalidSecurity", "FailedCheck", "MessageExpired")
			if n := d.backendCalls(); n != before {
				t.Errorf("the backend got A's request again (calls %d, then %d): the replay was forwarded", before, n)
			}
		})
	}

	recs := d.stopAndAudit()
	for _, id := range accepted {
		r := recs[id]
		if r.Outcome != audit.OutcomeOK || !strings.Contains(r.Subject, "teller-app") || r.Caller != demopki.ConsumerSPIFFEID {
			t.Errorf("audit of A's request %s: outcome %q, caller %q, subject %q; want ok, A as caller and subject", id, r.Outcome, r.Caller, r.Subject)
		}
	}
	for i, id := range refused {
		r, ok := recs[id]
		if !ok {
			t.Errorf("%s: no audit record for correlation id %q", variants[i].name, id)
			continue
		}
		if r.Outcome != audit.OutcomeFault || r.Reason == "" || r.Caller != consumerBSPIFFEID {
			t.Errorf("%s: audit outcome %q, reason %q, caller %q; want a fault with a reason, B as caller", variants[i].name, r.Outcome, r.Reason, r.Caller)
		}
		if strings.Contains(r.Subject, "teller-app") {
			t.Errorf("%s: the audit record of B's replay names A as its subject (%q)", variants[i].name, r.Subject)
		}
	}
}

// TestBinaryReplayControls are the replays the gateway refuses today, next
// to the mix-and-match one: A's request sent twice before it expired (the
// signature's replay entry), and B replaying A's request unchanged after it
// expired (the Timestamp).
func TestBinaryReplayControls(t *testing.T) {
	d := startReplayDemo(t)
	msg, stale := d.signAsA("A1")
	first := d.post(d.consumerA, msg)
	acceptedForA(t, "consumer A's request", first)
	again := d.post(d.consumerA, msg)
	securityFault(t, "A's request again, before it expired", again, "InvalidSecurity")
	sleepUntil(stale)
	late := d.post(d.consumerB, msg)
	securityFault(t, "A's request unchanged from B, after it expired", late, "MessageExpired")
	if n := d.backendCalls(); n != 1 {
		t.Errorf("backend calls = %d, want 1", n)
	}

	recs := d.stopAndAudit()
	for _, c := range []struct {
		what, id, caller, reason string
	}{
		{"the replay before expiry", again.correlationID, demopki.ConsumerSPIFFEID, "replay"},
		{"the replay after expiry", late.correlationID, consumerBSPIFFEID, "expired"},
	} {
		r := recs[c.id]
		if r.Outcome != audit.OutcomeFault || !strings.Contains(r.Reason, c.reason) || r.Caller != c.caller {
			t.Errorf("audit of %s: outcome %q, reason %q, caller %q; want a fault, a reason with %q, caller %s", c.what, r.Outcome, r.Reason, r.Caller, c.reason, c.caller)
		}
	}
}

// TestBinaryReplayAfterRedisRestart (issue 18, item 1): the gateways share
// a Redis without persistence; a signed request is accepted, Redis restarts
// and has forgotten its replay key, and the same request, its Timestamp
// still fresh, is refused with MessageExpired (the store's data began after
// its freshness), while a request signed after the restart is served. The
// backend sees each accepted request once.
func TestBinaryReplayAfterRedisRestart(t *testing.T) {
	srv := redistest.Start(t)
	d := startReplayDemo(t, "</audit>", `</audit>
  <store><redis addresses="`+srv.Addr+`" prefix="replay-restart:" timeout="1s"/></store>`)
	msg, _ := d.signAsA("R1")
	acceptedForA(t, "consumer A's request", d.post(d.consumerA, msg))
	securityFault(t, "A's request again", d.post(d.consumerA, msg), "InvalidSecurity")

	// The restart comes in a later second than the Timestamp's Created.
	time.Sleep(time.Second)
	srv.Stop()
	srv.Restart()
	if n, err := srv.Admin().DBSize(context.Background()).Result(); err != nil || n != 0 {
		t.Fatalf("Redis after the restart holds %d keys (%v): the test needs it empty", n, err)
	}
	again := d.post(d.consumerA, msg)
	securityFault(t, "A's request after Redis lost its replay key", again, "MessageExpired")
	// The loss is dated to the end of the second it was seen in: a message
	// signed in a later second passes.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(1100 * time.Millisecond)))
	fresh, _ := d.signAsA("R2")
	acceptedForA(t, "a request signed after the restart", d.post(d.consumerA, fresh))
	if n := d.backendCalls(); n != 2 {
		t.Errorf("backend calls = %d, want 2", n)
	}
	recs := d.stopAndAudit()
	stderr := d.proc.stderr.String()
	if r := recs[again.correlationID]; r.FaultCode != "MessageExpired" || !strings.Contains(r.Reason, "before the shared store's data") {
		t.Errorf("audit of the refused request: %s %q", r.FaultCode, r.Reason)
	}
	if !strings.Contains(stderr, "the shared store lost its data") {
		t.Errorf("no log line says the store lost its data:\n%s", stderr)
	}
}

// TestBinaryXMLEncryption (issue 15, through the binary): consumer A's
// request, signed by python3-xmlsec and then encrypted by xmlsec1 to the
// gateway's certificate, is decrypted, verified and forwarded in plaintext;
// the same Body in plaintext is refused where the service wants it
// encrypted, and so is A's signed request encrypted again by consumer B
// with B's own Body put in its place (the signature no longer covers what
// decrypts). Each refusal is one FailedCheck fault and nothing reaches the
// backend.
func TestBinaryXMLEncryption(t *testing.T) {
	xmlsec1, err := exec.LookPath("xmlsec1")
	if err != nil {
		t.Fatal("xmlsec1 is not installed: run ./build.sh deps (Debian package xmlsec1)")
	}
	const encPath = "/services/accounts-encrypted"
	// Anchors the replay demo's replacements do not use (one pass of a
	// strings.Replacer).
	d := startReplayDemo(t,
		`<flow from="retail-apps" to="onboarding"/>`, `<flow from="retail-apps" to="onboarding"/>
    <flow from="retail-apps" to="accounts-encrypted"/>`,
		`    <!-- Tellers (SAML role) may read balances`, `    <rule id="retail-encrypted-balance" effect="allow" service="accounts-encrypted" operation="{urn:gatehouse:demo:accounts}GetBalance">
      <caller prefix="spiffe://demo.gatehouse.internal/retail/"/>
    </rule>
    <!-- Tellers (SAML role) may read balances`,
		`  <service name="accounts" path="/services/accounts">`, `  <service name="accounts-encrypted" path="`+encPath+`" soapVersions="1.1">
    <backend url="BACKEND`+encPath+`" connectTimeout="2s" timeout="10s"/>
    <security trust="consumers" require="signature timestamp" maxSkew="`+replaySkew.String()+`" maxAge="`+replayMaxAge.String()+`" encryptedParts="Body">
      <decryptionKey certificate="pki/`+demopki.STSCert+`" key="pki/`+demopki.STSKey+`"/>
    </security>
    <schema file="schemas/accounts.xsd"/>
  </service>
  <service name="accounts" path="/services/accounts">`)
	encrypt := func(msg []byte) []byte {
		dir := t.TempDir()
		tmpl := `<xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Id="ED1" Type="http://www.w3.org/2001/04/xmlenc#Content">` +
			`<xenc:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"/><dsig:KeyInfo xmlns:dsig="http://www.w3.org/2000/09/xmldsig#">` +
			`<xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"/><dsig:KeyInfo><dsig:X509Data><dsig:X509Certificate/></dsig:X509Data></dsig:KeyInfo>` +
			`<xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedKey></dsig:KeyInfo>` +
			`<xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedData>`
		for name, data := range map[string][]byte{"tmpl.xml": []byte(tmpl), "plain.xml": msg} {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		cmd := exec.Command(xmlsec1, "encrypt", "--pubkey-cert-pem", filepath.Join(d.pki, demopki.STSCert), "--session-key", "aes-256",
			"--xml-data", "plain.xml", "--node-xpath", "/*[local-name()='Envelope']/*[local-name()='Body']", "tmpl.xml")
		cmd.Dir = dir
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("xmlsec1 encrypt: %v\n%s", err, stderr.String())
		}
		return out
	}
	post := func(msg []byte) reply {
		req, _ := http.NewRequest("POST", "https://"+d.edge+encPath, bytes.NewReader(msg))
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
		req.Header.Set("SOAPAction", `"urn:gatehouse:demo:accounts:GetBalance"`)
		resp, err := d.consumerA.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return reply{resp.StatusCode, string(b), resp.Header.Get("X-Correlation-ID")}
	}
	forwarded := func() int { return len(d.backend.bodies(encPath)) }

	signed, _ := d.signAsA("E1")
	ok := post(encrypt(signed))
	acceptedForA(t, "signed by python3-xmlsec, then encrypted by xmlsec1", ok)
	if bodies := d.backend.bodies(encPath); len(bodies) != 1 || strings.Contains(bodies[0], "EncryptedData") || !strings.Contains(bodies[0], "AccountId") {
		t.Fatalf("the backend got %q", bodies)
	}

	plain, _ := d.signAsA("E2")
	securityFault(t, "the signed request in plaintext", post(plain), "FailedCheck")

	// B keeps A's signed header and puts its own Body, encrypted, in
	// place of A's.
	other, _ := d.signAsA("E3")
	spliced := strings.Replace(string(other), "<acc:AccountId>", "<acc:AccountId>9", 1)
	if spliced == string(other) {
		spliced = strings.Replace(string(other), "AccountId>", "AccountId>9", 1)
	}
	securityFault(t, "A's signature over B's Body, encrypted", post(encrypt([]byte(spliced))), "FailedCheck")
	if n := forwarded(); n != 1 {
		t.Errorf("backend calls = %d, want 1", n)
	}
}
