package gateway_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/gateway/internal/demo"
	"github.com/gatehouse/gatehouse/gateway/internal/demopki"
	"github.com/gatehouse/gatehouse/gateway/internal/redistest"
	"github.com/gatehouse/gatehouse/internal/dn"
	"github.com/gatehouse/gatehouse/soap"
	"github.com/gatehouse/gatehouse/soap/wssec"
	"github.com/gatehouse/gatehouse/soap/xmlenc"
)

const (
	trustInternal   = `<trust name="internal"><ca file="pki/ca.crt"/></trust>`
	signingPolicy   = `<security trust="internal" require="timestamp signature" signedParts="Body Timestamp"/>`
	redisStoreFmt   = `<store><redis addresses="%s" prefix="%s" timeout="300ms"/></store>`
	fastLockout     = `<lockout threshold="3" window="1m" baseBackoff="1s" maxBackoff="2s"/>`
	usersSection    = `<users file="users.xml"/>`
	usernamePolicy  = `<security require="usernameToken"/>`
	usersFile       = `<users xmlns="urn:gatehouse:users:1"><user name="teller" secretFile="teller.secret"/></users>`
	tellerSecret    = "correct horse battery staple"
	securityHeader  = "Security"
	accountsPath    = "/services/accounts"
	invalidSecurity = "InvalidSecurity"
)

// signedRequest returns a SOAP 1.1 GetBalance signed with the demo
// consumer's key (ECDSA P-256, certificate from the internal CA).
func signedRequest(t testing.TB, dir string) string {
	t.Helper()
	kp, err := tls.LoadX509KeyPair(filepath.Join(dir, "pki", demopki.ConsumerCert), filepath.Join(dir, "pki", demopki.ConsumerKey))
	must(t, err)
	env, err := soap.Parse([]byte(envelope11(getBalance)), soap.DefaultLimits())
	must(t, err)
	s := &wssec.Signer{Key: kp.PrivateKey.(crypto.Signer), Cert: kp.Leaf, Clock: time.Now}
	must(t, s.Sign(env))
	out, err := env.Bytes()
	must(t, err)
	return string(out)
}

// faultOf returns the status and the fault code text of a SOAP 1.1 answer.
func expectFault(t *testing.T, resp *http.Response, status int, code string) string {
	t.Helper()
	body := readAll(t, resp)
	if resp.StatusCode != status || !strings.Contains(body, code) {
		t.Fatalf("status %d, want %d with %s: %s", resp.StatusCode, status, code, body)
	}
	return resp.Header.Get("X-Correlation-ID")
}

func redisStore(srv *redistest.Server, prefix string) string {
	return strings.Replace(strings.Replace(redisStoreFmt, "%s", srv.Addr, 1), "%s", prefix, 1)
}

// TestSignedRequestsAndReplayAcrossInstances: two gateways share one real
// redis-server; a signed request passes once, its replay is refused by the
// same and by the other instance; the inbound Security header never reaches
// the backend; with Redis down requests fail closed and /readyz says so; when
// Redis returns, service resumes without a restart.
func TestSignedRequestsAndReplayAcrossInstances(t *testing.T) {
	srv := redistest.Start(t)
	o := envOptions{store: redisStore(srv, "gh-replay-test:"), trust: trustInternal, security: signingPolicy}
	gw1 := newEnv(t, o)
	o.dir = gw1.dir
	gw2 := newEnv(t, o)

	msg := signedRequest(t, gw1.dir)
	resp := gw1.post(t, accountsPath, msg, "1.1")
	if body := readAll(t, resp); resp.StatusCode != 200 {
		t.Fatalf("signed request: %d %s", resp.StatusCode, body)
	}
	rec := gw1.record(t, resp.Header.Get("X-Correlation-ID"))
	if rec.Authn != "x509" || !strings.Contains(rec.Subject, "teller-app") || rec.Issuer == "" || rec.Issuer == rec.Subject {
		t.Errorf("audit identity: authn %q, subject %q, issuer %q; want the signer's DN issued by the CA", rec.Authn, rec.Subject, rec.Issuer)
	}
	if fwd := string(gw1.backend.LastRequest()); strings.Contains(fwd, securityHeader) || strings.Contains(fwd, "BinarySecurityToken") {
		t.Errorf("inbound Security header forwarded to the backend:\n%s", fwd)
	}

	id := expectFault(t, gw1.post(t, accountsPath, msg, "1.1"), 500, invalidSecurity)
	if r := gw1.record(t, id); !strings.Contains(r.Reason, "replay") {
		t.Errorf("replay audit reason %q", r.Reason)
	}
	id = expectFault(t, gw2.post(t, accountsPath, msg, "1.1"), 500, invalidSecurity)
	if r := gw2.record(t, id); !strings.Contains(r.Reason, "replay") {
		t.Errorf("second instance: replay audit reason %q", r.Reason)
	}
	if n := gw1.backend.Calls() + gw2.backend.Calls(); n != 1 {
		t.Errorf("backends called %d times, want 1", n)
	}

	srv.Stop()
	start := time.Now()
	id = expectFault(t, gw1.post(t, accountsPath, signedRequest(t, gw1.dir), "1.1"), http.StatusServiceUnavailable, "soap:Server")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("fail-closed answer took %v", d)
	}
	if r := gw1.record(t, id); !strings.Contains(r.Reason, "shared store") {
		t.Errorf("fail-closed audit reason %q", r.Reason)
	}
	if code := getStatus(t, "http://"+gw1.gw.AdminAddr().String()+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz = %d with Redis down", code)
	}

	srv.Restart()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp := gw1.post(t, accountsPath, signedRequest(t, gw1.dir), "1.1")
		body := readAll(t, resp)
		if resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery after Redis restart: %d %s", resp.StatusCode, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code := getStatus(t, "http://"+gw1.gw.AdminAddr().String()+"/readyz"); code != 200 {
		t.Errorf("/readyz = %d after Redis came back", code)
	}
}

func getStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	must(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func usernameRequest(user, password string) string {
	return `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header>` +
		`<wsse:Security soap:mustUnderstand="1" xmlns:wsse="` + soap.NSWSSE + `"><wsse:UsernameToken>` +
		`<wsse:Username>` + user + `</wsse:Username><wsse:Password>` + password + `</wsse:Password>` +
		`</wsse:UsernameToken></wsse:Security></soap:Header><soap:Body>` + getBalance + `</soap:Body></soap:Envelope>`
}

// TestLockout: after the threshold of failed logins the user is refused
// before any password check, even with the right password; after the
// backoff it may log in again.
func TestLockout(t *testing.T) {
	srv := redistest.Start(t)
	dir := t.TempDir()
	must(t, demopki.Generate(filepath.Join(dir, "pki")))
	must(t, os.WriteFile(filepath.Join(dir, "users.xml"), []byte(usersFile), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "teller.secret"), []byte(tellerSecret+"\n"), 0o600))
	e := newEnv(t, envOptions{dir: dir, store: redisStore(srv, "gh-lockout-test:"), lockout: fastLockout, users: usersSection, security: usernamePolicy})

	ok := func() *http.Response { return e.post(t, accountsPath, usernameRequest("teller", tellerSecret), "1.1") }
	if resp := ok(); resp.StatusCode != 200 {
		t.Fatalf("right password refused: %s", readAll(t, resp))
	} else {
		readAll(t, resp)
	}
	for i := range 3 {
		id := expectFault(t, e.post(t, accountsPath, usernameRequest("teller", "guess"), "1.1"), 500, "FailedAuthentication")
		rec := e.record(t, id)
		if i == 2 && !strings.Contains(rec.Reason, "now locked out") {
			t.Errorf("third failure reason %q", rec.Reason)
		}
	}
	id := expectFault(t, ok(), 500, "FailedAuthentication")
	if rec := e.record(t, id); !strings.Contains(rec.Reason, "locked out until") {
		t.Errorf("locked reason %q", rec.Reason)
	}
	for _, r := range e.records(t) {
		if strings.Contains(r.Reason, tellerSecret) || strings.Contains(r.Reason, "guess") {
			t.Fatalf("a password reached the audit log: %+v", r)
		}
	}
	time.Sleep(1200 * time.Millisecond)
	if resp := ok(); resp.StatusCode != 200 {
		t.Fatalf("still refused after the backoff: %s", readAll(t, resp))
	} else {
		readAll(t, resp)
	}
}

// TestLockoutSparesTheCaller: users behind one workload (a portal) do not
// lock each other out: a locked-out user leaves the others and the workload
// alone. Only when the workload's failures reach the much higher caller
// threshold is it throttled: refused with 429 for callerBackoff, whoever
// its user, then served again.
func TestLockoutSparesTheCaller(t *testing.T) {
	dir := t.TempDir()
	must(t, demopki.Generate(filepath.Join(dir, "pki")))
	must(t, os.WriteFile(filepath.Join(dir, "users.xml"), []byte(`<users xmlns="urn:gatehouse:users:1">`+
		`<user name="teller" secretFile="teller.secret"/><user name="clerk" secretFile="clerk.secret"/></users>`), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "teller.secret"), []byte(tellerSecret), 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "clerk.secret"), []byte("clerk secret"), 0o600))
	lockout := `<lockout threshold="3" window="1m" baseBackoff="10s" maxBackoff="10s" callerThreshold="6" callerBackoff="2s"/>`
	e := newEnv(t, envOptions{dir: dir, lockout: lockout, users: usersSection, security: usernamePolicy})
	clerk := func() *http.Response { return e.post(t, accountsPath, usernameRequest("clerk", "clerk secret"), "1.1") }
	wantOK := func(what string) {
		t.Helper()
		if resp := clerk(); resp.StatusCode != 200 {
			t.Fatalf("%s: the clerk's right password refused: %s", what, readAll(t, resp))
		} else {
			readAll(t, resp)
		}
	}

	for range 3 {
		expectFault(t, e.post(t, accountsPath, usernameRequest("teller", "guess"), "1.1"), 500, "FailedAuthentication")
	}
	id := expectFault(t, e.post(t, accountsPath, usernameRequest("teller", tellerSecret), "1.1"), 500, "FailedAuthentication")
	if rec := e.record(t, id); !strings.Contains(rec.Reason, `user "teller" locked out until`) {
		t.Errorf("locked reason %q", rec.Reason)
	}
	wantOK("teller locked out") // same workload, another user

	// Three more failures (unknown users, one each) make six for the caller.
	for i := range 3 {
		id := expectFault(t, e.post(t, accountsPath, usernameRequest(fmt.Sprintf("ghost%d", i), "guess"), "1.1"), 500, "FailedAuthentication")
		if rec := e.record(t, id); (i == 2) != strings.Contains(rec.Reason, "caller now throttled") {
			t.Errorf("failure %d of the caller: reason %q", 4+i, rec.Reason)
		}
	}
	resp := clerk()
	id = expectFault(t, resp, http.StatusTooManyRequests, "Client")
	if rec := e.record(t, id); !strings.Contains(rec.Reason, "throttled until") || !strings.Contains(rec.Reason, demopki.ConsumerSPIFFEID) {
		t.Errorf("throttled reason %q", rec.Reason)
	}
	if v, _ := sample(e.scrape(t), `gatehouse_throttled_total{limit="authFailures",service="accounts"}`); v != "1" {
		t.Errorf("throttled by authentication failures = %q, want 1", v)
	}
	if e.backend.Calls() != 1 {
		t.Errorf("backend called %d times, want 1", e.backend.Calls())
	}
	time.Sleep(2200 * time.Millisecond)
	wantOK("after the caller backoff")
}

// TestSecurityPolicyRefusals: no Security header under a signing policy, and
// an unknown mandatory header, are refused with their standard codes.
func TestSecurityPolicyRefusals(t *testing.T) {
	e := newEnv(t, envOptions{trust: trustInternal, security: signingPolicy})
	id := expectFault(t, e.post(t, accountsPath, envelope11(getBalance), "1.1"), 500, invalidSecurity)
	if r := e.record(t, id); !strings.Contains(r.Reason, "requires a signature") && !strings.Contains(r.Reason, "requires a Timestamp") {
		t.Errorf("reason %q", r.Reason)
	}
	mu := `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header><x:Transaction xmlns:x="urn:x" soap:mustUnderstand="1">1</x:Transaction></soap:Header><soap:Body>` + getBalance + `</soap:Body></soap:Envelope>`
	expectFault(t, e.post(t, "/services/accounts11", mu, "1.1"), 500, "soap:MustUnderstand")
	if e.backend.Calls() != 0 {
		t.Errorf("backend called %d times", e.backend.Calls())
	}
}

// TestNonceReuse: a UsernameToken whose nonce was already used is refused,
// even with the right password; a fresh nonce passes.
func TestNonceReuse(t *testing.T) {
	srv := redistest.Start(t)
	dir := t.TempDir()
	must(t, demopki.Generate(filepath.Join(dir, "pki")))
	must(t, os.WriteFile(filepath.Join(dir, "users.xml"), []byte(usersFile), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "teller.secret"), []byte(tellerSecret), 0o600))
	e := newEnv(t, envOptions{dir: dir, store: redisStore(srv, "gh-nonce-test:"), users: usersSection, security: usernamePolicy})

	withNonce := func(nonce string) string {
		created := time.Now().UTC().Format(time.RFC3339)
		return strings.Replace(usernameRequest("teller", tellerSecret), "</wsse:Password>",
			`</wsse:Password><wsse:Nonce>`+nonce+`</wsse:Nonce><wsu:Created xmlns:wsu="`+soap.NSWSU+`">`+created+`</wsu:Created>`, 1)
	}
	first := withNonce("bm9uY2Utb25lLTEyMzQ1Ng==")
	if resp := e.post(t, accountsPath, first, "1.1"); resp.StatusCode != 200 {
		t.Fatalf("first use refused: %s", readAll(t, resp))
	} else {
		readAll(t, resp)
	}
	id := expectFault(t, e.post(t, accountsPath, withNonce("bm9uY2Utb25lLTEyMzQ1Ng=="), "1.1"), 500, invalidSecurity)
	if r := e.record(t, id); !strings.Contains(r.Reason, "replay: nonce") {
		t.Errorf("reason %q", r.Reason)
	}
	if resp := e.post(t, accountsPath, withNonce("bm9uY2UtdHdvLTEyMzQ1Ng=="), "1.1"); resp.StatusCode != 200 {
		t.Fatalf("fresh nonce refused: %s", readAll(t, resp))
	} else {
		readAll(t, resp)
	}
}

// TestSignedOutbound: a backend that requires WS-Security signatures gets a
// request signed by the gateway's key (never the client's header), and the
// signature verifies against the internal CA.
func TestSignedOutbound(t *testing.T) {
	var verified atomic.Value
	var e *env
	accounts := &demo.Accounts{}
	e = newEnv(t, envOptions{
		trust: trustInternal, security: signingPolicy,
		backendTLS: `<sign certificate="pki/server.crt" key="pki/server.key"/>`,
		backendHandler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			env, err := soap.Parse(body, soap.DefaultLimits())
			if err == nil {
				ca, _ := os.ReadFile(filepath.Join(e.dir, "pki", demopki.CACert))
				pool := x509.NewCertPool()
				pool.AppendCertsFromPEM(ca)
				vr := &wssec.Verifier{Trust: wssec.NewTrustStore(pool, nil), Clock: time.Now, Policy: wssec.Policy{
					RequireTimestamp: true, RequireSignature: true, SignedParts: []wssec.Part{{Kind: wssec.PartBody}, {Kind: wssec.PartTimestamp}}}}
				var v *wssec.Verified
				if v, err = vr.Verify(env); err == nil {
					verified.Store("x509:" + v.Signer.Certificate.Subject.String())
				}
			}
			if err != nil {
				verified.Store("refused: " + err.Error())
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			accounts.ServeHTTP(w, r)
		}),
	})
	resp := e.post(t, accountsPath, signedRequest(t, e.dir), "1.1")
	if body := readAll(t, resp); resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	got, _ := verified.Load().(string)
	if !strings.HasPrefix(got, "x509:") || !strings.Contains(got, "CN=gatehouse.") {
		t.Errorf("backend saw %q; want the gateway's own signature", got)
	}
	if strings.Contains(string(accounts.LastRequest()), "teller-app") {
		t.Error("the client's certificate reached the backend")
	}
}

// TestRedisPoolWarmAtStart (issue 18, item 5): the gateway dials half of
// its Redis pool at start, so that a burst right after it does not wait on
// dials (which made spurious 503s in the first 80 ms).
func TestRedisPoolWarmAtStart(t *testing.T) {
	srv := redistest.Start(t)
	newEnv(t, envOptions{store: redisStore(srv, "gh-warm-test:"), trust: trustInternal, security: signingPolicy})
	want := 10 * runtime.GOMAXPROCS(0) / 2 // the test's services allow little concurrency: the floor
	deadline := time.Now().Add(5 * time.Second)
	admin := srv.Admin()
	for {
		list, err := admin.ClientList(context.Background()).Result()
		if err != nil {
			t.Fatal(err)
		}
		// Every connection but the admin's own is the gateway's.
		if n := strings.Count(list, "\n") - 1; n >= want {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("%d gateway connections to Redis after start, want at least %d:\n%s", n, want, list)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestEncryptedOutbound: a backend with <encrypt> gets its Body content
// encrypted to its certificate, alone, signed then encrypted (the default)
// and encrypted then signed (order="encrypt-then-sign"); the backend
// decrypts with its key and verifies the gateway's signature in the order
// the Security header says, and the content is the consumer's.
func TestEncryptedOutbound(t *testing.T) {
	for _, tc := range []struct {
		name, backend string
		signed        bool
		encryptFirst  bool
	}{
		{"encrypted", `<encrypt certificate="pki/sts.crt"/>`, false, false},
		{"signed, then encrypted", `<sign certificate="pki/server.crt" key="pki/server.key"/><encrypt certificate="pki/sts.crt"/>`, true, false},
		{"encrypted, then signed", `<sign certificate="pki/server.crt" key="pki/server.key"/><encrypt certificate="pki/sts.crt" order="encrypt-then-sign"/>`, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var seen atomic.Value
			var e *env
			accounts := &demo.Accounts{}
			e = newEnv(t, envOptions{
				trust: trustInternal, security: signingPolicy, backendTLS: tc.backend,
				backendHandler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					body, _ := io.ReadAll(r.Body)
					seen.Store(checkEncryptedOutbound(e.dir, body, tc.signed, tc.encryptFirst))
					plain, _ := seen.Load().(outboundSeen)
					r.Body = io.NopCloser(bytes.NewReader(plain.body))
					accounts.ServeHTTP(w, r)
				}),
			})
			resp := e.post(t, accountsPath, signedRequest(t, e.dir), "1.1")
			if body := readAll(t, resp); resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			got, _ := seen.Load().(outboundSeen)
			if got.err != "" {
				t.Fatal(got.err)
			}
			if !got.encrypted || !strings.Contains(string(got.body), "<a:AccountId>4711</a:AccountId>") {
				t.Errorf("the backend got encrypted=%v, plaintext %s", got.encrypted, got.body)
			}
			if tc.signed && !strings.Contains(got.signer, "CN=gatehouse.") {
				t.Errorf("signer %q, want the gateway's", got.signer)
			}
		})
	}
}

type outboundSeen struct {
	encrypted bool
	signer    string
	body      []byte // the decrypted message
	err       string
}

// checkEncryptedOutbound is the backend's side: decrypt with the key of
// sts.crt, verify the gateway's signature (over the ciphertext first when
// encryptFirst, else over the plaintext).
func checkEncryptedOutbound(dir string, body []byte, signed, encryptFirst bool) outboundSeen {
	fail := func(err error) outboundSeen { return outboundSeen{err: err.Error(), body: body} }
	env, err := soap.Parse(body, soap.DefaultLimits())
	if err != nil {
		return fail(err)
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "pki", demopki.STSCert), filepath.Join(dir, "pki", demopki.STSKey))
	if err != nil {
		return fail(err)
	}
	leaf, _ := x509.ParseCertificate(pair.Certificate[0])
	d := &xmlenc.Decrypter{Keys: []xmlenc.KeyPair{{Certificate: leaf, Key: pair.PrivateKey.(*rsa.PrivateKey)}}, Limits: soap.DefaultLimits()}
	sec, _ := wssec.FindSecurity(env, "")
	ca, _ := os.ReadFile(filepath.Join(dir, "pki", demopki.CACert))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	vr := &wssec.Verifier{Trust: wssec.NewTrustStore(pool, nil), Clock: time.Now, Policy: wssec.Policy{
		RequireTimestamp: true, RequireSignature: true, SignedParts: []wssec.Part{{Kind: wssec.PartBody}, {Kind: wssec.PartTimestamp}}}}
	var out outboundSeen
	verify := func() error {
		if !signed {
			return nil
		}
		v, err := vr.VerifyDecrypted(env, xmlenc.HeaderElements(sec))
		if err == nil {
			out.signer = v.Signer.Certificate.Subject.String()
		}
		return err
	}
	out.encrypted = len(env.Body.ChildElements()) == 1 && env.Body.ChildElements()[0].Tag == "EncryptedData"
	if kids := sec.ChildElements(); signed && (kids[0].Tag == "EncryptedKey") == encryptFirst {
		return fail(fmt.Errorf("the Security header begins with %s", kids[0].Tag))
	}
	if encryptFirst {
		if err := verify(); err != nil {
			return fail(err)
		}
	}
	if _, err := d.Decrypt(env, sec); err != nil {
		return fail(err)
	}
	if !encryptFirst {
		if err := verify(); err != nil {
			return fail(err)
		}
	}
	env.RemoveSecurityHeaders("")
	out.body, err = env.Bytes()
	if err != nil {
		return fail(err)
	}
	return out
}

// TestEncryptedResponse: a backend that encrypts its answer to the
// gateway's decryption key has it decrypted before it goes on (the Security
// header's EncryptedKey with it); to a service without a key, or with a
// changed ciphertext, the answer is a 502 and nothing encrypted is passed on.
func TestEncryptedResponse(t *testing.T) {
	const withKey = `<security trust="internal" require="timestamp signature" signedParts="Body Timestamp"><decryptionKey certificate="pki/sts.crt" key="pki/sts.key"/></security>`
	for _, tc := range []struct {
		name, security string
		tamper         bool
		status         int
	}{
		{"decrypted", withKey, false, 200},
		{"no decryption key", signingPolicy, false, 502},
		{"ciphertext changed", withKey, true, 502},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e *env
			accounts := &demo.Accounts{}
			e = newEnv(t, envOptions{
				trust: trustInternal, security: tc.security,
				backendHandler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					rec := httptest.NewRecorder()
					accounts.ServeHTTP(rec, r)
					renv, err := soap.Parse(rec.Body.Bytes(), soap.DefaultLimits())
					if err != nil {
						http.Error(w, err.Error(), 500)
						return
					}
					data, _ := os.ReadFile(filepath.Join(e.dir, "pki", demopki.STSCert))
					block, _ := pem.Decode(data)
					cert, _ := x509.ParseCertificate(block.Bytes)
					if err := (&xmlenc.Encrypter{Recipient: cert}).Encrypt(renv); err != nil {
						http.Error(w, err.Error(), 500)
						return
					}
					out, _ := renv.Bytes()
					if tc.tamper {
						i := bytes.LastIndex(out, []byte("</xenc:CipherValue>"))
						out[i-3] ^= 1
					}
					w.Header().Set("Content-Type", "text/xml; charset=utf-8")
					_, _ = w.Write(out)
				}),
			})
			resp := e.post(t, accountsPath, signedRequest(t, e.dir), "1.1")
			body := readAll(t, resp)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if strings.Contains(body, "EncryptedData") || strings.Contains(body, "EncryptedKey") {
				t.Errorf("encrypted content passed on: %s", body)
			}
			if tc.status == 200 && !strings.Contains(body, "GetBalanceResponse") {
				t.Errorf("answer %s", body)
			}
			if tc.status == 502 {
				if r := e.record(t, resp.Header.Get("X-Correlation-ID")); !strings.Contains(r.Reason, "encrypted backend response") {
					t.Errorf("audit reason %q", r.Reason)
				}
			}
		})
	}
}

// TestEncryptResponses: with encryptResponses the answer's Body content is
// encrypted to the certificate that signed the request (an RSA key); a
// requester with no RSA key to encrypt to is refused before the backend.
func TestEncryptResponses(t *testing.T) {
	const policy = `<security trust="internal" require="timestamp signature" signedParts="Body Timestamp" encryptResponses="true"/>`
	accounts := &demo.Accounts{}
	e := newEnv(t, envOptions{trust: trustInternal, security: policy, backendHandler: accounts})
	// The demo consumer's keys are ECDSA: nothing to encrypt to.
	id := expectFault(t, e.post(t, accountsPath, signedRequest(t, e.dir), "1.1"), 500, invalidSecurity)
	if r := e.record(t, id); !strings.Contains(r.Reason, "encryptResponses") {
		t.Errorf("audit reason %q", r.Reason)
	}
	if accounts.LastRequest() != nil {
		t.Error("the backend was called")
	}

	// Signed with an RSA key of the internal CA (the STS's): the answer is
	// encrypted to it, and its key decrypts it.
	kp, err := tls.LoadX509KeyPair(filepath.Join(e.dir, "pki", demopki.STSCert), filepath.Join(e.dir, "pki", demopki.STSKey))
	must(t, err)
	req, err := soap.Parse([]byte(envelope11(getBalance)), soap.DefaultLimits())
	must(t, err)
	must(t, (&wssec.Signer{Key: kp.PrivateKey.(crypto.Signer), Cert: kp.Leaf, Clock: time.Now}).Sign(req))
	msg, err := req.Bytes()
	must(t, err)
	resp := e.post(t, accountsPath, string(msg), "1.1")
	body := readAll(t, resp)
	if resp.StatusCode != 200 || strings.Contains(body, "<acc:Balance") || strings.Contains(body, "Balance>") {
		t.Fatalf("status %d, answer %s", resp.StatusCode, body)
	}
	ans, err := soap.Parse([]byte(body), soap.DefaultLimits())
	must(t, err)
	sec, _ := wssec.FindSecurity(ans, "")
	d := &xmlenc.Decrypter{Keys: []xmlenc.KeyPair{{Certificate: kp.Leaf, Key: kp.PrivateKey.(*rsa.PrivateKey)}}, Limits: soap.DefaultLimits()}
	if _, err := d.Decrypt(ans, sec); err != nil {
		t.Fatalf("the requester cannot decrypt the answer: %v\n%s", err, body)
	}
	if ans.Operation().Local != "GetBalanceResponse" {
		t.Errorf("decrypted answer: %v", ans.Operation())
	}
}

// TestCertificateExpiryMetric: every certificate the configuration holds
// has its NotAfter exported, by kind, name and subject: the listener's, the
// client CA, the trust store's CA, the outbound signing certificate, the
// backend's encryption certificate and the decryption key's.
func TestCertificateExpiryMetric(t *testing.T) {
	e := newEnv(t, envOptions{
		trust:      trustInternal,
		security:   `<security trust="internal" require="timestamp signature" signedParts="Body Timestamp"><decryptionKey certificate="pki/sts.crt" key="pki/sts.key"/></security>`,
		backendTLS: `<sign certificate="pki/server.crt" key="pki/server.key"/><encrypt certificate="pki/sts.crt"/>`,
	})
	page := e.scrape(t)
	sts, err := tls.LoadX509KeyPair(filepath.Join(e.dir, "pki", demopki.STSCert), filepath.Join(e.dir, "pki", demopki.STSKey))
	must(t, err)
	stsNotAfter := strconv.FormatFloat(float64(sts.Leaf.NotAfter.Unix()), 'e', -1, 64)
	for _, want := range []string{`kind="listener"`, `kind="client-ca"`, `kind="trust-ca",name="internal"`, `kind="outbound-signing"`, `kind="backend-encryption"`, `kind="decryption"`} {
		found := false
		for line := range strings.Lines(page) {
			if strings.HasPrefix(line, "gatehouse_certificate_expiry_timestamp_seconds{") && strings.Contains(line, want) {
				found = true
				if strings.Contains(want, "decryption") && !strings.HasSuffix(strings.TrimSpace(line), " "+stsNotAfter) {
					t.Errorf("%s: %s, want NotAfter %s", want, line, stsNotAfter)
				}
			}
		}
		if !found {
			t.Errorf("no expiry series with %s:\n%s", want, page)
		}
	}
}

// TestHandshakeFailureMetric: failed TLS handshakes are counted by reason
// and by the issuer of the certificate the client presented: one from
// another CA (unknown_authority, that CA named), none at all.
func TestHandshakeFailureMetric(t *testing.T) {
	e := newEnv(t, envOptions{})
	// The untrusted certificate goes out whatever CAs the server names (a
	// Go client would otherwise send none).
	forced := e.clientWith("", "")
	kp, err := tls.LoadX509KeyPair(filepath.Join(e.dir, "pki", demopki.UntrustedCert), filepath.Join(e.dir, "pki", demopki.UntrustedKey))
	must(t, err)
	forced.Transport.(*http.Transport).TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &kp, nil }
	for _, c := range []*http.Client{forced, e.clientWith("", "")} {
		if resp, err := c.Post(e.base+accountsPath, "text/xml", strings.NewReader("<x/>")); err == nil {
			resp.Body.Close()
			t.Fatal("a handshake that should fail succeeded")
		}
	}
	untrusted, err := tls.LoadX509KeyPair(filepath.Join(e.dir, "pki", demopki.UntrustedCert), filepath.Join(e.dir, "pki", demopki.UntrustedKey))
	must(t, err)
	d, err := dn.FromDER(untrusted.Leaf.RawIssuer)
	must(t, err)
	issuer := d.String()
	deadline := time.Now().Add(5 * time.Second)
	for {
		page := e.scrape(t)
		_, unknown := sample(page, `gatehouse_tls_handshake_failures_total{issuer="`+issuer+`",listener="edge",reason="unknown_authority"}`)
		_, none := sample(page, `gatehouse_tls_handshake_failures_total{issuer="",listener="edge",reason="no_client_certificate"}`)
		if unknown && none {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("unknown_authority (%s) %v, no_client_certificate %v:\n%s", issuer, unknown, none, page)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDecisionMetricNamesConsumer: authorization decisions are counted
// with the caller's consumer, as the policy names it.
func TestDecisionMetricNamesConsumer(t *testing.T) {
	e := newEnv(t, envOptions{trust: trustInternal, security: signingPolicy})
	if resp := e.post(t, accountsPath, signedRequest(t, e.dir), "1.1"); resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, readAll(t, resp))
	}
	page := e.scrape(t)
	for line := range strings.Lines(page) {
		if strings.HasPrefix(line, "gatehouse_authz_decisions_total{") && strings.Contains(line, `consumer="demo-workloads"`) && strings.Contains(line, `outcome="allow"`) {
			return
		}
	}
	t.Errorf("no allow decision counted for consumer demo-workloads:\n%s", page)
}
