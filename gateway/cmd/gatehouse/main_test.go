package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/credmap"
	"github.com/gatehouse/gatehouse/gateway/internal/demo"
	"github.com/gatehouse/gatehouse/gateway/internal/demopki"
)

var binary struct {
	once sync.Once
	path string
	err  error
}

// TestMain removes the binary built for the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if binary.path != "" {
		os.RemoveAll(filepath.Dir(binary.path))
	}
	os.Exit(code)
}

// buildBinary compiles the real gatehouse binary once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	binary.once.Do(func() {
		dir, err := os.MkdirTemp("", "gatehouse-bin")
		if err != nil {
			binary.err = err
			return
		}
		binary.path = filepath.Join(dir, "gatehouse")
		out, err := exec.Command("go", "build", "-o", binary.path, ".").CombinedOutput()
		if err != nil {
			binary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// demoDir is the demo configuration the tests copy.
const demoDir = "../../../conf/demo"

// copyDemo copies conf/demo into dir except its PKI and run directories,
// and generates a fresh demo PKI there.
func copyDemo(t *testing.T, dir string) {
	t.Helper()
	if err := demopki.Generate(filepath.Join(dir, "pki")); err != nil {
		t.Fatal(err)
	}
	err := filepath.WalkDir(demoDir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(demoDir, path)
		switch {
		case rel == "pki" || rel == "run":
			return filepath.SkipDir
		case d.IsDir():
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), data, 0o644)
	})
	if err == nil {
		err = os.MkdirAll(filepath.Join(dir, "run"), 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// writeConfig writes dir/name: the demo's file of that name with the
// replacements made (old, new pairs).
func writeConfig(t *testing.T, dir, name string, replace ...string) string {
	t.Helper()
	return writeConfigAs(t, dir, name, name, replace...)
}

// writeConfigAs is writeConfig that writes the demo's file name as dir/as.
func writeConfigAs(t *testing.T, dir, name, as string, replace ...string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(demoDir, name))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, as)
	if err := os.WriteFile(path, []byte(strings.NewReplacer(replace...).Replace(string(data))), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeDemo lays out a configuration like conf/demo in dir: the edge on
// edge, its admin listener on admin, the accounts service at backendURL.
func writeDemo(t *testing.T, dir, backendURL, edge, admin string, replace ...string) string {
	t.Helper()
	copyDemo(t, dir)
	return writeConfig(t, dir, "gatehouse.xml", edgeReplacements(backendURL, edge, admin, replace...)...)
}

// edgeReplacements are the replacements that move the demo's edge
// configuration to the test's addresses.
func edgeReplacements(backendURL, edge, admin string, replace ...string) []string {
	return append([]string{
		"127.0.0.1:8443", edge,
		"127.0.0.1:9090", admin,
		"http://127.0.0.1:8081/accounts", backendURL,
		"<stdout/>", ""}, replace...)
}

// TestBinaryEndToEnd runs the real binary on the demo configuration (ports
// changed), sends a valid call and an XXE attempt, stops it with SIGTERM and
// reads the audit log it wrote.
func TestBinaryEndToEnd(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	accounts := &demo.Accounts{}
	backend := httptest.NewServer(accounts)
	defer backend.Close()
	edge, admin := freeAddr(t), freeAddr(t)
	cfgPath := writeDemo(t, dir, backend.URL+"/accounts", edge, admin)

	// check-config shares the loader with serve.
	out, err := exec.Command(bin, "check-config", cfgPath).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "1 listener") || !strings.Contains(string(out), "STS at /sts") {
		t.Fatalf("check-config: %v\n%s", err, out)
	}

	srv := serveDemo(t, bin, cfgPath, admin, "-drain", "5s")
	cmd, done, stderr := srv.cmd, srv.done, srv.stderr

	client := mtlsClient(t, filepath.Join(dir, "pki"))
	call := func(file string) (*http.Response, string) {
		body, err := os.ReadFile(filepath.Join("../../../conf/demo/requests", file))
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("POST", "https://"+edge+"/services/accounts", bytes.NewReader(body))
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
		req.Header.Set("SOAPAction", `"urn:gatehouse:demo:accounts:GetBalance"`)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := call("get-balance-11.xml")
	if resp.StatusCode != 200 || !strings.Contains(body, "<a:Balance>") {
		t.Fatalf("valid call: %d %s", resp.StatusCode, body)
	}
	resp, body = call("xxe.xml")
	if resp.StatusCode != 500 || !strings.Contains(body, "soap:Client") || strings.Contains(body, "root:") {
		t.Fatalf("xxe call: %d %s", resp.StatusCode, body)
	}
	if accounts.Calls() != 1 {
		t.Errorf("backend calls = %d, want 1", accounts.Calls())
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("gatehouse did not stop after SIGTERM")
	}

	f, err := os.Open(filepath.Join(dir, "run", "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var outcomes []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec struct{ Outcome, Reason string }
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		outcomes = append(outcomes, rec.Outcome+":"+rec.Reason)
	}
	if len(outcomes) != 2 || outcomes[0] != "ok:" || !strings.HasPrefix(outcomes[1], "fault:") || !strings.Contains(outcomes[1], "markup declaration") {
		t.Errorf("audit log: %q", outcomes)
	}
}

func TestCheckConfigReportsLocation(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	cfgPath := writeDemo(t, dir, "http://127.0.0.1:1/accounts", "127.0.0.1:0", "127.0.0.1:0")
	data, _ := os.ReadFile(cfgPath)
	broken := strings.Replace(string(data), `timeout="10s"`, `timeout="ten seconds"`, 1)
	if err := os.WriteFile(cfgPath, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "check-config", cfgPath).CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v\n%s", err, out)
	}
	line := 0
	for i, l := range strings.Split(broken, "\n") {
		if strings.Contains(l, "ten seconds") {
			line = i + 1
		}
	}
	if want := fmt.Sprintf("%s:%d:", cfgPath, line); !strings.Contains(string(out), want) {
		t.Errorf("output does not name %s:\n%s", want, out)
	}
}

// TestCheckConfigCompositeNeedsSTS: a composite that calls a
// SAML-protected service needs the STS to mint its hop assertions; without
// <sts> the configuration is refused, naming the composite and the target.
func TestCheckConfigCompositeNeedsSTS(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	cfgPath := writeDemo(t, dir, "http://127.0.0.1:1/accounts", "127.0.0.1:0", "127.0.0.1:0")
	data, _ := os.ReadFile(cfgPath)
	start, end := strings.Index(string(data), "<sts "), strings.Index(string(data), "</sts>")
	if start < 0 || end < start {
		t.Fatal("the demo configuration has no <sts>")
	}
	if err := os.WriteFile(cfgPath, append(data[:start:start], data[end+len("</sts>"):]...), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "check-config", cfgPath).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 ||
		!strings.Contains(string(out), "composite open-account calls mainframe-accounts, which wants a SAML assertion") {
		t.Errorf("check-config without an STS: %v\n%s", err, out)
	}
}

// running is a gatehouse serve process started by a test.
type running struct {
	cmd    *exec.Cmd
	done   chan error
	stderr *syncBuffer
}

// syncBuffer is the process's stderr: written by exec's copying goroutine
// while a test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serveDemo starts the binary on cfgPath and waits until /readyz answers;
// the process is killed at the end of the test if still running. SIGTERM
// stops it without a shutdown delay unless args set one.
func serveDemo(t *testing.T, bin, cfgPath, admin string, args ...string) *running {
	t.Helper()
	r := &running{done: make(chan error, 1), stderr: &syncBuffer{}}
	r.cmd = exec.Command(bin, append([]string{"serve", "-config", cfgPath, "-shutdown-delay", "0"}, args...)...)
	r.cmd.Stderr = r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.done <- r.cmd.Wait() }()
	t.Cleanup(func() {
		if r.cmd.ProcessState == nil {
			_ = r.cmd.Process.Kill()
			<-r.done
		}
	})
	waitReady(t, "http://"+admin+"/readyz", r.done, r.stderr)
	return r
}

// clientArgs are the mTLS flags of gatehouse token and call for the demo consumer.
func clientArgs(pki string) []string {
	return []string{"-cert", filepath.Join(pki, demopki.ConsumerCert), "-key", filepath.Join(pki, demopki.ConsumerKey), "-cacert", filepath.Join(pki, demopki.CACert)}
}

func waitReady(t *testing.T, url string, done chan error, stderr fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("gatehouse exited: %v\n%s", err, stderr.String())
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("gatehouse not ready\n%s", stderr.String())
}

func mtlsClient(t *testing.T, pki string) *http.Client {
	t.Helper()
	return mtlsClientAs(t, pki, filepath.Join(pki, demopki.ConsumerCert), filepath.Join(pki, demopki.ConsumerKey))
}

// mtlsClientAs is mtlsClient presenting the client certificate in
// certFile and keyFile.
func mtlsClientAs(t *testing.T, pki, certFile, keyFile string) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(filepath.Join(pki, demopki.CACert))
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(ca)
	kp, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: pool, Certificates: []tls.Certificate{kp}, ServerName: "localhost", MinVersion: tls.VersionTLS12,
	}}}
}

// TestBinaryTokenFlow is the README's demo through the real binaries: get a
// token from the STS with a password, call the SAML-protected service with
// it, and see the same token refused when replayed, and refused without it.
func TestBinaryTokenFlow(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	accounts := &demo.Accounts{}
	backend := httptest.NewServer(accounts)
	defer backend.Close()
	edge, admin := freeAddr(t), freeAddr(t)
	cfgPath := writeDemo(t, dir, backend.URL+"/accounts", edge, admin)

	srv := serveDemo(t, bin, cfgPath, admin)
	pki := filepath.Join(dir, "pki")
	clientArgs := clientArgs(pki)
	tokenArgs := append([]string{"token", "-sts", "https://" + edge + "/sts", "-audience", "urn:gatehouse:demo:accounts-secure",
		"-user", "teller", "-password-file", filepath.Join(pki, demopki.TellerSecret)}, clientArgs...)
	out, err := exec.Command(bin, tokenArgs...).Output()
	if err != nil {
		t.Fatalf("gatehouse token: %v\n%s", err, srv.stderr.String())
	}
	if !strings.Contains(string(out), "alice@example.com") {
		t.Fatalf("token: %s", out)
	}
	tokenFile := filepath.Join(dir, "token.xml")
	if err := os.WriteFile(tokenFile, out, 0o600); err != nil {
		t.Fatal(err)
	}
	call := func(extra ...string) (string, error) {
		args := append([]string{"call", "-url", "https://" + edge + "/services/accounts-secure", "-file", "../../../conf/demo/requests/get-balance-11.xml"}, clientArgs...)
		out, err := exec.Command(bin, append(args, extra...)...).Output()
		return string(out), err
	}
	if out, err := call("-token", tokenFile); err != nil || !strings.Contains(out, "HTTP 200") || !strings.Contains(out, "GetBalanceResponse") {
		t.Fatalf("call with token: %v\n%s", err, out)
	}
	if out, err := call("-token", tokenFile); err == nil || !strings.Contains(out, "InvalidSecurity") {
		t.Errorf("replayed token: %v\n%s", err, out)
	}
	// The same subject (role teller) on another operation: the policy
	// wants a supervisor for transfers.
	out, err = exec.Command(bin, tokenArgs...).Output()
	if err == nil {
		err = os.WriteFile(tokenFile, out, 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
	transfer := append([]string{"call", "-url", "https://" + edge + "/services/accounts-secure", "-file", "../../../conf/demo/requests/transfer-11.xml", "-token", tokenFile}, clientArgs...)
	if out, err := exec.Command(bin, transfer...).Output(); err == nil || !strings.Contains(string(out), "HTTP 403") || !strings.Contains(string(out), "not authorized") {
		t.Errorf("transfer by a teller: %v\n%s", err, out)
	}
	if out, err := call(); err == nil || !strings.Contains(out, "SecurityTokenUnavailable") {
		t.Errorf("no token: %v\n%s", err, out)
	}
	// An empty token file (a failed "gatehouse token > file") is a clear
	// error, not a crash.
	empty := filepath.Join(dir, "empty.xml")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"call", "-url", "https://" + edge + "/services/accounts-secure", "-file", "../../../conf/demo/requests/get-balance-11.xml", "-token", empty}, clientArgs...)
	out, err = exec.Command(bin, args...).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "holds no XML element") || strings.Contains(string(out), "panic") {
		t.Errorf("empty token file: %v\n%s", err, out)
	}
	if accounts.Calls() != 1 {
		t.Errorf("backend calls = %d, want 1", accounts.Calls())
	}
}

// TestExplainAndGraph runs gatehouse explain and gatehouse graph on the
// demo configuration, and explain on the enforcement point's.
func TestExplainAndGraph(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	cfgPath := writeDemo(t, dir, "http://127.0.0.1:1/accounts", "127.0.0.1:0", "127.0.0.1:0")
	run := func(args ...string) (string, int) {
		out, err := exec.Command(bin, args...).CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return string(out), code
	}
	explain := func(file string, extra ...string) (string, int) {
		args := append([]string{"explain", "-config", cfgPath, "-service", "accounts-secure",
			"-caller", demopki.ConsumerSPIFFEID, "-subject", "alice@example.com"}, extra...)
		return run(append(args, filepath.Join("../../../conf/demo/requests", file))...)
	}
	out, code := explain("transfer-11.xml", "-roles", "teller")
	if code != 1 || !strings.Contains(out, `rule "supervisor-transfer"`) || !strings.Contains(out, `does not have role "supervisor"`) || !strings.Contains(out, "decision: deny") {
		t.Errorf("explain transfer (exit %d):\n%s", code, out)
	}
	out, code = explain("get-balance-11.xml", "-roles", "teller")
	if code != 0 || !strings.Contains(out, `decision: allow`) || !strings.Contains(out, "teller-balance") {
		t.Errorf("explain balance (exit %d):\n%s", code, out)
	}
	out, code = explain("get-balance-11.xml", "-roles", "teller", "-caller", "spiffe://other.example/app")
	if code != 1 || !strings.Contains(out, "flow: refused") {
		t.Errorf("explain from an unknown workload (exit %d):\n%s", code, out)
	}

	// The enforcement point wants the composite as the last actor of the
	// delegation chain (-actors, oldest first).
	create := filepath.Join(dir, "create.xml")
	if err := os.WriteFile(create, []byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>`+
		`<a:CreateAccount xmlns:a="urn:gatehouse:demo:accounts"><a:Customer>1001</a:Customer><a:Product>savings</a:Product></a:CreateAccount></soap:Body></soap:Envelope>`), 0o644); err != nil {
		t.Fatal(err)
	}
	atEP := func(extra ...string) (string, int) {
		args := append([]string{"explain", "-config", filepath.Join(dir, "enforcement.xml"), "-service", "mainframe-accounts",
			"-caller", demopki.EdgeSPIFFEID, "-subject", "alice@example.com", "-roles", "teller"}, extra...)
		return run(append(args, create)...)
	}
	out, code = atEP()
	if code != 1 || !strings.Contains(out, `delegation: the call was made by no actor; the rule wants "composite:open-account"`) {
		t.Errorf("explain at the enforcement point without a chain (exit %d):\n%s", code, out)
	}
	out, code = atEP("-actors", "composite:open-account,user:teller")
	if code != 1 || !strings.Contains(out, `delegation: the last actor is "user:teller", not "composite:open-account"`) {
		t.Errorf("explain at the enforcement point, composite not last (exit %d):\n%s", code, out)
	}
	out, code = atEP("-actors", "composite:open-account")
	if code != 0 || !strings.Contains(out, `decision: allow: allowed by rule "teller-accounts"`) || !strings.Contains(out, `actors ["composite:open-account"]`) {
		t.Errorf("explain at the enforcement point, a hop of the composite (exit %d):\n%s", code, out)
	}
	g, err := exec.Command(bin, "graph", cfgPath).Output()
	if err != nil || !strings.Contains(string(g), `"retail-apps" -> "accounts-secure";`) || !strings.HasPrefix(string(g), "digraph policy {") {
		t.Errorf("graph: %v\n%s", err, g)
	}
}

// TestBinaryMainframe: the SAML subject alice@example.com reaches the demo
// CICS backend as ALICE01 with a valid PassTicket; a subject without a
// mapping is refused; the audit record names the mapping; no password or
// PassTicket appears in the gateway's logs or audit records.
func TestBinaryMainframe(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	var (
		mu      sync.Mutex
		tickets []string
		cics    *demo.CICS
	)
	cicsSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if i := strings.Index(string(body), "PasswordText\">"); i >= 0 {
			rest := string(body)[i+len("PasswordText\">"):]
			mu.Lock()
			tickets = append(tickets, rest[:strings.Index(rest, "<")])
			mu.Unlock()
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		cics.ServeHTTP(w, r)
	}))
	defer cicsSrv.Close()
	edge, admin := freeAddr(t), freeAddr(t)
	cfgPath := writeDemo(t, dir, "http://127.0.0.1:1/accounts", edge, admin, "http://127.0.0.1:8081/cics", cicsSrv.URL+"/cics")
	keyHex, err := os.ReadFile(filepath.Join(dir, "pki", demopki.RACFKey))
	if err != nil {
		t.Fatal(err)
	}
	key, _ := hex.DecodeString(strings.TrimSpace(string(keyHex)))
	cics = &demo.CICS{Generator: credmap.Generator{Algorithm: credmap.Enhanced, Key: key}, Application: "CICSPROD", Users: map[string]bool{"ALICE01": true}}

	srv := serveDemo(t, bin, cfgPath, admin)
	cmd, done, stderr := srv.cmd, srv.done, srv.stderr
	pki := filepath.Join(dir, "pki")
	clientArgs := clientArgs(pki)
	token := func(user ...string) string {
		args := append([]string{"token", "-sts", "https://" + edge + "/sts", "-audience", "urn:gatehouse:demo:cics-accounts"}, clientArgs...)
		if len(user) > 0 {
			args = append(args, "-user", user[0], "-password-file", filepath.Join(pki, demopki.TellerSecret))
		}
		out, err := exec.Command(bin, args...).Output()
		if err != nil {
			t.Fatalf("token: %v", err)
		}
		f := filepath.Join(dir, "token-"+strconv.Itoa(len(user))+".xml")
		if err := os.WriteFile(f, out, 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	call := func(tokenFile string) (string, error) {
		args := append([]string{"call", "-url", "https://" + edge + "/services/cics-accounts", "-file", "../../../conf/demo/requests/get-balance-11.xml", "-token", tokenFile}, clientArgs...)
		out, err := exec.Command(bin, args...).Output()
		return string(out), err
	}
	if out, err := call(token("teller")); err != nil || !strings.Contains(out, "GetBalanceResponse") {
		t.Fatalf("alice to CICS: %v\n%s\n%s", err, out, stderr.String())
	}
	if got := cics.SignOns(); len(got) != 1 || got[0] != "ALICE01" {
		t.Errorf("CICS sign-ons %v, want [ALICE01]", got)
	}
	if out, err := call(token()); err == nil || !strings.Contains(out, "HTTP 403") {
		t.Errorf("unmapped workload subject: %v\n%s", err, out)
	}

	_ = cmd.Process.Signal(syscall.SIGTERM)
	<-done
	auditLog, err := os.ReadFile(filepath.Join(dir, "run", "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(auditLog), `"legacyUser":"ALICE01"`) || !strings.Contains(string(auditLog), `"mapping":"attribute:racfUserId"`) {
		t.Errorf("audit log does not name the mapping:\n%s", auditLog)
	}
	secret, _ := os.ReadFile(filepath.Join(pki, demopki.TellerSecret))
	mu.Lock()
	defer mu.Unlock()
	if len(tickets) != 1 || len(tickets[0]) != 8 {
		t.Fatalf("captured tickets %q", tickets)
	}
	for _, s := range append(tickets, strings.TrimSpace(string(secret))) {
		for name, text := range map[string]string{"audit log": string(auditLog), "gateway log": stderr.String()} {
			if strings.Contains(text, s) {
				t.Errorf("a credential appears in the %s", name)
			}
		}
	}
}
