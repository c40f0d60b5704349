package conf

import (
	"crypto/tls"
	"errors"
	"flag"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/invalid/*.golden from the current output")

func TestLoadValid(t *testing.T) {
	dir, path := setupWith(t, readTestdata(t, "valid.xml"), companionFiles(t, "valid"))
	cfg := mustLoad(t, path)
	abs := func(rel string) string { return filepath.Join(dir, rel) }

	if cfg.Path != path {
		t.Errorf("Path = %q, want %q", cfg.Path, path)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("Warnings = %q, want none", cfg.Warnings)
	}
	if got, want := cfg.Summary(), "config OK: 2 listeners, 2 services, admin [::1]:9091, store redis 1 address, 2 trust stores, 3 users, 0 SAML issuers"; got != want {
		t.Errorf("Summary() = %q, want %q", got, want)
	}

	// Listeners: paths absolute, timeouts from the file or the defaults.
	if len(cfg.Listeners) != 2 {
		t.Fatalf("%d listeners, want 2", len(cfg.Listeners))
	}
	edge := cfg.Listeners[0]
	wantTLS := ListenerTLS{
		Pos:         Pos{File: path, Line: 4},
		Certificate: abs("pki/server.crt"),
		Key:         abs("pki/server.key"),
		ClientCA:    abs("pki/ca.crt"),
		ClientAuth:  ClientAuthRequire,
	}
	if edge.Name != "edge" || edge.Address != "127.0.0.1:8443" || edge.Pos != (Pos{path, 3}) {
		t.Errorf("listener = %q %q at %v", edge.Name, edge.Address, edge.Pos)
	}
	if edge.TLS != wantTLS {
		t.Errorf("listener TLS = %+v\nwant %+v", edge.TLS, wantTLS)
	}
	wantTimeouts := Timeouts{Pos: Pos{path, 5}, ReadHeader: 5 * time.Second, Read: 20 * time.Second, Write: time.Minute, Idle: 2 * time.Minute}
	if edge.Timeouts != wantTimeouts {
		t.Errorf("timeouts = %+v, want %+v", edge.Timeouts, wantTimeouts)
	}
	internal := cfg.Listeners[1]
	if internal.TLS.Certificate != abs("pki/server.crt") { // written as an absolute path
		t.Errorf("internal certificate = %q", internal.TLS.Certificate)
	}
	if internal.Timeouts.Idle != DefaultIdleTimeout || internal.Timeouts.Line != 0 {
		t.Errorf("internal timeouts = %+v, want the defaults", internal.Timeouts)
	}

	sc := edge.ServerTLSConfig()
	if sc.MinVersion != tls.VersionTLS12 || sc.ClientAuth != tls.RequireAndVerifyClientCert || sc.ClientCAs == nil || len(sc.Certificates) != 1 {
		t.Errorf("ServerTLSConfig = MinVersion %x, ClientAuth %v, ClientCAs %v, %d certificates",
			sc.MinVersion, sc.ClientAuth, sc.ClientCAs != nil, len(sc.Certificates))
	}
	sc.MinVersion = tls.VersionTLS10
	if edge.ServerTLSConfig().MinVersion != tls.VersionTLS12 {
		t.Error("ServerTLSConfig returns a shared value; changing it changed the listener")
	}

	if cfg.Admin.Address != "[::1]:9091" {
		t.Errorf("admin address = %q", cfg.Admin.Address)
	}
	wantAudit := Audit{Pos: Pos{path, 11}, Stdout: true, Files: []AuditFile{
		{Pos: Pos{path, 13}, Path: abs("audit/audit.log"), SyncEvery: DefaultAuditSyncEvery, SyncInterval: DefaultAuditSyncInterval},
	}}
	if !reflect.DeepEqual(cfg.Audit, wantAudit) {
		t.Errorf("audit = %+v, want %+v", cfg.Audit, wantAudit)
	}

	// Limits: global ← defaults, service ← global.
	global := DefaultLimits()
	global.Pos, global.MaxDepth, global.MaxElements = Pos{path, 27}, 32, 10000
	if cfg.Limits != global {
		t.Errorf("global limits = %+v\nwant %+v", cfg.Limits, global)
	}

	if len(cfg.Services) != 2 {
		t.Fatalf("%d services, want 2", len(cfg.Services))
	}
	accounts, orders := cfg.Services[0], cfg.Services[1]
	if accounts.Name != "accounts" || accounts.Path != "/services/accounts" || accounts.Listener != "edge" || accounts.Pos != (Pos{path, 28}) {
		t.Errorf("accounts = %q %q %q at %v", accounts.Name, accounts.Path, accounts.Listener, accounts.Pos)
	}
	if !reflect.DeepEqual(accounts.SOAPVersions, []string{"1.1"}) || !reflect.DeepEqual(orders.SOAPVersions, []string{"1.1", "1.2"}) {
		t.Errorf("soapVersions = %q and %q", accounts.SOAPVersions, orders.SOAPVersions)
	}
	wantLimits := global
	wantLimits.Pos, wantLimits.MaxBytes, wantLimits.MaxDepth = Pos{path, 36}, 65536, 16
	if accounts.Limits != wantLimits {
		t.Errorf("accounts limits = %+v\nwant %+v", accounts.Limits, wantLimits)
	}
	if orders.Limits != global {
		t.Errorf("orders limits = %+v\nwant %+v", orders.Limits, global)
	}

	// Backends.
	b := accounts.Backend
	if b.URL.String() != "https://backend.local:8081/accounts" || b.ConnectTimeout != time.Second ||
		b.Timeout != 90*time.Second || b.MaxResponseBytes != 65536 {
		t.Errorf("accounts backend = %v %v %v %d", b.URL, b.ConnectTimeout, b.Timeout, b.MaxResponseBytes)
	}
	wantBackendTLS := BackendTLS{Pos{path, 30}, abs("pki/backend-ca.crt"), abs("pki/gw-client.crt"), abs("pki/gw-client.key"), "backend.local"}
	if *b.TLS != wantBackendTLS {
		t.Errorf("backend TLS = %+v\nwant %+v", *b.TLS, wantBackendTLS)
	}
	ct := b.ClientTLSConfig()
	if ct.MinVersion != tls.VersionTLS12 || ct.RootCAs == nil || len(ct.Certificates) != 1 || ct.ServerName != "backend.local" {
		t.Errorf("ClientTLSConfig = MinVersion %x, RootCAs %v, %d certificates, ServerName %q",
			ct.MinVersion, ct.RootCAs != nil, len(ct.Certificates), ct.ServerName)
	}
	ob := orders.Backend
	if ob.URL.String() != "http://127.0.0.1:8082/orders" || ob.ConnectTimeout != DefaultConnectTimeout ||
		ob.Timeout != DefaultBackendTimeout || ob.MaxResponseBytes != DefaultMaxResponseBytes {
		t.Errorf("orders backend = %v %v %v %d, want the defaults", ob.URL, ob.ConnectTimeout, ob.Timeout, ob.MaxResponseBytes)
	}
	if ob.ClientTLSConfig() != nil {
		t.Error("http backend has a TLS configuration")
	}

	// Payload schemas: absolute and compiled; the local include resolved.
	if got, want := accounts.SchemaFiles(), []string{abs("payload/accounts.xsd")}; !reflect.DeepEqual(got, want) {
		t.Errorf("SchemaFiles() = %q, want %q", got, want)
	}
	if accounts.Schemas[0].Line != 35 {
		t.Errorf("schema line = %d, want 35", accounts.Schemas[0].Line)
	}
	ps := accounts.PayloadSchema()
	if ps == nil {
		t.Fatal("PayloadSchema() = nil")
	}
	if err := ps.Validate([]byte(`<GetBalance xmlns="urn:example:accounts"><accountId>42</accountId></GetBalance>`)); err != nil {
		t.Errorf("valid payload refused: %v", err)
	}
	if err := ps.Validate([]byte(`<GetBalance xmlns="urn:example:accounts"><account>42</account></GetBalance>`)); err == nil {
		t.Error("invalid payload accepted")
	}
}

func TestLoadDefaults(t *testing.T) {
	_, path := setup(t, `<gatehouse xmlns="urn:gatehouse:config:1">
  <listener name="edge" address=":8443">
    <tls certificate="pki/server.crt" key="pki/server.key" clientCA="pki/ca.crt"/>
  </listener>
  <service name="accounts" path="/">
    <backend url="https://backend.local"/>
    <schema file="payload/accounts.xsd"/>
  </service>
</gatehouse>`)
	cfg := mustLoad(t, path)

	if cfg.Admin.Address != DefaultAdminAddress {
		t.Errorf("admin address = %q, want %q", cfg.Admin.Address, DefaultAdminAddress)
	}
	if !cfg.Audit.Stdout || len(cfg.Audit.Files) != 0 || cfg.Audit.RedisStream != nil {
		t.Errorf("audit = %+v, want stdout only", cfg.Audit)
	}
	if cfg.RateLimits != nil {
		t.Errorf("RateLimits = %+v, want nil", cfg.RateLimits)
	}
	if cfg.Limits != DefaultLimits() || cfg.Services[0].Limits != DefaultLimits() {
		t.Errorf("limits = %+v and %+v, want the defaults", cfg.Limits, cfg.Services[0].Limits)
	}
	want := Timeouts{ReadHeader: 5 * time.Second, Read: 30 * time.Second, Write: 60 * time.Second, Idle: 120 * time.Second}
	if cfg.Listeners[0].Timeouts != want {
		t.Errorf("timeouts = %+v, want %+v", cfg.Listeners[0].Timeouts, want)
	}
	s := cfg.Services[0]
	if s.Listener != "edge" {
		t.Errorf("service listener = %q, want the only listener", s.Listener)
	}
	if !reflect.DeepEqual(s.SOAPVersions, []string{"1.1", "1.2"}) {
		t.Errorf("soapVersions = %q", s.SOAPVersions)
	}
	// Every backend has a bulkhead and a breaker.
	wantBreaker := Breaker{Failures: 5, OpenFor: 30 * time.Second, HalfOpenRequests: 1,
		SlowCall: 5 * time.Second, FailureRatio: 50, MinCalls: 20, Window: time.Minute}
	if s.Backend.MaxConcurrent != 64 || s.Backend.Breaker != wantBreaker {
		t.Errorf("backend MaxConcurrent %d, Breaker %+v; want 64 and %+v", s.Backend.MaxConcurrent, s.Backend.Breaker, wantBreaker)
	}
	// https without a tls element: system roots, TLS 1.2 or later.
	ct := s.Backend.ClientTLSConfig()
	if ct == nil || ct.RootCAs != nil || ct.MinVersion != tls.VersionTLS12 || len(ct.Certificates) != 0 {
		t.Errorf("ClientTLSConfig = %+v, want system roots and no client certificate", ct)
	}
}

// TestLoadErrorsGolden loads each testdata/invalid/NAME.xml and compares
// the error text with NAME.golden ($DIR stands for the configuration's
// directory). The files under NAME.files/, if any, are laid out beside the
// configuration (a user store, secrets). Run with -update to rewrite the
// golden files, then read them.
func TestLoadErrorsGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/invalid/*.xml")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no test inputs: %v", err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".xml")
		t.Run(name, func(t *testing.T) {
			dir, path := setupWith(t, readTestdata(t, "invalid/"+name+".xml"), companionFiles(t, "invalid/"+name))
			cfg, err := Load(path)
			if err == nil {
				cfg.Close()
				t.Fatal("Load succeeded, want errors")
			}
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error %T %q, want Errors", err, err)
			}
			got := strings.ReplaceAll(err.Error(), dir, "$DIR")
			got = strings.ReplaceAll(got, filepath.Dir(dir), "$PARENT") + "\n"
			golden := filepath.Join("testdata", "invalid", name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if want := readTestdata(t, "invalid/"+name+".golden"); got != want {
				t.Errorf("errors differ from %s\n--- got:\n%s--- want:\n%s", golden, got, want)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.xml")
	_, err := Load(path)
	if want := path + ": no such file"; err == nil || err.Error() != want {
		t.Errorf("Load = %v, want %q", err, want)
	}
}

func TestInsecureNoneClientAuthWarns(t *testing.T) {
	_, path := setup(t, `<gatehouse xmlns="urn:gatehouse:config:1">
  <listener name="edge" address="127.0.0.1:8443">
    <tls certificate="pki/server.crt" key="pki/server.key" clientAuth="insecure-none"/>
  </listener>
</gatehouse>`)
	cfg := mustLoad(t, path)
	want := path + `:3: listener name="edge"/tls: clientAuth="insecure-none": clients are not asked for a certificate and are not authenticated by TLS`
	if !reflect.DeepEqual(cfg.Warnings, []string{want}) {
		t.Errorf("Warnings = %q\nwant [%q]", cfg.Warnings, want)
	}
	if got := cfg.Listeners[0].ServerTLSConfig().ClientAuth; got != tls.NoClientCert {
		t.Errorf("ClientAuth = %v, want NoClientCert", got)
	}
}

func TestAdminInsecureNonLoopbackWarns(t *testing.T) {
	_, path := setup(t, `<gatehouse xmlns="urn:gatehouse:config:1">
  <listener name="edge" address="127.0.0.1:8443">
    <tls certificate="pki/server.crt" key="pki/server.key" clientCA="pki/ca.crt"/>
  </listener>
  <admin address="0.0.0.0:9090" insecureNonLoopback="true"/>
</gatehouse>`)
	cfg := mustLoad(t, path)
	want := path + `:5: admin: insecureNonLoopback="true": the admin listener on 0.0.0.0:9090 is reachable beyond this host`
	if !reflect.DeepEqual(cfg.Warnings, []string{want}) {
		t.Errorf("Warnings = %q\nwant [%q]", cfg.Warnings, want)
	}
}

// TestServerTLSConfigRequiresClientCertificate proves the listener's TLS
// configuration in a real handshake: a client needs a certificate from the
// configured client CA.
func TestServerTLSConfigRequiresClientCertificate(t *testing.T) {
	_, path := setup(t, `<gatehouse xmlns="urn:gatehouse:config:1">
  <listener name="edge" address="127.0.0.1:8443">
    <tls certificate="pki/server.crt" key="pki/server.key" clientCA="pki/ca.crt"/>
  </listener>
</gatehouse>`)
	cfg := mustLoad(t, path)
	p := loadTestPKI(t)
	client, err := tls.X509KeyPair(p.files["client.crt"], p.files["client.key"])
	if err != nil {
		t.Fatal(err)
	}
	wrongCA, err := tls.X509KeyPair(p.files["gw-client.crt"], p.files["gw-client.key"])
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		certs  []tls.Certificate
		wantOK bool
	}{
		{"client CA certificate", []tls.Certificate{client}, true},
		{"no certificate", nil, false},
		{"certificate from another CA", []tls.Certificate{wrongCA}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := handshake(t, cfg.Listeners[0].ServerTLSConfig(), tc.certs)
			if (err == nil) != tc.wantOK {
				t.Errorf("server handshake error = %v, want success %v", err, tc.wantOK)
			}
		})
	}
}

// handshake runs a TLS handshake over a pipe and returns the server's
// error. The client trusts the test client CA, which issued the server
// certificate.
func handshake(t *testing.T, server *tls.Config, clientCerts []tls.Certificate) error {
	t.Helper()
	p := loadTestPKI(t)
	roots := x509CertPool(p.ca)
	c, s := net.Pipe()
	defer c.Close()
	defer s.Close()
	deadline := time.Now().Add(10 * time.Second)
	c.SetDeadline(deadline)
	s.SetDeadline(deadline)
	clientErr := make(chan error, 1)
	go func() {
		cc := tls.Client(c, &tls.Config{RootCAs: roots, ServerName: "gatehouse.test", Certificates: clientCerts})
		err := cc.Handshake()
		if err == nil {
			// In TLS 1.3 the server checks the client certificate after the
			// client's handshake is done; read to learn its verdict.
			_, err = cc.Read(make([]byte, 1))
		}
		c.Close()
		clientErr <- err
	}()
	ss := tls.Server(s, server)
	err := ss.Handshake()
	if err == nil {
		_, _ = ss.Write([]byte{1})
	}
	s.Close()
	<-clientErr
	return err
}

func TestParsePrivateKey(t *testing.T) {
	p := loadTestPKI(t)
	small, err := rsaPEM(1024)
	if err != nil {
		t.Fatal(err)
	}
	encrypted := "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00000000000000000000000000000000\n\nAAAA\n-----END RSA PRIVATE KEY-----\n"
	for _, tc := range []struct {
		name, pem, wantErr string
	}{
		{"SEC 1 ECDSA", string(p.files["server.key"]), ""},
		{"PKCS#8 ECDSA", string(p.files["other.key"]), ""},
		{"PKCS#8 Ed25519", string(p.files["client.key"]), ""},
		{"PKCS#1 RSA", string(p.files["gw-client.key"]), ""},
		{"certificate only", string(p.files["server.crt"]), `no PEM private key block found (want "PRIVATE KEY", "RSA PRIVATE KEY" or "EC PRIVATE KEY")`},
		{"two keys", string(p.files["server.key"]) + string(p.files["other.key"]), "more than one PEM private key block"},
		{"encrypted", encrypted, "encrypted private keys are not supported"},
		{"PKCS#8 encrypted", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n", "encrypted private keys are not supported"},
		{"OpenSSH", "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n", `unsupported PEM block type "OPENSSH PRIVATE KEY"`},
		{"garbage in a PKCS#8 block", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "PRIVATE KEY: "},
		{"small RSA", small, "RSA key of 1024 bits is too small (minimum 2048)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, err := parsePrivateKey([]byte(tc.pem))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("error %v", err)
			case tc.wantErr == "" && key == nil:
				t.Fatal("no key")
			case tc.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestErrorFormat(t *testing.T) {
	errs := Errors{
		{File: "g.xml", Line: 7, Element: `service name="a"`, Msg: "duplicate service name (first at line 3)"},
		{File: "g.xml", Msg: "file does not exist"},
	}
	want := "g.xml:7: service name=\"a\": duplicate service name (first at line 3)\ng.xml: file does not exist"
	if got := errs.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// FuzzLoad feeds arbitrary documents through the whole loader: it must
// never panic, and must return either a Config or Errors.
func FuzzLoad(f *testing.F) {
	inputs, _ := filepath.Glob("testdata/invalid/*.xml")
	for _, in := range append(inputs, "testdata/valid.xml", "testdata/valid-saml.xml", "testdata/valid-operations.xml") {
		b, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	path := filepath.Join(f.TempDir(), "gatehouse.xml")
	f.Fuzz(func(t *testing.T, doc []byte) {
		cfg, err := load(path, doc)
		if err == nil {
			cfg.Close()
			return
		}
		if cfg != nil {
			t.Fatal("Load returned a Config and an error")
		}
		var errs Errors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("error %T %q, want Errors", err, err)
		}
	})
}

// TestInsecurePlaintextWarns: an http backend allowed to receive secrets
// loads with a start-up warning naming the service, file and line, and says
// so in Backend.InsecurePlaintext; an http backend without secrets needs no
// flag.
func TestInsecurePlaintextWarns(t *testing.T) {
	_, path := setup(t, `<gatehouse xmlns="urn:gatehouse:config:1">
  <listener name="edge" address="127.0.0.1:8443">
    <tls certificate="pki/server.crt" key="pki/server.key" clientCA="pki/ca.crt"/>
  </listener>
  <credentialMap name="batch" domain="RACF-PROD">
    <serviceAccount user="BATCH01"/>
    <password env="GATEHOUSE_TEST_PW_"/>
  </credentialMap>
  <service name="allowed" path="/services/allowed">
    <backend url="http://127.0.0.1:8081/allowed" insecurePlaintext="true"/>
    <credentials map="batch" render="basic"/>
    <schema file="payload/accounts.xsd"/>
  </service>
  <service name="plain" path="/services/plain">
    <backend url="http://127.0.0.1:8081/plain"/>
    <schema file="payload/accounts.xsd"/>
  </service>
</gatehouse>`)
	cfg := mustLoad(t, path)
	want := []string{path + `:10: service name="allowed"/backend: insecurePlaintext="true": url "http://127.0.0.1:8081/allowed" is plaintext http, and calls to it carry mapped credentials (passwords or PassTickets)`}
	if !reflect.DeepEqual(cfg.Warnings, want) {
		t.Errorf("Warnings = %q\nwant %q", cfg.Warnings, want)
	}
	if !cfg.Services[0].Backend.InsecurePlaintext || cfg.Services[1].Backend.InsecurePlaintext {
		t.Errorf("InsecurePlaintext = %v, %v; want true, false", cfg.Services[0].Backend.InsecurePlaintext, cfg.Services[1].Backend.InsecurePlaintext)
	}
}
