package authz

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/conf"
	"github.com/gatehouse/gatehouse/gateway/internal/demopki"
)

// loadTestConfig loads testdata/gatehouse.xml with conf.Load, beside a
// freshly generated PKI, and returns its path and its compiled policy.
func loadTestConfig(t *testing.T) (string, *Policy) {
	t.Helper()
	dir := t.TempDir()
	if err := demopki.Generate(filepath.Join(dir, "pki")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"gatehouse.xml", "accounts.xsd", "orders.xsd"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "gatehouse.xml")
	cfg, err := conf.Load(path)
	if err != nil {
		t.Fatalf("conf.Load: %v", err)
	}
	t.Cleanup(cfg.Close)
	if len(cfg.Warnings) != 0 {
		t.Errorf("Warnings = %q", cfg.Warnings)
	}
	return path, mustCompile(t, cfg.Policy)
}

// TestLoadedPolicy decides against the policy of a configuration file, as
// the gateway will: the same semantics as the policy built in code.
func TestLoadedPolicy(t *testing.T) {
	path, p := loadTestConfig(t)
	const kiosk = td + "retail/kiosk"
	teller := func(change func(*Request)) Request {
		r := Request{
			Caller: tellerApp, Consumer: "teller-app", Subject: "alice@example.com",
			Roles: []string{"teller"}, Attributes: map[string][]string{"branch": {"0042"}},
			AuthnMethod: ppt, Service: "accounts", Operation: getBalance,
		}
		if change != nil {
			change(&r)
		}
		return r
	}
	checkDecisions(t, p, []decideCase{
		{"allowed", teller(nil), allowedBy("tellers-read"), ""},
		{"default deny: another operation", teller(func(r *Request) { r.Operation = nsAccounts + "Close" }), noRule, ""},
		{"role missing", teller(func(r *Request) { r.Roles = []string{"clerk"} }), noRule, ""},
		{"branch not listed", teller(func(r *Request) { r.Attributes["branch"] = []string{"0044"} }), noRule, ""},
		{"authentication not listed", teller(func(r *Request) { r.AuthnMethod = conf.AuthnUsernameToken }), noRule, ""},
		{"deny overrides", teller(func(r *Request) { r.Attributes["shift"] = []string{"night"} }), deniedBy("no-transfers-at-night"), ""},
		{"transfer", teller(func(r *Request) {
			r.Operation, r.Roles, r.Attributes = transfer, []string{"senior", "teller"}, map[string][]string{"costCentre": {"0017"}}
		}), allowedBy("tellers-transfer"), ""},
		{"transfer: not both roles", teller(func(r *Request) {
			r.Operation, r.Attributes = transfer, map[string][]string{"costCentre": {"0017"}}
		}), noRule, ""},
		{"transfer: another subject", teller(func(r *Request) {
			r.Operation, r.Subject, r.Roles, r.Attributes = transfer, "bob@example.com", []string{"senior", "teller"}, map[string][]string{"costCentre": {"0017"}}
		}), noRule, ""},
		{"transfer at night", teller(func(r *Request) {
			r.Operation, r.Roles, r.Attributes = transfer, []string{"senior", "teller"}, map[string][]string{"costCentre": {"0017"}, "shift": {"night"}}
		}), deniedBy("no-transfers-at-night"), ""},
		{"prefix consumer without a flow to the service", teller(func(r *Request) { r.Caller, r.Consumer = kiosk, "retail" }), Decision{Reason: "no flow edge retail → accounts"}, ""},
		{"hop", teller(func(r *Request) {
			r.Caller, r.Consumer, r.Composite, r.Operation = kiosk, "retail", "open-account", openAccount
		}), allowedBy("open-account-accounts"), ""},
		{"hop: direct-only rule", teller(func(r *Request) { r.Caller, r.Consumer, r.Composite = kiosk, "retail", "open-account" }), noRule, ""},
		{"hop to orders", teller(func(r *Request) {
			r.Caller, r.Consumer, r.Composite, r.Service, r.Operation = kiosk, "retail", "open-account", "orders", placeOrder
		}), allowedBy("open-account-orders"), ""},
		{"orders directly: no flow edge", teller(func(r *Request) { r.Service, r.Operation = "orders", placeOrder }), Decision{Reason: "no flow edge teller-app → orders"}, ""},
		{"composite rule refuses a direct call", teller(func(r *Request) { r.Operation = openAccount }), noRule, ""},
		{"delegation", teller(func(r *Request) { r.Operation, r.Actors = create, []string{"composite:partner-onboarding"} }), allowedBy("partner-create"), ""},
		{"delegation: no chain", teller(func(r *Request) { r.Operation = create }), noRule, ""},
		{"delegation: actor only earlier", teller(func(r *Request) {
			r.Operation, r.Actors = create, []string{"composite:partner-onboarding", "user:teller"}
		}), noRule, ""},
	})

	// Explain names the rules' lines in the file.
	r := teller(func(r *Request) { r.Roles = nil })
	got := p.Explain(&r)
	want := []string{
		"flow: passed: flow edge teller-app → accounts",
		`rule "no-transfers-at-night" (deny) at ` + path + `:32: does not match: attribute: the subject has no attribute "shift"`,
		`rule "tellers-read" (allow) at ` + path + `:16: does not match: role: the subject does not have role "teller"`,
		`decision: deny: no rule allows`,
	}
	if s := steps(got); s != "\t"+strings.Join(want, "\n\t")+"\n" {
		t.Errorf("Explain =\n%s\nwant\n\t%s", s, strings.Join(want, "\n\t"))
	}
}
