package conf

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// TestLoadValidSecurity checks the store, lockout, trust, users and
// security sections of testdata/valid.xml (the rest is TestLoadValid's).
func TestLoadValidSecurity(t *testing.T) {
	dir, path := setupWith(t, readTestdata(t, "valid.xml"), companionFiles(t, "valid"))
	cfg := mustLoad(t, path)
	abs := func(rel string) string { return filepath.Join(dir, rel) }
	hashes := loadTestHashes(t)

	// Store: the password read from its file, without the line end.
	if cfg.Store == nil || cfg.Store.Redis == nil {
		t.Fatalf("Store = %+v, want redis", cfg.Store)
	}
	r := cfg.Store.Redis
	wantRedis := Redis{
		Pos:          Pos{path, 16},
		Addresses:    []string{"127.0.0.1:6379"},
		Username:     "gatehouse",
		DB:           2,
		Prefix:       "gh-test:",
		Timeout:      150 * time.Millisecond,
		PasswordFile: abs("secrets/redis.pass"),
		password:     r.password,
	}
	if !reflect.DeepEqual(*r, wantRedis) {
		t.Errorf("redis = %+v\nwant %+v", *r, wantRedis)
	}
	if r.Password() != redisPassword {
		t.Errorf("Password() = %q, want %q", r.Password(), redisPassword)
	}
	if r.Topology() != "standalone" || cfg.Store.Kind() != "redis" || cfg.Store.Pos != (Pos{path, 15}) {
		t.Errorf("Topology() = %q, Kind() = %q, store at %v", r.Topology(), cfg.Store.Kind(), cfg.Store.Pos)
	}

	// Lockout: the attributes written, the default for the one left out.
	wantLockout := Lockout{Pos{path, 18}, 3, 10 * time.Minute, 30 * time.Second, DefaultLockoutMaxBackoff, 30, DefaultLockoutCallerBackoff}
	if cfg.Lockout != wantLockout {
		t.Errorf("lockout = %+v, want %+v", cfg.Lockout, wantLockout)
	}

	// Trust stores: paths absolute, roots and pinned certificates loaded.
	if len(cfg.Trust) != 2 {
		t.Fatalf("%d trust stores, want 2", len(cfg.Trust))
	}
	partners := cfg.TrustStore("partners")
	if partners != cfg.Trust[0] || cfg.TrustStore("pinned-only") != cfg.Trust[1] || cfg.TrustStore("nobody") != nil {
		t.Error("TrustStore does not find the stores by name")
	}
	wantCAs := []TrustFile{{Pos{path, 20}, abs("pki/partners-ca.crt")}}
	wantPinned := []TrustFile{{Pos{path, 21}, abs("pki/partner.crt")}}
	if partners.Pos != (Pos{path, 19}) || !reflect.DeepEqual(partners.CAs, wantCAs) || !reflect.DeepEqual(partners.Certificates, wantPinned) {
		t.Errorf("partners = %v %+v %+v", partners.Pos, partners.CAs, partners.Certificates)
	}
	p := loadTestPKI(t)
	roots := partners.Roots()
	if roots == nil {
		t.Fatal("Roots() = nil")
	}
	if _, err := p.partner.Verify(x509.VerifyOptions{Roots: roots}); err != nil {
		t.Errorf("partner certificate does not verify against Roots(): %v", err)
	}
	if _, err := p.partner.Verify(x509.VerifyOptions{Roots: cfg.Listeners[0].ServerTLSConfig().ClientCAs}); err == nil {
		t.Error("partner certificate verifies against another CA: the test proves nothing")
	}
	roots.AddCert(p.ca)
	if _, err := p.partner.Verify(x509.VerifyOptions{Roots: partners.Roots()}); err != nil {
		t.Errorf("changing the pool Roots() returned changed the store: %v", err)
	}
	pinned := partners.Pinned()
	if len(pinned) != 1 || !pinned[0].Equal(p.partner) {
		t.Errorf("Pinned() = %d certificates, want partner.crt", len(pinned))
	}
	pinnedOnly := cfg.Trust[1]
	if pinnedOnly.Roots() != nil || len(pinnedOnly.Pinned()) != 1 || pinnedOnly.Certificates[0].Path != abs("pki/partner.crt") {
		t.Errorf("pinned-only: Roots() %v, %d pinned, file %q", pinnedOnly.Roots(), len(pinnedOnly.Pinned()), pinnedOnly.Certificates[0].Path)
	}

	// Users: the file absolute, hashes as written, the secret read
	// relative to the users file.
	u := cfg.Users
	if u == nil || u.File != abs("users/users.xml") || u.Pos != (Pos{path, 26}) {
		t.Fatalf("Users = %+v", u)
	}
	wantUsers := []UserEntry{
		{Name: "alice", PasswordHash: hashes.Argon2id, Line: 4},
		{Name: "bob", PasswordHash: hashes.Bcrypt, Line: 5},
		{Name: "legacy-app", Secret: []byte(legacySecret), Line: 7},
	}
	entries := u.Entries()
	if !reflect.DeepEqual(entries, wantUsers) {
		t.Errorf("Entries() = %#v\nwant %#v", entries, wantUsers)
	}
	entries[2].Secret[0] = 'X'
	if u.Entries()[2].Secret[0] != legacySecret[0] {
		t.Error("changing a secret Entries() returned changed the user store")
	}
	// The hashes verify the passwords they were made from, so Load kept
	// them intact, and parseArgon2id reads the parameters correctly.
	if err := bcrypt.CompareHashAndPassword([]byte(entries[1].PasswordHash), []byte(bcryptPassword)); err != nil {
		t.Errorf("bob's bcrypt hash: %v", err)
	}
	params, err := parseArgon2id(entries[0].PasswordHash)
	if err != nil {
		t.Fatalf("parseArgon2id: %v", err)
	}
	key := argon2.IDKey([]byte(argon2Password), params.Salt, params.Time, params.Memory, params.Threads, uint32(len(params.Key)))
	if string(key) != string(params.Key) {
		t.Error("alice's argon2id hash does not verify her password with the parsed parameters")
	}

	// Security policies.
	accounts, orders := cfg.Services[0].Security, cfg.Services[1].Security
	wantAccounts := &Security{
		Pos:     Pos{path, 34},
		Trust:   "partners",
		Require: []string{"timestamp", "signature", "usernameToken"},
		SignedParts: []SignedPart{
			{Kind: PartBody},
			{Kind: PartTimestamp},
			{Kind: PartHeader, Namespace: "http://www.w3.org/2005/08/addressing", Local: "To"},
		},
		Actor:          "urn:gatehouse:edge",
		MaxSkew:        2 * time.Minute,
		MaxAge:         10 * time.Minute,
		rawSignedParts: accounts.rawSignedParts,
	}
	if !reflect.DeepEqual(accounts, wantAccounts) {
		t.Errorf("accounts security = %+v\nwant %+v", accounts, wantAccounts)
	}
	for _, what := range []string{RequireTimestamp, RequireSignature, RequireUsernameToken} {
		if !accounts.Requires(what) {
			t.Errorf("accounts: Requires(%q) = false", what)
		}
	}
	if orders.Requires(RequireUsernameToken) || orders.Requires("Signature") {
		t.Error("orders: Requires reports what the policy does not list")
	}
	// Defaults: signature and timestamp required, no signedParts written.
	wantParts := []SignedPart{{Kind: PartBody}, {Kind: PartTimestamp}}
	if !reflect.DeepEqual(orders.SignedParts, wantParts) || orders.MaxSkew != DefaultMaxSkew || orders.MaxAge != DefaultMaxAge || orders.InsecureAllowSHA1 || orders.Actor != "" {
		t.Errorf("orders security = %+v, want the defaults", orders)
	}
	if got := fmt.Sprint(accounts.SignedParts); got != "[Body Timestamp {http://www.w3.org/2005/08/addressing}To]" {
		t.Errorf("SignedParts print as %s", got)
	}
}

// Without the new sections: memory store, default lockout, no trust
// stores, no users, no security policy.
func TestLoadSecurityDefaults(t *testing.T) {
	_, path := setup(t, `<gatehouse xmlns="urn:gatehouse:config:1">
  <listener name="edge" address="127.0.0.1:8443">
    <tls certificate="pki/server.crt" key="pki/server.key" clientCA="pki/ca.crt"/>
  </listener>
  <lockout/>
  <service name="accounts" path="/">
    <backend url="http://backend.local"/>
    <security require="timestamp"/>
    <schema file="payload/accounts.xsd"/>
  </service>
</gatehouse>`)
	cfg := mustLoad(t, path)
	if cfg.Store != nil || cfg.Store.Kind() != "memory" || cfg.Trust != nil || cfg.Users != nil || cfg.Users.Entries() != nil {
		t.Errorf("Store %+v, Trust %v, Users %+v: want none", cfg.Store, cfg.Trust, cfg.Users)
	}
	want := DefaultLockout()
	want.Pos = Pos{path, 5}
	if cfg.Lockout != want {
		t.Errorf("lockout = %+v, want %+v", cfg.Lockout, want)
	}
	s := cfg.Services[0].Security
	if s.SignedParts != nil || s.MaxSkew != 5*time.Minute || s.MaxAge != 5*time.Minute || s.Trust != "" {
		t.Errorf("security = %+v, want the defaults and no signed parts", s)
	}
	if got, want := cfg.Summary(), "config OK: 1 listener, 1 service, admin 127.0.0.1:9090, store memory (single instance), 0 trust stores, 0 users, 0 SAML issuers"; got != want {
		t.Errorf("Summary() = %q, want %q", got, want)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("Warnings = %q", cfg.Warnings)
	}

	_, path = setup(t, `<gatehouse xmlns="urn:gatehouse:config:1">
  <listener name="edge" address="127.0.0.1:8443">
    <tls certificate="pki/server.crt" key="pki/server.key" clientCA="pki/ca.crt"/>
  </listener>
</gatehouse>`)
	if cfg := mustLoad(t, path); cfg.Lockout != DefaultLockout() {
		t.Errorf("lockout = %+v, want the defaults", cfg.Lockout)
	}
}

// TestLockoutCallerThrottle: callerThreshold and callerBackoff as written;
// without them the caller threshold follows the user threshold.
func TestLockoutCallerThrottle(t *testing.T) {
	for _, tc := range []struct {
		attrs     string
		threshold int
		backoff   time.Duration
	}{
		{`threshold="4" callerThreshold="100" callerBackoff="10s"`, 100, 10 * time.Second},
		{`threshold="4"`, 4 * DefaultCallerThresholdFactor, DefaultLockoutCallerBackoff},
		{`callerThreshold="5"`, 5, DefaultLockoutCallerBackoff},
	} {
		_, path := setup(t, `<gatehouse xmlns="urn:gatehouse:config:1">
  <listener name="edge" address="127.0.0.1:8443">
    <tls certificate="pki/server.crt" key="pki/server.key" clientCA="pki/ca.crt"/>
  </listener>
  <lockout `+tc.attrs+`/>
</gatehouse>`)
		l := mustLoad(t, path).Lockout
		if l.CallerThreshold != tc.threshold || l.CallerBackoff != tc.backoff {
			t.Errorf("%s: caller threshold %d, backoff %s; want %d, %s", tc.attrs, l.CallerThreshold, l.CallerBackoff, tc.threshold, tc.backoff)
		}
	}
}

func TestRedisPasswordEnvAndTopology(t *testing.T) {
	t.Setenv("GATEHOUSE_TEST_REDIS_PASSWORD", redisPassword)
	_, path := setup(t, `<gatehouse xmlns="urn:gatehouse:config:1">
  <listener name="edge" address="127.0.0.1:8443">
    <tls certificate="pki/server.crt" key="pki/server.key" clientCA="pki/ca.crt"/>
  </listener>
  <store>
    <redis addresses="10.0.0.1:26379
                      10.0.0.2:26379" masterName="mymaster" db="3" passwordEnv="GATEHOUSE_TEST_REDIS_PASSWORD"/>
  </store>
</gatehouse>`)
	cfg := mustLoad(t, path)
	r := cfg.Store.Redis
	if r.Password() != redisPassword || r.PasswordEnv != "GATEHOUSE_TEST_REDIS_PASSWORD" || r.PasswordFile != "" {
		t.Errorf("password from %q/%q = %q", r.PasswordEnv, r.PasswordFile, r.Password())
	}
	if r.Topology() != "sentinel" || r.DB != 3 || r.Prefix != DefaultRedisPrefix || r.Timeout != DefaultRedisTimeout ||
		!reflect.DeepEqual(r.Addresses, []string{"10.0.0.1:26379", "10.0.0.2:26379"}) {
		t.Errorf("redis = %+v", r)
	}
	sum := cfg.Summary()
	if want := "store redis 2 addresses (sentinel)"; !strings.Contains(sum, want) {
		t.Errorf("Summary() = %q, want it to contain %q", sum, want)
	}
	// The password shows nowhere: not in the summary, not when the
	// configuration is printed.
	shown := []string{sum, strings.Join(cfg.Warnings, "\n")}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
		shown = append(shown, fmt.Sprintf(verb, *r), fmt.Sprintf(verb, r), fmt.Sprintf(verb, cfg.Store), fmt.Sprintf(verb, *cfg))
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	shown = append(shown, string(b))
	for _, s := range shown {
		if strings.Contains(s, redisPassword) || strings.Contains(s, fmt.Sprintf("%x", redisPassword)) {
			t.Errorf("the password shows in %q", s)
		}
	}

	_, path = setup(t, `<gatehouse xmlns="urn:gatehouse:config:1">
  <listener name="edge" address="127.0.0.1:8443">
    <tls certificate="pki/server.crt" key="pki/server.key" clientCA="pki/ca.crt"/>
  </listener>
  <store>
    <redis addresses="10.0.0.1:6379 10.0.0.2:6379 10.0.0.3:6379" masterName=""/>
  </store>
</gatehouse>`)
	cfg = mustLoad(t, path)
	if r := cfg.Store.Redis; r.Topology() != "cluster" || r.Password() != "" {
		t.Errorf("Topology() = %q, Password() = %q, want cluster without password", r.Topology(), r.Password())
	}
}

func TestRedisPasswordEnvProblems(t *testing.T) {
	t.Setenv("GATEHOUSE_TEST_EMPTY", "")
	for _, tc := range []struct{ attrs, want string }{
		{`passwordEnv="GATEHOUSE_TEST_UNSET_VARIABLE"`, "passwordEnv: environment variable GATEHOUSE_TEST_UNSET_VARIABLE is not set"},
		{`passwordEnv="GATEHOUSE_TEST_EMPTY"`, "passwordEnv: environment variable GATEHOUSE_TEST_EMPTY is empty"},
		{`passwordEnv="GATEHOUSE_TEST_EMPTY" passwordFile="secrets/redis.pass"`, "passwordFile and passwordEnv exclude each other"},
	} {
		_, path := setup(t, `<gatehouse xmlns="urn:gatehouse:config:1">
  <listener name="edge" address="127.0.0.1:8443">
    <tls certificate="pki/server.crt" key="pki/server.key" clientCA="pki/ca.crt"/>
  </listener>
  <store>
    <redis addresses="127.0.0.1:6379" `+tc.attrs+`/>
  </store>
</gatehouse>`)
		_, err := Load(path)
		if want := path + ":6: store/redis: " + tc.want; err == nil || err.Error() != want {
			t.Errorf("%s: Load = %v\nwant %s", tc.attrs, err, want)
		}
	}
}

// Secret files readable by group or others load, with a warning each.
func TestExposedSecretFilesWarn(t *testing.T) {
	dir, path := setupWith(t, `<gatehouse xmlns="urn:gatehouse:config:1">
  <listener name="edge" address="127.0.0.1:8443">
    <tls certificate="pki/server.crt" key="pki/server.key" clientCA="pki/ca.crt"/>
  </listener>
  <store>
    <redis addresses="127.0.0.1:6379" passwordFile="secrets/redis.pass"/>
  </store>
  <users file="users/users.xml"/>
</gatehouse>`, companionFiles(t, "valid"))
	redisPass := filepath.Join(dir, "secrets/redis.pass")
	secret := filepath.Join(dir, "users/secrets/legacy-app.secret")
	if err := os.Chmod(redisPass, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(secret, 0o640); err != nil {
		t.Fatal(err)
	}
	cfg := mustLoad(t, path)
	want := []string{
		path + ":6: store/redis: passwordFile " + redisPass + " can be read by group or others (mode 0644); make it readable by the gatehouse user only",
		filepath.Join(dir, "users/users.xml") + `:7: user name="legacy-app": secretFile ` + secret + " can be read by group or others (mode 0640); make it readable by the gatehouse user only",
	}
	if !reflect.DeepEqual(cfg.Warnings, want) {
		t.Errorf("Warnings = %q\nwant %q", cfg.Warnings, want)
	}
	if cfg.Store.Redis.Password() != redisPassword {
		t.Errorf("Password() = %q", cfg.Store.Redis.Password())
	}

	if err := os.Chmod(redisPass, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(secret, 0o400); err != nil {
		t.Fatal(err)
	}
	if cfg := mustLoad(t, path); len(cfg.Warnings) != 0 {
		t.Errorf("Warnings = %q, want none for mode 0600 and 0400", cfg.Warnings)
	}
}

func TestInsecureAllowSHA1Warns(t *testing.T) {
	_, path := setup(t, `<gatehouse xmlns="urn:gatehouse:config:1">
  <listener name="edge" address="127.0.0.1:8443">
    <tls certificate="pki/server.crt" key="pki/server.key" clientCA="pki/ca.crt"/>
  </listener>
  <trust name="partners">
    <ca file="pki/partners-ca.crt"/>
  </trust>
  <service name="legacy" path="/legacy">
    <backend url="http://127.0.0.1:8081/legacy"/>
    <security trust="partners" require="timestamp signature" insecureAllowSHA1="true"/>
    <schema file="payload/accounts.xsd"/>
  </service>
</gatehouse>`)
	cfg := mustLoad(t, path)
	want := path + `:10: service name="legacy"/security: insecureAllowSHA1="true": SHA-1 signatures and digests are accepted; SHA-1 collisions are practical`
	if !reflect.DeepEqual(cfg.Warnings, []string{want}) {
		t.Errorf("Warnings = %q\nwant [%q]", cfg.Warnings, want)
	}
	if s := cfg.Services[0].Security; !s.InsecureAllowSHA1 || !reflect.DeepEqual(s.SignedParts, []SignedPart{{Kind: PartBody}, {Kind: PartTimestamp}}) {
		t.Errorf("security = %+v", s)
	}
}

// insecureNoTimestamp admits require="signature" alone and
// insecureAllowNonBSP relaxes BSP 1.1, each with a start-up warning.
func TestInsecureNoTimestampAndNonBSPWarn(t *testing.T) {
	_, path := setup(t, `<gatehouse xmlns="urn:gatehouse:config:1">
  <listener name="edge" address="127.0.0.1:8443">
    <tls certificate="pki/server.crt" key="pki/server.key" clientCA="pki/ca.crt"/>
  </listener>
  <trust name="partners">
    <ca file="pki/partners-ca.crt"/>
  </trust>
  <service name="legacy" path="/legacy">
    <backend url="http://127.0.0.1:8081/legacy"/>
    <security trust="partners" require="signature" insecureNoTimestamp="true" insecureAllowNonBSP="true"/>
    <schema file="payload/accounts.xsd"/>
  </service>
  <service name="strict" path="/strict">
    <backend url="http://127.0.0.1:8081/strict"/>
    <security trust="partners" require="timestamp signature" insecureNoTimestamp="false" insecureAllowNonBSP="false"/>
    <schema file="payload/accounts.xsd"/>
  </service>
</gatehouse>`)
	cfg := mustLoad(t, path)
	want := []string{
		path + `:10: service name="legacy"/security: insecureNoTimestamp="true": signed messages need no Timestamp; such a message can be replayed once its replay entry (maxAge+maxSkew) is gone`,
		path + `:10: service name="legacy"/security: insecureAllowNonBSP="true": WS-I Basic Security Profile 1.1 is relaxed (inclusive C14N, References without Transforms, Timestamps not in UTC "Z")`,
	}
	if !reflect.DeepEqual(cfg.Warnings, want) {
		t.Errorf("Warnings = %q\nwant %q", cfg.Warnings, want)
	}
	legacy, strict := cfg.Services[0].Security, cfg.Services[1].Security
	if !legacy.InsecureNoTimestamp || !legacy.InsecureAllowNonBSP || !reflect.DeepEqual(legacy.SignedParts, []SignedPart{{Kind: PartBody}}) {
		t.Errorf("legacy security = %+v", legacy)
	}
	if strict.InsecureNoTimestamp || strict.InsecureAllowNonBSP {
		t.Errorf("strict security = %+v", strict)
	}
}

// A trusted certificate close to its end draws a warning; an expired CA
// too (a pinned one is an error: see testdata/invalid/trust-expired-pinned).
func TestTrustExpiryWarns(t *testing.T) {
	dir, path := setup(t, `<gatehouse xmlns="urn:gatehouse:config:1">
  <listener name="edge" address="127.0.0.1:8443">
    <tls certificate="pki/server.crt" key="pki/server.key" clientCA="pki/ca.crt"/>
  </listener>
  <trust name="partners">
    <certificate file="pki/expiring.crt"/>
    <ca file="pki/rollover.crt"/>
  </trust>
</gatehouse>`)
	// An expired CA beside a valid one, as during a rollover.
	p := loadTestPKI(t)
	bundle := filepath.Join(dir, "pki/rollover.crt")
	writeFile(t, bundle, append(append([]byte{}, p.files["expired-ca.crt"]...), p.files["partners-ca.crt"]...))
	cfg := mustLoad(t, path)
	if len(cfg.Warnings) != 2 {
		t.Fatalf("Warnings = %q, want 2", cfg.Warnings)
	}
	expiring := path + `:6: trust name="partners"/certificate: ` + filepath.Join(dir, "pki/expiring.crt") + `: certificate "CN=expiring.example" expires on `
	if w := cfg.Warnings[0]; !strings.HasPrefix(w, expiring) || !strings.HasSuffix(w, " (in 10 days)") {
		t.Errorf("warning %q\nwant %s… (in 10 days)", w, expiring)
	}
	if w, want := cfg.Warnings[1], path+`:7: trust name="partners"/ca: `+bundle+`: certificate "CN=Old partners CA" expired on 2021-01-01`; w != want {
		t.Errorf("warning %q\nwant %q", w, want)
	}
	trust := cfg.TrustStore("partners")
	if len(trust.Pinned()) != 1 || trust.Roots() == nil {
		t.Errorf("%d pinned, roots %v: want the expiring certificate and both CAs", len(trust.Pinned()), trust.Roots())
	}
}

func TestParseSignedPart(t *testing.T) {
	for _, tc := range []struct {
		tok     string
		want    SignedPart
		wantErr string
	}{
		{"Body", SignedPart{Kind: PartBody}, ""},
		{"Timestamp", SignedPart{Kind: PartTimestamp}, ""},
		{"{http://www.w3.org/2005/08/addressing}To", SignedPart{PartHeader, "http://www.w3.org/2005/08/addressing", "To"}, ""},
		{"{urn:example:headers}Trace-Id.v2", SignedPart{PartHeader, "urn:example:headers", "Trace-Id.v2"}, ""},
		{"{http://example.com/ns#}_été", SignedPart{PartHeader, "http://example.com/ns#", "_été"}, ""},
		{"body", SignedPart{}, `signedParts: "body" is not Body, Timestamp or {namespace}LocalName`},
		{"{urn:x}", SignedPart{}, `signedParts: "{urn:x}": "" is not an XML local name (NCName)`},
		{"{urn:x}a:b", SignedPart{}, `signedParts: "{urn:x}a:b": "a:b" is not an XML local name (NCName)`},
		{"{urn:x}-a", SignedPart{}, `signedParts: "{urn:x}-a": "-a" is not an XML local name (NCName)`},
		{"{relative/ns}To", SignedPart{}, `signedParts: "{relative/ns}To": namespace "relative/ns" is not an absolute URI`},
		{"{}To", SignedPart{}, `signedParts: "{}To": namespace "" is not an absolute URI`},
		{"{http://%zz}To", SignedPart{}, `signedParts: "{http://%zz}To": namespace "http://%zz" is not an absolute URI`},
	} {
		got, err := parseSignedPart(tc.tok)
		if err != nil && err.Error() != tc.wantErr || err == nil && (tc.wantErr != "" || got != tc.want) {
			t.Errorf("parseSignedPart(%q) = %+v, %v; want %+v, %q", tc.tok, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestIsNCName(t *testing.T) {
	for _, name := range []string{"a", "_", "To", "a-b.c_d9", "été", "Ωμέγα", "a\u00b7b", "名前"} {
		if !isNCName(name) {
			t.Errorf("isNCName(%q) = false", name)
		}
	}
	for _, name := range []string{"", "1a", "-a", ".a", "a:b", ":a", "a b", "a\u00d7b", "\u00b7a", "a/b", "\xff"} {
		if isNCName(name) {
			t.Errorf("isNCName(%q) = true", name)
		}
	}
}

// FuzzParseSignedPart: never a panic, and an accepted token prints as
// written.
func FuzzParseSignedPart(f *testing.F) {
	for _, s := range []string{"Body", "Timestamp", "{http://www.w3.org/2005/08/addressing}To", "{urn:x}a:b", "{}", "{{}}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		p, err := parseSignedPart(tok)
		if err == nil && p.String() != tok {
			t.Fatalf("parseSignedPart(%q) = %+v, which prints as %q", tok, p, p.String())
		}
	})
}

// A trust store's known signers: a bundle and a directory (only .pem, .crt
// and .cer files) are loaded in order; an expired signer draws a warning
// and is left out.
func TestTrustSigners(t *testing.T) {
	dir, path := setup(t, `<gatehouse xmlns="urn:gatehouse:config:1">
  <listener name="edge" address="127.0.0.1:8443">
    <tls certificate="pki/server.crt" key="pki/server.key" clientCA="pki/ca.crt"/>
  </listener>
  <trust name="partners">
    <ca file="pki/partners-ca.crt"/>
    <signers file="pki/partner.crt"/>
    <signers dir="signers"/>
  </trust>
</gatehouse>`)
	p := loadTestPKI(t)
	writeFile(t, filepath.Join(dir, "signers", "a.pem"), p.files["expiring.crt"])
	writeFile(t, filepath.Join(dir, "signers", "b.cer"), p.files["expired.crt"])
	writeFile(t, filepath.Join(dir, "signers", "README"), []byte("not a certificate"))
	cfg := mustLoad(t, path)
	trust := cfg.TrustStore("partners")
	var got []string
	for _, c := range trust.SignerCertificates() {
		got = append(got, c.Subject.CommonName)
	}
	if want := []string{"partner.example", "expiring.example"}; !reflect.DeepEqual(got, want) {
		t.Errorf("signers %q, want %q", got, want)
	}
	if len(trust.Pinned()) != 0 {
		t.Errorf("%d pinned certificates: signers are not pinned", len(trust.Pinned()))
	}
	if len(cfg.Warnings) != 2 || !strings.Contains(cfg.Warnings[1], `certificate "CN=expired.example" expired on`) {
		t.Errorf("Warnings = %q, want the expiring and the expired signer", cfg.Warnings)
	}
}
