package conf

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// TestLoadValidSAML checks testdata/valid-saml.xml: SAML issuers, the STS
// with its directory, and the services' SAML policies.
func TestLoadValidSAML(t *testing.T) {
	dir, path := setupWith(t, readTestdata(t, "valid-saml.xml"), companionFiles(t, "valid-saml"))
	cfg := mustLoad(t, path)
	abs := func(rel string) string { return filepath.Join(dir, rel) }
	p := loadTestPKI(t)

	if len(cfg.Warnings) != 0 {
		t.Errorf("Warnings = %q, want none", cfg.Warnings)
	}
	if got, want := cfg.Summary(), "config OK: 2 listeners, 3 services, admin 127.0.0.1:9090, store memory (single instance), 2 trust stores, 2 users, 2 SAML issuers, STS at /sts (3 subjects)"; got != want {
		t.Errorf("Summary() = %q\nwant %q", got, want)
	}

	// SAML issuers.
	wantIssuers := []*SAMLIssuer{
		{Pos{path, 18}, "urn:gatehouse:sts", "sts-signing"},
		{Pos{path, 19}, "https://idp.partner.example/saml", "partners"},
	}
	if !reflect.DeepEqual(cfg.SAMLIssuers, wantIssuers) {
		t.Errorf("SAMLIssuers = %+v\nwant %+v", cfg.SAMLIssuers, wantIssuers)
	}
	if cfg.SAMLIssuer("urn:gatehouse:sts") != cfg.SAMLIssuers[0] || cfg.SAMLIssuer("https://idp.partner.example/saml") != cfg.SAMLIssuers[1] ||
		cfg.SAMLIssuer("urn:gatehouse:other") != nil || cfg.SAMLIssuer("") != nil {
		t.Error("SAMLIssuer does not find the issuers by entity ID")
	}
	if pinned := cfg.TrustStore(cfg.SAMLIssuers[0].Trust).Pinned(); len(pinned) != 2 || !pinned[0].Equal(p.sts) || !pinned[1].Equal(p.stsNext) {
		t.Errorf("sts-signing pins %d certificates, want sts.crt and sts-next.crt", len(pinned))
	}

	// The STS.
	s := cfg.STS
	if s == nil {
		t.Fatal("STS = nil")
	}
	want := &STS{
		Pos:                Pos{path, 22},
		Path:               "/sts",
		Listener:           "edge",
		EntityID:           "urn:gatehouse:sts",
		SigningCertificate: abs("pki/sts.crt"),
		SigningKey:         abs("pki/sts.key"),
		Lifetime:           10 * time.Minute,
		MaxLifetime:        2 * time.Hour,
		MetadataPath:       "/sts/metadata",
		Directory:          Directory{Pos: Pos{path, 23}, File: abs("directory.xml"), list: s.Directory.list},
		Authentication:     STSAuthentication{Pos{path, 24}, true, true},
		Delegations: []Delegation{
			{Pos{path, 25}, "spiffe://demo.gatehouse.internal/composite/open-account", "urn:gatehouse:service:accounts",
				[]string{"urn:gatehouse:service:orders"}, false},
			{Pos{path, 26}, "spiffe://demo.gatehouse.internal/composite/open-account", "urn:gatehouse:service:orders",
				[]string{"urn:gatehouse:service:accounts", "https://legacy.example/"}, true},
		},
		keys: s.keys,
	}
	// An STS prints as a summary (Format): compare field by field.
	gv, wv := reflect.ValueOf(s).Elem(), reflect.ValueOf(want).Elem()
	for i := range gv.NumField() {
		if f := gv.Type().Field(i); f.IsExported() && !reflect.DeepEqual(gv.Field(i).Interface(), wv.Field(i).Interface()) {
			t.Errorf("STS.%s = %+v\nwant %+v", f.Name, gv.Field(i).Interface(), wv.Field(i).Interface())
		}
	}
	if !reflect.DeepEqual(s, want) {
		t.Error("STS differs from the expected value in an unexported field")
	}
	if cert := s.Certificate(); cert == nil || !cert.Equal(p.sts) {
		t.Errorf("Certificate() = %v, want sts.crt", cert)
	}
	signer := s.Signer()
	if signer == nil {
		t.Fatal("Signer() = nil")
	}
	digest := sha256.Sum256([]byte("assertion"))
	sig, err := signer.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(p.sts.PublicKey.(*ecdsa.PublicKey), digest[:], sig) {
		t.Error("Signer() does not sign with the key of Certificate()")
	}

	// The directory, in file order.
	wantEntries := []DirectoryEntry{
		{
			NameID:     "alice@example.com",
			Format:     "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
			Username:   "alice",
			Roles:      []string{"teller", "auditor"},
			Attributes: map[string][]string{"racfUserId": {"ALICE01"}, "branch": {"0042", "0043"}},
			Line:       4,
		},
		{NameID: "CN=Open Account,O=Gatehouse Demo", Workload: "spiffe://demo.gatehouse.internal/composite/open-account", Line: 11},
		{NameID: "bob", Username: "bob", Attributes: map[string][]string{"note": {""}}, Line: 12},
	}
	entries := s.Directory.Entries()
	if !reflect.DeepEqual(entries, wantEntries) {
		t.Errorf("Entries() = %#v\nwant %#v", entries, wantEntries)
	}

	// The services' SAML policies: as written, and the defaults.
	accounts, orders, legacy := cfg.Services[0].SAML, cfg.Services[1].SAML, cfg.Services[2].SAML
	wantAccounts := &SAML{
		Pos:               Pos{path, 30},
		Audience:          "urn:gatehouse:service:accounts",
		Confirmation:      []string{ConfirmationBearer, ConfirmationHolderOfKey, ConfirmationSenderVouches},
		Required:          true,
		MaxClockSkew:      time.Minute,
		Issuers:           []string{"urn:gatehouse:sts", "https://idp.partner.example/saml"},
		AttestingEntities: []string{"spiffe://demo.gatehouse.internal/edge"},
		Recipients:        []string{"https://gatehouse.example:8443/services/accounts", "https://gw2.example/services/accounts"},
		RequireRecipient:  true,
		Versions:          []string{"1.1", "2.0"},
		AssertionCache:    500,
		issuerLines:       []int{31, 32},
		attestingLines:    []int{33},
	}
	if !reflect.DeepEqual(accounts, wantAccounts) {
		t.Errorf("accounts saml = %+v\nwant %+v", accounts, wantAccounts)
	}
	wantOrders := &SAML{
		Pos:            Pos{path, 39},
		Audience:       "urn:gatehouse:service:orders",
		Confirmation:   []string{ConfirmationBearer, ConfirmationHolderOfKey},
		Required:       true,
		MaxClockSkew:   DefaultSAMLMaxClockSkew,
		Issuers:        []string{"urn:gatehouse:sts"},
		Versions:       []string{"2.0"},
		AssertionCache: DefaultAssertionCache,
		issuerLines:    []int{40},
	}
	if !reflect.DeepEqual(orders, wantOrders) {
		t.Errorf("orders saml = %+v\nwant %+v", orders, wantOrders)
	}
	if legacy.Required || !reflect.DeepEqual(legacy.Confirmation, []string{ConfirmationHolderOfKey}) || legacy.Audience != "https://legacy.example/" || legacy.AssertionCache != 0 {
		t.Errorf("legacy saml = %+v, want required false, holderOfKey only, no assertion cache", legacy)
	}
	if cfg.Services[0].Security != nil {
		t.Error("a service without a security element has a Security")
	}
}

func TestSAMLAllows(t *testing.T) {
	s := &SAML{Confirmation: []string{ConfirmationBearer, ConfirmationSenderVouches}}
	for _, tc := range []struct {
		method string
		want   bool
	}{
		{"bearer", true},
		{"senderVouches", true},
		{"holderOfKey", false},
		{"urn:oasis:names:tc:SAML:2.0:cm:bearer", true},
		{"urn:oasis:names:tc:SAML:2.0:cm:sender-vouches", true},
		{"urn:oasis:names:tc:SAML:2.0:cm:holder-of-key", false},
		{"urn:oasis:names:tc:SAML:1.0:cm:bearer", true},
		{"urn:oasis:names:tc:SAML:1.0:cm:sender-vouches", true},
		{"urn:oasis:names:tc:SAML:1.0:cm:holder-of-key", false},
		{"Bearer", false},
		{"urn:oasis:names:tc:SAML:2.0:cm:Bearer", false},
		{"", false},
	} {
		if got := s.Allows(tc.method); got != tc.want {
			t.Errorf("Allows(%q) = %v, want %v", tc.method, got, tc.want)
		}
	}
	var none *SAML
	if none.Allows(ConfirmationBearer) {
		t.Error("a nil policy allows bearer")
	}
}

func TestSTSMayDelegate(t *testing.T) {
	_, path := setupWith(t, readTestdata(t, "valid-saml.xml"), companionFiles(t, "valid-saml"))
	s := mustLoad(t, path).STS
	const actor = "spiffe://demo.gatehouse.internal/composite/open-account"
	const accounts, orders, legacy = "urn:gatehouse:service:accounts", "urn:gatehouse:service:orders", "https://legacy.example/"
	for _, tc := range []struct {
		actor, audience, token string
		want                   bool
	}{
		{actor, accounts, orders, true},
		{actor, orders, accounts, true},
		{actor, orders, legacy, true},    // the second of two token audiences
		{actor, legacy, accounts, false}, // a service audience, but not delegated
		{actor, "urn:gatehouse:service:Accounts", orders, false},
		{"spiffe://demo.gatehouse.internal/edge", accounts, orders, false},
		{actor + "/", accounts, orders, false},
		{"", accounts, orders, false},
		{actor, "", orders, false},
		// The token must have been issued for an audience of the grant.
		{actor, accounts, accounts, false},
		{actor, accounts, legacy, false}, // a token audience of the other grant
		{actor, orders, orders, false},
		{actor, accounts, "", false},
		{actor, accounts, "urn:gatehouse:service:Orders", false},
	} {
		if got := s.MayDelegate(tc.actor, tc.audience, tc.token); got != tc.want {
			t.Errorf("MayDelegate(%q, %q, %q) = %v, want %v", tc.actor, tc.audience, tc.token, got, tc.want)
		}
	}
	// Only the second grant vouches for users.
	if s.MayVouch(actor, accounts) || !s.MayVouch(actor, orders) || s.MayVouch("spiffe://demo.gatehouse.internal/edge", orders) || s.MayVouch("", orders) {
		t.Error("MayVouch does not follow delegation/@vouchesForUsers")
	}
	var none *STS
	if none.MayVouch(actor, orders) || none.MayDelegate(actor, accounts, orders) || none.Signer() != nil || none.Certificate() != nil {
		t.Error("a nil STS delegates, signs or has a certificate")
	}
}

// Entries returns a deep copy: changing roles, attribute values or the
// attribute maps it returned changes nothing in the directory.
func TestDirectoryEntriesDeepCopy(t *testing.T) {
	_, path := setupWith(t, readTestdata(t, "valid-saml.xml"), companionFiles(t, "valid-saml"))
	d := &mustLoad(t, path).STS.Directory
	mutated := d.Entries()
	mutated[0].NameID = "mallory@example.com"
	mutated[0].Roles[0] = "admin"
	mutated[0].Roles = append(mutated[0].Roles[:1], "root")
	mutated[0].Attributes["branch"][1] = "9999"
	mutated[0].Attributes["racfUserId"] = append(mutated[0].Attributes["racfUserId"], "SYS1")
	mutated[0].Attributes["added"] = []string{"x"}
	delete(mutated[2].Attributes, "note")
	after := d.Entries()
	if a := after[0]; a.NameID != "alice@example.com" || !reflect.DeepEqual(a.Roles, []string{"teller", "auditor"}) ||
		!reflect.DeepEqual(a.Attributes, map[string][]string{"racfUserId": {"ALICE01"}, "branch": {"0042", "0043"}}) {
		t.Errorf("changing what Entries() returned changed the directory: %#v", a)
	}
	if !reflect.DeepEqual(after[2].Attributes, map[string][]string{"note": {""}}) {
		t.Errorf("deleting from an attribute map Entries() returned changed the directory: %#v", after[2].Attributes)
	}
	var none *Directory
	if none.Entries() != nil {
		t.Error("a nil Directory has entries")
	}
}

// The defaults: the only listener, metadataPath under path, lifetimes;
// RSA and ECDSA P-384 keys sign; an empty directory.
func TestSTSDefaults(t *testing.T) {
	for _, tc := range []struct{ cert, key, warning string }{
		// RSA 2048, PKCS#1; valid for a day, which draws a warning
		{"pki/gw-client.crt", "pki/gw-client.key", `:5: sts: $DIR/pki/gw-client.crt: certificate "CN=gatehouse-gw" expires on `},
		// ECDSA P-384, SEC 1
		{"pki/sts-next.crt", "pki/sts-next.key", ""},
	} {
		dir, path := setupWith(t, `<gatehouse xmlns="urn:gatehouse:config:1">
  <listener name="edge" address="127.0.0.1:8443">
    <tls certificate="pki/server.crt" key="pki/server.key" clientCA="pki/ca.crt"/>
  </listener>
  <sts path="/" entityID="https://sts.example/" signingCertificate="`+tc.cert+`" signingKey="`+tc.key+`">
    <directory file="directory.xml"/>
    <authentication certificate="1"/>
  </sts>
</gatehouse>`, fstest.MapFS{"directory.xml": {Data: []byte(`<directory xmlns="urn:gatehouse:directory:1"/>`)}})
		cfg := mustLoad(t, path)
		s := cfg.STS
		if s.Listener != "edge" || s.MetadataPath != "/metadata" || s.Lifetime != DefaultSTSLifetime || s.MaxLifetime != DefaultSTSMaxLifetime {
			t.Errorf("%s: listener %q, metadataPath %q, lifetime %s, maxLifetime %s; want the defaults", tc.key, s.Listener, s.MetadataPath, s.Lifetime, s.MaxLifetime)
		}
		if s.Authentication.UsernameToken || !s.Authentication.Certificate || s.Delegations != nil {
			t.Errorf("%s: authentication %+v, delegations %v", tc.key, s.Authentication, s.Delegations)
		}
		if s.Signer() == nil || s.Certificate() == nil || !keysMatch(s.Certificate(), s.Signer()) {
			t.Errorf("%s: Signer() and Certificate() do not belong together", tc.key)
		}
		if got := s.Directory.Entries(); len(got) != 0 {
			t.Errorf("%s: Entries() = %v, want none", tc.key, got)
		}
		if got, want := cfg.Summary(), "config OK: 1 listener, 0 services, admin 127.0.0.1:9090, store memory (single instance), 0 trust stores, 0 users, 0 SAML issuers, STS at / (0 subjects)"; got != want {
			t.Errorf("Summary() = %q\nwant %q", got, want)
		}
		switch {
		case tc.warning == "" && len(cfg.Warnings) != 0:
			t.Errorf("%s: Warnings = %q, want none", tc.key, cfg.Warnings)
		case tc.warning != "":
			want := path + strings.ReplaceAll(tc.warning, "$DIR", dir)
			if len(cfg.Warnings) != 1 || !strings.HasPrefix(cfg.Warnings[0], want) || !strings.HasSuffix(cfg.Warnings[0], " (in less than a day)") {
				t.Errorf("%s: Warnings = %q\nwant [%s… (in less than a day)]", tc.key, cfg.Warnings, want)
			}
		}
	}
}

// What is suspicious but not wrong loads with a warning: an attestingEntity
// or a requireRecipient that no confirmation method uses, a directory
// username the user store does not know.
func TestSAMLWarnings(t *testing.T) {
	dir, path := setupWith(t, `<gatehouse xmlns="urn:gatehouse:config:1">
  <listener name="edge" address="127.0.0.1:8443">
    <tls certificate="pki/server.crt" key="pki/server.key" clientCA="pki/ca.crt"/>
  </listener>
  <trust name="sts-signing">
    <certificate file="pki/sts.crt"/>
  </trust>
  <users file="users/users.xml"/>
  <samlIssuer entityID="urn:gatehouse:sts" trust="sts-signing"/>
  <sts path="/sts" entityID="urn:gatehouse:sts" signingCertificate="pki/sts.crt" signingKey="pki/sts.key">
    <directory file="directory.xml"/>
    <authentication usernameToken="true"/>
  </sts>
  <service name="accounts" path="/services/accounts">
    <backend url="https://127.0.0.1:8081/accounts"/>
    <saml audience="urn:gatehouse:service:accounts">
      <issuer entityID="urn:gatehouse:sts"/>
      <attestingEntity workload="spiffe://demo.gatehouse.internal/edge"/>
    </saml>
    <schema file="payload/accounts.xsd"/>
  </service>
  <service name="accounts-hok" path="/services/accounts-hok">
    <backend url="https://127.0.0.1:8081/accounts"/>
    <saml audience="urn:gatehouse:service:accounts-hok" confirmation="holderOfKey" requireRecipient="true">
      <issuer entityID="urn:gatehouse:sts"/>
    </saml>
    <schema file="payload/accounts.xsd"/>
  </service>
</gatehouse>`, fstest.MapFS{
		"users/users.xml": {Data: []byte(`<users xmlns="urn:gatehouse:users:1">
  <user name="alice" passwordHash="{{.Bcrypt}}"/>
</users>`)},
		"directory.xml": {Data: []byte(`<directory xmlns="urn:gatehouse:directory:1">
  <subject nameID="alice@example.com" username="alice"/>
  <subject nameID="carol@example.com" username="carol"/>
</directory>`)},
	})
	cfg := mustLoad(t, path)
	want := []string{
		path + `:18: service name="accounts"/saml/attestingEntity: workload "spiffe://demo.gatehouse.internal/edge" is not used: confirmation does not list senderVouches`,
		path + `:24: service name="accounts-hok"/saml: requireRecipient="true" is not used: confirmation does not list bearer`,
		filepath.Join(dir, "directory.xml") + `:3: subject nameID="carol@example.com": username "carol" is not in the user store ` +
			filepath.Join(dir, "users/users.xml") + ", so nobody can authenticate as this subject with a UsernameToken",
	}
	if !reflect.DeepEqual(cfg.Warnings, want) {
		t.Errorf("Warnings = %q\nwant %q", cfg.Warnings, want)
	}
}

// Printing the STS or the configuration never shows the signing key,
// whatever the verb.
func TestSTSDoesNotPrintKey(t *testing.T) {
	_, path := setupWith(t, readTestdata(t, "valid-saml.xml"), companionFiles(t, "valid-saml"))
	cfg := mustLoad(t, path)
	key, ok := cfg.STS.Signer().(*ecdsa.PrivateKey)
	if !ok {
		t.Fatalf("Signer() is %T, want *ecdsa.PrivateKey", cfg.STS.Signer())
	}
	d := key.D.Bytes()
	secrets := []string{key.D.String(), fmt.Sprintf("%x", d), fmt.Sprint(d), string(loadTestPKI(t).files["sts.key"][40:80])}
	check := func(what, out string) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s shows the signing key: %s", what, out)
			}
		}
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q", "%d"} {
		for _, v := range []any{cfg.STS, *cfg.STS, cfg, *cfg, cfg.STS.Directory} {
			check(fmt.Sprintf("Sprintf(%q, %T)", verb, v), fmt.Sprintf(verb, v))
		}
	}
	for _, v := range []any{cfg.STS, cfg} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("json.Marshal(%T)", v), string(b))
	}
	var log strings.Builder
	slog.New(slog.NewJSONHandler(&log, nil)).Info("sts", "sts", cfg.STS)
	slog.New(slog.NewTextHandler(&log, nil)).Info("sts", "sts", cfg.STS, "value", *cfg.STS)
	check("slog", log.String())

	if got, want := fmt.Sprint(cfg.STS), "sts path=/sts entityID=urn:gatehouse:sts (3 subjects)"; got != want {
		t.Errorf("STS prints as %s, want %s", got, want)
	}
}

func TestCheckSigningKey(t *testing.T) {
	gen := func(c elliptic.Curve) crypto.Signer {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	rsa2048, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	const want = " (want RSA of at least 2048 bits, or ECDSA P-256 or P-384)"
	for _, tc := range []struct {
		name    string
		key     crypto.Signer
		wantErr string
	}{
		{"RSA 2048", rsa2048, ""},
		{"ECDSA P-256", gen(elliptic.P256()), ""},
		{"ECDSA P-384", gen(elliptic.P384()), ""},
		{"RSA 1024", rsa1024, "RSA key of 1024 bits is too small" + want},
		{"ECDSA P-521", gen(elliptic.P521()), "ECDSA curve P-521 is not allowed for signing assertions" + want},
		{"ECDSA P-224", gen(elliptic.P224()), "ECDSA curve P-224 is not allowed for signing assertions" + want},
		{"Ed25519", ed, "key type Ed25519 is not allowed for signing assertions" + want},
	} {
		err := checkSigningKey(tc.key)
		if (err == nil) != (tc.wantErr == "") || err != nil && err.Error() != tc.wantErr {
			t.Errorf("%s: checkSigningKey = %v, want %q", tc.name, err, tc.wantErr)
		}
	}
}
