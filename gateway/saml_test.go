package gateway_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/gateway/internal/demopki"
	"github.com/gatehouse/gatehouse/gateway/internal/redistest"
	"github.com/gatehouse/gatehouse/samlsts"
	"github.com/gatehouse/gatehouse/soap"
)

const (
	stsEntity     = "urn:gatehouse:sts"
	audAccounts   = "urn:gatehouse:service:accounts"
	audAccounts11 = "urn:gatehouse:service:accounts11"
	directoryFile = `<directory xmlns="urn:gatehouse:directory:1">
  <subject nameID="alice@example.com" format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress" username="teller">
    <role>teller</role><attribute name="racfUserId">ALICE01</attribute>
  </subject>
  <subject nameID="` + demopki.ConsumerSPIFFEID + `" workload="` + demopki.ConsumerSPIFFEID + `"/>
</directory>`
)

// samlEnv starts a gateway with the STS and both services requiring SAML.
func samlEnv(t *testing.T, skew string, extra ...func(*envOptions)) *env {
	t.Helper()
	srv := redistest.Start(t)
	dir := t.TempDir()
	must(t, demopki.Generate(filepath.Join(dir, "pki")))
	must(t, os.WriteFile(filepath.Join(dir, "users.xml"), []byte(usersFile), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "teller.secret"), []byte(tellerSecret), 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "directory.xml"), []byte(directoryFile), 0o644))
	saml := func(aud string) string {
		return `<saml audience="` + aud + `" maxClockSkew="` + skew + `"><issuer entityID="` + stsEntity + `"/></saml>`
	}
	o := envOptions{
		dir: dir, store: redisStore(srv, "gh-saml-test:"), lockout: fastLockout,
		trust:       `<trust name="sts-signing"><certificate file="pki/sts.crt"/></trust>`,
		users:       usersSection,
		samlIssuers: `<samlIssuer entityID="` + stsEntity + `" trust="sts-signing"/>`,
		sts: `<sts path="/sts" entityID="` + stsEntity + `" signingCertificate="pki/sts.crt" signingKey="pki/sts.key">` +
			`<directory file="directory.xml"/><authentication usernameToken="true" certificate="true"/></sts>`,
		saml: saml(audAccounts), saml11: saml(audAccounts11),
	}
	for _, f := range extra {
		f(&o)
	}
	return newEnv(t, o)
}

// requestToken asks the STS for a bearer token for audience, as the
// teller user (password) or, with an empty password, as the TLS workload.
func requestToken(t *testing.T, e *env, password, audience, lifetime string, extra ...string) (string, string) {
	t.Helper()
	sec := ""
	if password != "" {
		sec = `<soap:Header><wsse:Security xmlns:wsse="` + soap.NSWSSE + `"><wsse:UsernameToken><wsse:Username>teller</wsse:Username>` +
			`<wsse:Password>` + password + `</wsse:Password></wsse:UsernameToken></wsse:Security></soap:Header>`
	}
	lt := ""
	if lifetime != "" {
		lt = `<wst:Lifetime><wsu:Expires xmlns:wsu="` + soap.NSWSU + `">` + lifetime + `</wsu:Expires></wst:Lifetime>`
	}
	body := `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">` + sec + `<soap:Body>` +
		`<wst:RequestSecurityToken xmlns:wst="` + samlsts.NSTrust + `"><wst:RequestType>` + samlsts.RequestIssue + `</wst:RequestType>` +
		`<wsp:AppliesTo xmlns:wsp="` + samlsts.NSPolicy + `"><wsa:EndpointReference xmlns:wsa="` + soap.NSWSA + `"><wsa:Address>` + audience +
		`</wsa:Address></wsa:EndpointReference></wsp:AppliesTo>` + lt + strings.Join(extra, "") + `</wst:RequestSecurityToken></soap:Body></soap:Envelope>`
	resp := e.post(t, "/sts", body, "1.1")
	out := readAll(t, resp)
	if resp.StatusCode != 200 {
		return "", out
	}
	doc := etree.NewDocument()
	must(t, doc.ReadFromString(out))
	a := doc.FindElement("//RequestedSecurityToken/Assertion")
	if a == nil {
		t.Fatalf("no assertion in STS answer: %s", out)
	}
	d2 := etree.NewDocument()
	d2.SetRoot(a.Copy())
	s, _ := d2.WriteToString()
	return s, out
}

// withToken puts an assertion in a request's Security header.
func withToken(assertion string) string {
	return `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header><wsse:Security xmlns:wsse="` + soap.NSWSSE + `">` +
		assertion + `</wsse:Security></soap:Header><soap:Body>` + getBalance + `</soap:Body></soap:Envelope>`
}

// TestSTSTokenFlow: a consumer obtains a token from the STS and calls a
// service with it; without a token, with a token for another audience,
// with an expired one, or replaying a bearer token, the call fails with the
// right fault and the audit log says why.
func TestSTSTokenFlow(t *testing.T) {
	e := samlEnv(t, "1s")
	token, out := requestToken(t, e, tellerSecret, audAccounts, "")
	if token == "" {
		t.Fatalf("STS refused: %s", out)
	}
	if strings.Contains(out, tellerSecret) {
		t.Fatal("STS answer echoes the password")
	}

	resp := e.post(t, accountsPath, withToken(token), "1.1")
	if body := readAll(t, resp); resp.StatusCode != 200 {
		t.Fatalf("call with token: %d %s", resp.StatusCode, body)
	}
	rec := e.record(t, resp.Header.Get("X-Correlation-ID"))
	if rec.Subject != "alice@example.com" || rec.Issuer != stsEntity || len(rec.Roles) != 1 || rec.Roles[0] != "teller" {
		t.Errorf("audit %+v", rec)
	}
	if rec.Audience != audAccounts || rec.TokenID == "" || !strings.Contains(token, `ID="`+rec.TokenID+`"`) || rec.Delegation != nil {
		t.Errorf("audit names audience %q token %q delegation %v", rec.Audience, rec.TokenID, rec.Delegation)
	}
	if fwd := string(e.backend.LastRequest()); strings.Contains(fwd, "Assertion") {
		t.Error("the inbound token reached the backend")
	}

	cases := []struct {
		name, path, body, code, reason string
	}{
		{"replayed bearer token", accountsPath, withToken(token), "InvalidSecurity", "replay: assertion"},
		{"no token", accountsPath, envelope11(getBalance), "SecurityTokenUnavailable", "no SAML assertion"},
		{"token for another audience", "/services/accounts11", withToken(mustToken(t, e, audAccounts)), "InvalidSecurityToken", "audience"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := expectFault(t, e.post(t, c.path, c.body, "1.1"), 500, c.code)
			if r := e.record(t, id); !strings.Contains(r.Reason, c.reason) {
				t.Errorf("reason %q, want %q", r.Reason, c.reason)
			}
		})
	}

	t.Run("expired token", func(t *testing.T) {
		short, out := requestToken(t, e, tellerSecret, audAccounts, time.Now().Add(time.Second).UTC().Format(time.RFC3339))
		if short == "" {
			t.Fatalf("STS refused: %s", out)
		}
		time.Sleep(2500 * time.Millisecond) // lifetime 1s + skew 1s
		id := expectFault(t, e.post(t, accountsPath, withToken(short), "1.1"), 500, "MessageExpired")
		if r := e.record(t, id); !strings.Contains(r.Reason, "expired") {
			t.Errorf("reason %q", r.Reason)
		}
	})
}

func mustToken(t *testing.T, e *env, audience string) string {
	t.Helper()
	tok, out := requestToken(t, e, tellerSecret, audience, "")
	if tok == "" {
		t.Fatalf("STS refused: %s", out)
	}
	return tok
}

// TestSTSWorkloadAndBruteForce: the STS issues to an mTLS workload, refuses
// unknown audiences, and locks out after repeated wrong passwords. Its
// metadata names its signing certificate.
func TestSTSWorkloadAndBruteForce(t *testing.T) {
	e := samlEnv(t, "2m")
	resp, err := e.client.Get(e.base + "/sts/metadata")
	must(t, err)
	md := readAll(t, resp)
	sts, err := os.ReadFile(filepath.Join(e.dir, "pki", demopki.STSCert))
	must(t, err)
	if resp.StatusCode != 200 || !strings.Contains(md, `entityID="`+stsEntity+`"`) || !strings.Contains(md, pemBody(sts)[:64]) {
		t.Errorf("metadata %d:\n%s", resp.StatusCode, md)
	}
	tok, out := requestToken(t, e, "", audAccounts11, "")
	if tok == "" || !strings.Contains(tok, demopki.ConsumerSPIFFEID) {
		t.Fatalf("workload token: %s", out)
	}
	if _, out := requestToken(t, e, "", "urn:gatehouse:service:unknown", ""); !strings.Contains(out, "InvalidScope") {
		t.Errorf("unknown audience: %s", out)
	}
	for range 3 {
		if _, out := requestToken(t, e, "guess", audAccounts, ""); !strings.Contains(out, "FailedAuthentication") {
			t.Fatalf("wrong password: %s", out)
		}
	}
	_, out = requestToken(t, e, tellerSecret, audAccounts, "")
	if !strings.Contains(out, "FailedAuthentication") {
		t.Fatalf("right password after brute force was not refused: %s", out)
	}
	locked := false
	for _, r := range e.records(t) {
		if r.Service == "sts" && strings.Contains(r.Reason, "locked out until") {
			locked = true
		}
		if strings.Contains(r.Reason, tellerSecret) || strings.Contains(r.Reason, "guess") {
			t.Fatalf("password in audit: %+v", r)
		}
	}
	if !locked {
		t.Error("no audit record says the requester is locked out")
	}
}

// pemBody is the base64 of a PEM certificate on one line.
func pemBody(p []byte) string {
	var b strings.Builder
	for _, l := range strings.Split(string(p), "\n") {
		if !strings.HasPrefix(l, "-----") {
			b.WriteString(strings.TrimSpace(l))
		}
	}
	return b.String()
}

// TestHolderOfKeyThroughGateway: a holder-of-key token bound to the client's
// TLS certificate passes the envelope schema (its KeyInfoConfirmationDataType
// is resolved) and the confirmation over the same mTLS key.
func TestHolderOfKeyThroughGateway(t *testing.T) {
	e := samlEnv(t, "2m")
	hok, out := requestToken(t, e, tellerSecret, audAccounts, "", `<wst:KeyType>`+samlsts.KeyTypePublic+`</wst:KeyType>`)
	if hok == "" || !strings.Contains(hok, "KeyInfoConfirmationDataType") {
		t.Fatalf("holder-of-key token: %s", out)
	}
	resp := e.post(t, accountsPath, withToken(hok), "1.1")
	if body := readAll(t, resp); resp.StatusCode != 200 {
		t.Fatalf("call with holder-of-key token: %d %s", resp.StatusCode, body)
	}
	// The same token from another client key is refused.
	other := e.clientWith(demopki.ServerCert, demopki.ServerKey)
	req, _ := http.NewRequest(http.MethodPost, e.base+accountsPath, strings.NewReader(withToken(hok)))
	req.Header.Set("Content-Type", "text/xml")
	req.Header.Set("SOAPAction", `""`)
	resp, err := other.Do(req)
	must(t, err)
	expectFault(t, resp, 500, "InvalidSecurityToken")
}
