package gateway_test

import (
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/credmap"
	"github.com/gatehouse/gatehouse/gateway/internal/demo"
	"github.com/gatehouse/gatehouse/gateway/internal/demopki"
	"github.com/gatehouse/gatehouse/gateway/internal/redistest"
)

// cicsFor returns a demo CICS backend sharing the PKI's secured signon key.
func cicsFor(t *testing.T, dir string, users ...string) *demo.CICS {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "pki", demopki.RACFKey))
	must(t, err)
	key, err := hex.DecodeString(strings.TrimSpace(string(data)))
	must(t, err)
	c := &demo.CICS{Generator: credmap.Generator{Algorithm: credmap.Enhanced, Key: key}, Application: "CICSPROD", Users: map[string]bool{}}
	for _, u := range users {
		c.Users[u] = true
	}
	return c
}

const racfMap = `<credentialMap name="racf" domain="RACF-PROD">
    <attribute name="racfUserId"/>
    <pattern rule="localpart-upper"/>
    <passTicket algorithm="enhanced" keyFile="pki/racf-cicsprod.key" application="CICSPROD"/>
  </credentialMap>`

// TestPassTicketForSAMLSubject: alice@example.com (SAML attribute
// racfUserId=ALICE01) reaches the legacy CICS backend as ALICE01 with a
// valid PassTicket in a UsernameToken; a subject with no mapping is
// refused; the audit record names the mapping and never the ticket.
func TestPassTicketForSAMLSubject(t *testing.T) {
	var cics *demo.CICS
	var cicsOnce sync.Once
	e := samlEnv(t, "2m", func(o *envOptions) {
		o.credMaps, o.credentials = racfMap, `<credentials map="racf"/>`
		o.backendHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			cicsOnce.Do(func() { cics = cicsFor(t, o.dir, "ALICE01") })
			cics.ServeHTTP(w, r)
		})
	})
	token := mustToken(t, e, audAccounts)
	resp := e.post(t, accountsPath, withToken(token), "1.1")
	if body := readAll(t, resp); resp.StatusCode != 200 {
		t.Fatalf("call: %d %s", resp.StatusCode, body)
	}
	if got := cics.SignOns(); len(got) != 1 || got[0] != "ALICE01" {
		t.Errorf("CICS sign-ons %v", got)
	}
	rec := e.record(t, resp.Header.Get("X-Correlation-ID"))
	if rec.LegacyDomain != "RACF-PROD" || rec.LegacyUser != "ALICE01" || rec.Mapping != "attribute:racfUserId" {
		t.Errorf("audit %+v", rec)
	}

	// The workload's own token: subject spiffe://…, no racfUserId, no '@'.
	wtok, out := requestToken(t, e, "", audAccounts, "")
	if wtok == "" {
		t.Fatalf("workload token: %s", out)
	}
	id := expectFault(t, e.post(t, accountsPath, withToken(wtok), "1.1"), http.StatusForbidden, "soap:Client")
	if r := e.record(t, id); !strings.Contains(r.Reason, "no mapping") || r.LegacyUser != "" {
		t.Errorf("unmapped subject: %+v", r)
	}
	if n := len(cics.SignOns()); n != 1 {
		t.Errorf("CICS saw %d sign-ons, want 1", n)
	}
}

// TestPassTicketsAcrossInstances: two gateways sharing one Redis make
// PassTickets for one user concurrently; every call reaches the CICS
// backend with a distinct, valid ticket (it accepts each ticket once).
func TestPassTicketsAcrossInstances(t *testing.T) {
	srv := redistest.Start(t)
	dir := t.TempDir()
	must(t, demopki.Generate(filepath.Join(dir, "pki")))
	cics := cicsFor(t, dir, "BATCH01")
	o := envOptions{
		dir: dir, store: redisStore(srv, "gh-pticket-test:"), backendHandler: cics,
		credMaps: `<credentialMap name="batch" domain="RACF-PROD"><serviceAccount user="BATCH01"/>` +
			`<passTicket algorithm="enhanced" keyFile="pki/racf-cicsprod.key" application="CICSPROD"/></credentialMap>`,
		credentials: `<credentials map="batch"/>`,
	}
	gw1 := newEnv(t, o)
	gw2 := newEnv(t, o)
	const each = 6
	var wg sync.WaitGroup
	codes := make(chan int, 2*each)
	for _, e := range []*env{gw1, gw2} {
		for range each {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp := e.post(t, accountsPath, envelope11(getBalance), "1.1")
				readAll(t, resp)
				codes <- resp.StatusCode
			}()
		}
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Errorf("a call got %d: PassTickets collided or were refused", c)
		}
	}
	if n := len(cics.SignOns()); n != 2*each {
		t.Errorf("CICS accepted %d sign-ons, want %d", n, 2*each)
	}
}

// TestCredentialTableReload: a mapping table changed on disk takes effect
// after ReloadCredentialTables (SIGHUP), without a restart; a broken file
// keeps the previous table.
func TestCredentialTableReload(t *testing.T) {
	dir := t.TempDir()
	must(t, demopki.Generate(filepath.Join(dir, "pki")))
	table := filepath.Join(dir, "map.csv")
	must(t, os.WriteFile(table, []byte("kind,name,user\nworkload,"+demopki.ConsumerSPIFFEID+",BATCH01\n"), 0o644))
	cics := cicsFor(t, dir, "BATCH01", "BATCH02")
	e := newEnv(t, envOptions{
		dir: dir, backendHandler: cics,
		credMaps: `<credentialMap name="batch" domain="RACF-PROD"><table file="map.csv"/>` +
			`<passTicket algorithm="enhanced" keyFile="pki/racf-cicsprod.key" application="CICSPROD"/></credentialMap>`,
		credentials: `<credentials map="batch"/>`,
	})
	callAs := func() string {
		resp := e.post(t, accountsPath, envelope11(getBalance), "1.1")
		readAll(t, resp)
		return e.record(t, resp.Header.Get("X-Correlation-ID")).LegacyUser
	}
	if u := callAs(); u != "BATCH01" {
		t.Fatalf("mapped to %q", u)
	}
	must(t, os.WriteFile(table, []byte("kind,name,user\nworkload,"+demopki.ConsumerSPIFFEID+",BATCH02\n"), 0o644))
	if u := callAs(); u != "BATCH01" {
		t.Fatalf("table changed before the reload: %q", u)
	}
	must(t, e.gw.ReloadCredentialTables())
	if u := callAs(); u != "BATCH02" {
		t.Fatalf("after reload mapped to %q", u)
	}
	must(t, os.WriteFile(table, []byte("not,a,table\n"), 0o644))
	if err := e.gw.ReloadCredentialTables(); err == nil {
		t.Fatal("a broken table reloaded without error")
	}
	if u := callAs(); u != "BATCH02" {
		t.Fatalf("a failed reload changed the mapping: %q", u)
	}
}
