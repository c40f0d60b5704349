package interop

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// wss4jJars are the jars Interop.java needs, from /usr/share/java, with the
// Debian package that installs each.
var wss4jJars = []struct{ jar, pkg string }{
	{"wss4j.jar", "libwss4j-java"},
	{"xmlsec.jar", "libxml-security-java"},
	{"commons-logging.jar", "libcommons-logging-java"},
	{"commons-codec.jar", "libcommons-codec-java"},
	{"slf4j-api.jar", "libslf4j-java"},
	{"slf4j-nop.jar", "libslf4j-java"},
}

var (
	wss4jOnce    sync.Once
	wss4jClasses string // the directory javac wrote Interop.class into
	wss4jCP      string
	wss4jErr     string
)

// wss4j compiles wss4j/Interop.java once per test binary and returns a
// function that runs it with args.
func wss4j(t *testing.T) func(args ...string) (stdout, stderr string, ok bool) {
	t.Helper()
	java := needTool(t, "java", "default-jdk-headless")
	javac := needTool(t, "javac", "default-jdk-headless")
	var cp []string
	for _, j := range wss4jJars {
		p := filepath.Join("/usr/share/java", j.jar)
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s missing: run ./build.sh deps (Debian package %s)", p, j.pkg)
		}
		cp = append(cp, p)
	}
	wss4jOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gatehouse-wss4j-")
		if err != nil {
			wss4jErr = err.Error()
			return
		}
		wss4jClasses, wss4jCP = dir, strings.Join(cp, string(os.PathListSeparator))
		src, _ := filepath.Abs("wss4j/Interop.java")
		if _, stderr, ok := run(t, dir, javac, "-nowarn", "-cp", wss4jCP, "-d", dir, src); !ok {
			wss4jErr = "javac wss4j/Interop.java: " + stderr
		}
	})
	if wss4jErr != "" {
		t.Fatal(wss4jErr)
	}
	return func(args ...string) (string, string, bool) {
		t.Helper()
		return run(t, wss4jClasses, java, append([]string{"-cp", wss4jClasses + string(os.PathListSeparator) + wss4jCP, "Interop"}, args...)...)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if wss4jClasses != "" {
		os.RemoveAll(wss4jClasses)
	}
	os.Exit(code)
}

// TestWSS4JSignsGatehouseAccepts: requests signed by WSS4J's WSSecSignature
// and WSSecTimestamp (RSA-SHA256, exclusive C14N with WSS4J's
// InclusiveNamespaces, Body and Timestamp) are accepted by a Gatehouse
// service that requires a signed Body and Timestamp, with each key
// reference form WSS4J offers for an X.509 signer; the same message changed
// after signing is refused.
func TestWSS4JSignsGatehouseAccepts(t *testing.T) {
	java := wss4j(t)
	g := startGatehouse(t)
	for _, tc := range []struct {
		name, form string
		signer     keyPair
		skip       string
	}{
		{"BinarySecurityToken direct reference", "bst", g.pki.signer, ""},
		{"SubjectKeyIdentifier of a pinned certificate", "ski", g.pki.signer, ""},
		// The certificate only chains to a CA of the trust store, which
		// names it (unpinned-signer.crt) as a known signer, still
		// validated against its CAs, the way a WSS4J keystore holds it.
		{"SubjectKeyIdentifier of a certificate the trust store's CA issued", "ski", g.pki.unpinnedSigner, ""},
		{"BinarySecurityToken of a certificate the trust store's CA issued", "bst", g.pki.unpinnedSigner, ""},
		// The issuer DN in Go's own attribute order (C, O, CN in the DER):
		// WSS4J's RFC 2253 string is the one Go prints.
		{"IssuerSerial, issuer DN in Go's order", "issuerserial", g.pki.signer, ""},
		// WSS4J writes the issuer DN as RFC 2253 from the certificate's
		// DER order (here CN, OU, O, C); Gatehouse compares it as a parsed
		// name, not in Go's pkix.Name.String() order.
		{"IssuerSerial, issuer DN in another order", "issuerserial", g.pki.otherOrderSigner, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skip != "" {
				t.Skip(tc.skip)
			}
			dir := t.TempDir()
			certFile, keyFile := writeDER(t, dir, "signer", tc.signer.cert, tc.signer.key)
			in, out := filepath.Join(dir, "request.xml"), filepath.Join(dir, "signed.xml")
			writeFile(t, in, []byte(envelope(getBalance)))
			if _, stderr, ok := java("sign", tc.form, keyFile, certFile, in, out); !ok {
				t.Fatalf("WSS4J could not sign: %s", stderr)
			}
			signed, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if status, body := g.post(t, accountsPath, signed); status != 200 {
				t.Fatalf("Gatehouse refused WSS4J's %s request: %d %s\n%s", tc.form, status, body, signed)
			}
			if fwd := g.backend.take("/accounts"); len(fwd) == 0 || strings.Contains(string(fwd), "Security") {
				t.Errorf("the backend got %q, want the call without the inbound Security header", fwd)
			}
			tampered := strings.Replace(string(signed), ">4711<", ">4712<", 1)
			if tampered == string(signed) {
				t.Fatalf("no AccountId in\n%s", signed)
			}
			if status, body := g.post(t, accountsPath, []byte(tampered)); status != 500 || !strings.Contains(body, ":FailedCheck</faultcode>") {
				t.Errorf("a WSS4J request changed after signing: %d %s, want wsse:FailedCheck", status, body)
			}
		})
	}
}

// TestGatehouseSignsWSS4JVerifies: the request Gatehouse sends to a backend
// configured with <sign> is verified by WSS4J's WSSecurityEngine against
// the CA that issued Gatehouse's signing certificate: its signature covers
// the Body and the Timestamp. Changed in transit, WSS4J refuses it.
func TestGatehouseSignsWSS4JVerifies(t *testing.T) {
	java := wss4j(t)
	g := startGatehouse(t)
	if status, body := g.post(t, outboundPath, []byte(envelope(getBalance))); status != 200 {
		t.Fatalf("call through Gatehouse: %d %s", status, body)
	}
	signed := g.backend.take("/outbound")
	dir := t.TempDir()
	caFile, _ := writeDER(t, dir, "ca", g.pki.ca.cert, nil)
	in := filepath.Join(dir, "outbound.xml")
	writeFile(t, in, signed)
	out, stderr, ok := java("verify", caFile, in)
	if !ok {
		t.Fatalf("WSS4J refused Gatehouse's outbound request: %s\n%s", stderr, signed)
	}
	for _, want := range []string{"signed {" + nsSOAP11 + "}Body", "signed {http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd}Timestamp", "timestamp", "signer CN=gatehouse outbound"} {
		if !strings.Contains(out, want) {
			t.Errorf("WSS4J's result lacks %q:\n%s", want, out)
		}
	}

	writeFile(t, in, []byte(strings.Replace(string(signed), ">4711<", ">4712<", 1)))
	if _, stderr, ok := java("verify", caFile, in); ok {
		t.Error("WSS4J accepted Gatehouse's request changed after signing: the check proves nothing")
	} else if !strings.Contains(stderr, "refused") {
		t.Errorf("WSS4J failed otherwise: %s", stderr)
	}
}
