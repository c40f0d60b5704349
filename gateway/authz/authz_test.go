package authz

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/conf"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// Workload ids, operations and an authentication context of the tests.
const (
	td         = "spiffe://demo.gatehouse.internal/"
	tellerApp  = td + "retail/teller-app"
	branchApp  = td + "retail/branch/0042/desk"
	retailApp  = td + "retail/kiosk"
	auditorApp = td + "audit/auditor"
	strangerID = td + "other/stranger"

	nsAccounts  = "{urn:gatehouse:demo:accounts}"
	getBalance  = nsAccounts + "GetBalance"
	transfer    = nsAccounts + "Transfer"
	openAccount = nsAccounts + "OpenAccount"
	create      = nsAccounts + "CreateAccount"
	placeOrder  = "{urn:gatehouse:demo:orders}PlaceOrder"
	ppt         = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
)

// testPolicy is the fixed policy of the table tests. Its rules, in file
// order:
//
//	tellers-read      allow accounts GetBalance: caller teller-app, role teller,
//	                  branch one of 0042 0043, authenticated by PPT or mtls, direct only
//	night             deny accounts *: shift equals night (after an allow rule
//	                  that it must override)
//	branch-transfer   allow accounts Transfer: caller under retail/branch/,
//	                  subject alice or bob, roles teller AND senior, costCentre prefix 00
//	open-account-hop  allow accounts *: role teller, only as a hop of open-account
//	orders-hop        allow orders PlaceOrder: subject alice, only as a hop of open-account
//	orders-direct     allow orders *: caller teller-app (no flow edge teller-app → orders)
//	blocked           deny accounts Transfer: subject mallory
//	any-teller        allow accounts GetBalance: role teller, branch equals 0042 (after tellers-read)
//	create-hop        allow accounts CreateAccount: caller teller-app, role teller, last actor
//	                  composite:open-account or composite:partner-onboarding
//	no-batch          deny accounts *: last actor user:batch
func testPolicy() *conf.Policy {
	return &conf.Policy{
		Consumers: []conf.Consumer{
			{Name: "teller-app", Workload: tellerApp},
			{Name: "retail", Prefix: td + "retail/"},
			{Name: "branch-apps", Prefix: td + "retail/branch/"},
			{Name: "auditor", Workload: auditorApp},
		},
		Composites: []conf.Composite{{Name: "open-account"}, {Name: "close-account"}},
		Flows: []conf.Flow{
			{From: "teller-app", To: "accounts"},
			{From: "branch-apps", To: "accounts"},
			{From: "retail", To: "open-account"},
			{From: "open-account", To: "accounts"},
			{From: "open-account", To: "orders"},
			{From: "close-account", To: "accounts"},
			{From: "auditor", To: "ledger"},
		},
		Rules: []conf.Rule{
			{
				ID: "tellers-read", Effect: conf.EffectAllow, Service: "accounts", Operation: getBalance,
				Callers:         []conf.CallerCondition{{Workload: tellerApp}},
				Roles:           []conf.RoleCondition{{Name: "teller"}},
				Attributes:      []conf.AttributeCondition{{Name: "branch", Match: conf.MatchOneOf, Values: []string{"0042", "0043"}}},
				Authentications: []conf.AuthnCondition{{Method: ppt}, {Method: conf.AuthnMTLS}},
				Position:        &conf.PositionCondition{Direct: true},
			},
			{
				ID: "night", Effect: conf.EffectDeny, Service: "accounts", Operation: conf.OperationAny,
				Attributes: []conf.AttributeCondition{{Name: "shift", Match: conf.MatchEquals, Values: []string{"night"}}},
			},
			{
				ID: "branch-transfer", Effect: conf.EffectAllow, Service: "accounts", Operation: transfer,
				Callers:    []conf.CallerCondition{{Prefix: td + "retail/branch/"}},
				Subjects:   []conf.SubjectCondition{{Name: "alice@example.com"}, {Name: "bob@example.com"}},
				Roles:      []conf.RoleCondition{{Name: "teller"}, {Name: "senior"}},
				Attributes: []conf.AttributeCondition{{Name: "costCentre", Match: conf.MatchPrefix, Values: []string{"00"}}},
			},
			{
				ID: "open-account-hop", Effect: conf.EffectAllow, Service: "accounts", Operation: conf.OperationAny,
				Roles:    []conf.RoleCondition{{Name: "teller"}},
				Position: &conf.PositionCondition{Composite: "open-account"},
			},
			{
				ID: "orders-hop", Effect: conf.EffectAllow, Service: "orders", Operation: placeOrder,
				Subjects: []conf.SubjectCondition{{Name: "alice@example.com"}},
				Position: &conf.PositionCondition{Composite: "open-account"},
			},
			{
				ID: "orders-direct", Effect: conf.EffectAllow, Service: "orders", Operation: conf.OperationAny,
				Callers: []conf.CallerCondition{{Workload: tellerApp}},
			},
			{
				ID: "blocked", Effect: conf.EffectDeny, Service: "accounts", Operation: transfer,
				Subjects: []conf.SubjectCondition{{Name: "mallory@example.com"}},
			},
			{
				ID: "any-teller", Effect: conf.EffectAllow, Service: "accounts", Operation: getBalance,
				Roles:      []conf.RoleCondition{{Name: "teller"}},
				Attributes: []conf.AttributeCondition{{Name: "branch", Match: conf.MatchEquals, Values: []string{"0042"}}},
			},
			{
				ID: "create-hop", Effect: conf.EffectAllow, Service: "accounts", Operation: create,
				Callers:     []conf.CallerCondition{{Workload: tellerApp}},
				Roles:       []conf.RoleCondition{{Name: "teller"}},
				Delegations: []conf.DelegationCondition{{Actor: "composite:open-account"}, {Actor: "composite:partner-onboarding"}},
			},
			{
				ID: "no-batch", Effect: conf.EffectDeny, Service: "accounts", Operation: conf.OperationAny,
				Delegations: []conf.DelegationCondition{{Actor: "user:batch"}},
			},
		},
	}
}

func mustCompile(t testing.TB, p *conf.Policy) *Policy {
	t.Helper()
	c, err := Compile(p)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return c
}

// tellerRead is a request tellers-read allows; the cases change one thing.
func tellerRead() Request {
	return Request{
		Caller:      tellerApp,
		Consumer:    "teller-app",
		Subject:     "alice@example.com",
		Roles:       []string{"employee", "teller"},
		Attributes:  map[string][]string{"branch": {"0043"}},
		AuthnMethod: ppt,
		Service:     "accounts",
		Operation:   getBalance,
	}
}

// branchTransfer is a request branch-transfer allows.
func branchTransfer() Request {
	return Request{
		Caller:      branchApp,
		Consumer:    "branch-apps",
		Subject:     "bob@example.com",
		Roles:       []string{"teller", "senior"},
		Attributes:  map[string][]string{"costCentre": {"0017"}},
		AuthnMethod: conf.AuthnX509,
		Service:     "accounts",
		Operation:   transfer,
	}
}

// hop is a hop of composite to service for alice, a teller.
func hop(composite, service, op string) Request {
	return Request{
		Caller:     retailApp,
		Consumer:   "retail",
		Subject:    "alice@example.com",
		Roles:      []string{"teller"},
		Service:    service,
		Operation:  op,
		Composite:  composite,
		Attributes: map[string][]string{},
	}
}

// createHop is a CreateAccount call by teller-app for alice, a teller,
// whose assertion's delegation chain ends with composite:open-account:
// create-hop allows it.
func createHop() Request {
	return Request{
		Caller:      tellerApp,
		Consumer:    "teller-app",
		Subject:     "alice@example.com",
		Roles:       []string{"teller"},
		AuthnMethod: ppt,
		Service:     "accounts",
		Operation:   create,
		Actors:      []string{"composite:open-account"},
	}
}

func with(r Request, change func(*Request)) Request {
	change(&r)
	return r
}

type decideCase struct {
	name   string
	req    Request
	want   Decision
	reason string // when not empty, Reason must contain it instead of being compared whole
}

func allowedBy(id string) Decision {
	return Decision{Allow: true, Rule: id, Reason: `allowed by rule "` + id + `"`}
}
func deniedBy(id string) Decision { return Decision{Rule: id, Reason: `denied by rule "` + id + `"`} }

var noRule = Decision{Reason: "no rule allows"}

func decideCases() []decideCase {
	return []decideCase{
		// Default deny.
		{"allowed", tellerRead(), allowedBy("tellers-read"), ""},
		{"unknown operation: default deny", with(tellerRead(), func(r *Request) { r.Operation = nsAccounts + "Close" }), noRule, ""},
		{"service without rules: default deny", Request{Caller: auditorApp, Consumer: "auditor", Subject: "a", Roles: []string{"teller"}, Service: "ledger", Operation: getBalance}, noRule, ""},
		{"no operation: only * rules apply", with(branchTransfer(), func(r *Request) { r.Operation = "" }), noRule, ""},

		// Deny overrides: night comes after tellers-read in the file.
		{"deny overrides an earlier allow", with(tellerRead(), func(r *Request) { r.Attributes = map[string][]string{"branch": {"0042"}, "shift": {"night"}} }), deniedBy("night"), ""},
		{"deny for the operation", with(branchTransfer(), func(r *Request) { r.Subject = "mallory@example.com" }), deniedBy("blocked"), ""},
		{"deny for the operation: another operation", with(tellerRead(), func(r *Request) { r.Subject = "mallory@example.com" }), allowedBy("tellers-read"), ""},
		{"first matching allow in file order", with(tellerRead(), func(r *Request) { r.Attributes["branch"] = []string{"0042"} }), allowedBy("tellers-read"), ""},
		{"second allow when the first fails", with(tellerRead(), func(r *Request) { r.Attributes["branch"] = []string{"0042"}; r.AuthnMethod = conf.AuthnX509 }), allowedBy("any-teller"), ""},

		// caller, exact and prefix.
		{"caller: another workload", with(tellerRead(), func(r *Request) { r.Caller, r.Consumer, r.Roles = branchApp, "branch-apps", []string{"clerk"} }), noRule, ""},
		{"caller prefix", branchTransfer(), allowedBy("branch-transfer"), ""},
		{"caller prefix: a workload outside it", with(branchTransfer(), func(r *Request) { r.Caller, r.Consumer = tellerApp, "teller-app" }), noRule, ""},
		{"consumer prefix: a look-alike outside it", with(branchTransfer(), func(r *Request) { r.Caller, r.Consumer = td+"retail/branchX/1", "retail" }), Decision{}, "no flow edge retail → accounts"},
		{"consumer prefix: the prefix's parent", with(branchTransfer(), func(r *Request) { r.Caller, r.Consumer = td+"retail/branch", "retail" }), Decision{}, "no flow edge retail → accounts"},

		// subject.
		{"subject: the other one listed", with(branchTransfer(), func(r *Request) { r.Subject = "alice@example.com" }), allowedBy("branch-transfer"), ""},
		{"subject: not listed", with(branchTransfer(), func(r *Request) { r.Subject = "carol@example.com" }), noRule, ""},
		{"subject: none", with(branchTransfer(), func(r *Request) { r.Subject = "" }), noRule, ""},
		{"subject: case differs", with(branchTransfer(), func(r *Request) { r.Subject = "Bob@example.com" }), noRule, ""},

		// roles: all required.
		{"roles: one of two", with(branchTransfer(), func(r *Request) { r.Roles = []string{"teller"} }), noRule, ""},
		{"roles: the other one of two", with(branchTransfer(), func(r *Request) { r.Roles = []string{"senior"} }), noRule, ""},
		{"roles: none", with(branchTransfer(), func(r *Request) { r.Roles = nil }), noRule, ""},
		{"roles: more than required", with(branchTransfer(), func(r *Request) { r.Roles = []string{"auditor", "senior", "teller"} }), allowedBy("branch-transfer"), ""},

		// attributes: equals (night), oneOf (branch), prefix (costCentre).
		{"equals: another value", with(tellerRead(), func(r *Request) { r.Attributes["shift"] = []string{"day"} }), allowedBy("tellers-read"), ""},
		{"equals: one of several values", with(tellerRead(), func(r *Request) { r.Attributes["shift"] = []string{"day", "night"} }), deniedBy("night"), ""},
		{"oneOf: not listed", with(tellerRead(), func(r *Request) { r.Attributes = map[string][]string{"branch": {"0044"}}; r.Roles = []string{"clerk"} }), noRule, ""},
		{"oneOf: multi-valued, one listed", with(tellerRead(), func(r *Request) { r.Attributes = map[string][]string{"branch": {"0044", "0042"}} }), allowedBy("tellers-read"), ""},
		{"oneOf: attribute missing", with(tellerRead(), func(r *Request) { r.Attributes = nil }), noRule, ""},
		{"oneOf: empty value list", with(tellerRead(), func(r *Request) { r.Attributes["branch"] = nil }), noRule, ""},
		{"prefix: starts otherwise", with(branchTransfer(), func(r *Request) { r.Attributes["costCentre"] = []string{"1700"} }), noRule, ""},
		{"prefix: exact prefix", with(branchTransfer(), func(r *Request) { r.Attributes["costCentre"] = []string{"00"} }), allowedBy("branch-transfer"), ""},
		{"prefix: multi-valued", with(branchTransfer(), func(r *Request) { r.Attributes["costCentre"] = []string{"9", "0099"} }), allowedBy("branch-transfer"), ""},

		// authentication: any listed.
		{"authentication: mtls", with(tellerRead(), func(r *Request) { r.AuthnMethod = conf.AuthnMTLS; r.Roles = []string{"teller"} }), allowedBy("tellers-read"), ""},
		{"authentication: not listed", with(tellerRead(), func(r *Request) { r.AuthnMethod = conf.AuthnUsernameToken }), noRule, ""},
		{"authentication: none", with(tellerRead(), func(r *Request) { r.AuthnMethod = "" }), noRule, ""},

		// position: direct only, and hop of one composite only.
		{"hop: composite rule", hop("open-account", "accounts", openAccount), allowedBy("open-account-hop"), ""},
		{"hop: the composite's other service", hop("open-account", "orders", placeOrder), allowedBy("orders-hop"), ""},
		{"hop: not the subject", with(hop("open-account", "orders", placeOrder), func(r *Request) { r.Subject = "bob@example.com" }), noRule, ""},
		{"hop: another composite", hop("close-account", "accounts", openAccount), noRule, ""},
		{"hop: direct-only rule refuses a hop", with(tellerRead(), func(r *Request) { r.Composite = "close-account" }), noRule, ""},
		{"hop: direct-only rule allows the direct call", with(tellerRead(), func(r *Request) { r.Composite = "" }), allowedBy("tellers-read"), ""},
		{"direct: composite rule refuses a direct call", with(hop("", "accounts", openAccount), func(r *Request) { r.Caller, r.Consumer = tellerApp, "teller-app" }), noRule, ""},
		{"hop: deny still applies", with(hop("open-account", "accounts", openAccount), func(r *Request) { r.Attributes["shift"] = []string{"night"} }), deniedBy("night"), ""},

		// delegation: the chain's last actor is one of those listed.
		{"delegation: last actor listed", createHop(), allowedBy("create-hop"), ""},
		{"delegation: the other actor listed", with(createHop(), func(r *Request) { r.Actors = []string{"user:teller", "composite:partner-onboarding"} }), allowedBy("create-hop"), ""},
		{"delegation: last actor differs", with(createHop(), func(r *Request) { r.Actors = []string{"composite:close-account"} }), noRule, ""},
		{"delegation: listed actor only earlier in the chain", with(createHop(), func(r *Request) { r.Actors = []string{"composite:open-account", "user:teller"} }), noRule, ""},
		{"delegation: no chain", with(createHop(), func(r *Request) { r.Actors = nil }), noRule, ""},
		{"delegation: empty chain", with(createHop(), func(r *Request) { r.Actors = []string{} }), noRule, ""},
		{"delegation: exact match only", with(createHop(), func(r *Request) { r.Actors = []string{"composite:open-account-2"} }), noRule, ""},
		{"delegation: other conditions still apply", with(createHop(), func(r *Request) { r.Roles = []string{"clerk"} }), noRule, ""},
		{"delegation: deny rule", with(tellerRead(), func(r *Request) { r.Actors = []string{"user:batch"} }), deniedBy("no-batch"), ""},
		{"delegation: deny rule overrides an allow", with(createHop(), func(r *Request) { r.Actors = []string{"composite:open-account", "user:batch"} }), deniedBy("no-batch"), ""},
		{"delegation: deny rule, actor only earlier", with(createHop(), func(r *Request) { r.Actors = []string{"user:batch", "composite:open-account"} }), allowedBy("create-hop"), ""},
		{"delegation: deny rule, no chain", tellerRead(), allowedBy("tellers-read"), ""},

		// Flow first.
		{"no flow edge: a rule allows", with(tellerRead(), func(r *Request) { r.Service, r.Operation = "orders", placeOrder }), Decision{Reason: "no flow edge teller-app → orders"}, ""},
		{"no flow edge: composite", hop("close-account", "orders", placeOrder), Decision{Reason: "no flow edge close-account → orders"}, ""},
		{"no flow edge: consumer to a composite's service", with(hop("", "orders", placeOrder), func(r *Request) {}), Decision{Reason: "no flow edge retail → orders"}, ""},
		{"no consumer", Request{Caller: strangerID, Subject: "alice@example.com", Roles: []string{"teller"}, Service: "accounts", Operation: getBalance},
			Decision{Reason: `no flow edge: caller "` + strangerID + `" is not a consumer`}, ""},
		{"anonymous", Request{Subject: "alice@example.com", Roles: []string{"teller"}, Service: "accounts", Operation: getBalance},
			Decision{Reason: `no flow edge: caller "" is not a consumer`}, ""},
		{"consumer not the caller's", with(tellerRead(), func(r *Request) { r.Consumer = "auditor" }),
			Decision{Reason: `request names consumer "auditor", but the caller's consumer is "teller-app"`}, ""},
		{"consumer claimed by an anonymous caller", with(tellerRead(), func(r *Request) { r.Caller = "" }),
			Decision{Reason: `request names consumer "teller-app", but the caller's consumer is ""`}, ""},
		{"hop of no composite", hop("teller-app", "accounts", openAccount), Decision{Reason: `no flow edge: "teller-app" is not a composite`}, ""},
	}
}

func checkDecisions(t *testing.T, p *Policy, cases []decideCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := p.Decide(&tc.req)
			switch {
			case tc.reason != "":
				if got.Allow || got.Rule != "" || !strings.Contains(got.Reason, tc.reason) {
					t.Errorf("Decide = %+v, want a refusal because %q", got, tc.reason)
				}
			case got != tc.want:
				t.Errorf("Decide = %+v\nwant     %+v", got, tc.want)
			}
			// Explain always ends with Decide's verdict.
			steps := p.Explain(&tc.req)
			last := steps[len(steps)-1]
			if last.Kind != StepDecision || last.Matched != got.Allow || last.Rule != got.Rule || last.Reason != got.Reason {
				t.Errorf("Explain ends with %+v, Decide = %+v", last, got)
			}
		})
	}
}

func TestDecide(t *testing.T) {
	checkDecisions(t, mustCompile(t, testPolicy()), decideCases())
}

// A matching deny rule refuses, wherever it stands: if deny did not
// override, tellers-read (earlier in the file) would allow, and so would
// branch-transfer (before blocked).
func TestDenyOverrides(t *testing.T) {
	p := mustCompile(t, testPolicy())
	night := with(tellerRead(), func(r *Request) { r.Attributes["shift"] = []string{"night"} })
	if d := p.Decide(&night); d.Allow || d.Rule != "night" {
		t.Errorf("night shift: Decide = %+v, want denied by rule night", d)
	}
	mallory := with(branchTransfer(), func(r *Request) { r.Subject = "mallory@example.com" })
	// branch-transfer does not list mallory; add a rule that does, before
	// the deny rule in the file.
	cp := testPolicy()
	cp.Rules = append([]conf.Rule{{
		ID: "mallory-transfer", Effect: conf.EffectAllow, Service: "accounts", Operation: transfer,
		Subjects: []conf.SubjectCondition{{Name: "mallory@example.com"}},
	}}, cp.Rules...)
	if d := mustCompile(t, cp).Decide(&mallory); d.Allow || d.Rule != "blocked" {
		t.Errorf("mallory: Decide = %+v, want denied by rule blocked", d)
	}
}

// The flow check refuses even when a rule allows: orders-direct matches
// teller-app, but there is no flow teller-app → orders; and a composite
// without a flow to the service is refused although open-account-hop's
// conditions would otherwise be checked.
func TestFlowCheckComesFirst(t *testing.T) {
	p := mustCompile(t, testPolicy())
	r := with(tellerRead(), func(r *Request) { r.Service, r.Operation = "orders", placeOrder })
	if d := p.Decide(&r); d.Allow || d.Rule != "" || d.Reason != "no flow edge teller-app → orders" {
		t.Errorf("Decide = %+v, want refused by the flow check", d)
	}
	// The same request with the edge is allowed by orders-direct: the
	// refusal above was the flow check's.
	cp := testPolicy()
	cp.Flows = append(cp.Flows, conf.Flow{From: "teller-app", To: "orders"})
	if d := mustCompile(t, cp).Decide(&r); !d.Allow || d.Rule != "orders-direct" {
		t.Errorf("with the edge: Decide = %+v, want allowed by orders-direct", d)
	}
	// A stranger matched by a caller-less rule has no flow edge either.
	cp = testPolicy()
	cp.Rules = append(cp.Rules, conf.Rule{ID: "any-alice", Effect: conf.EffectAllow, Service: "accounts", Operation: conf.OperationAny,
		Subjects: []conf.SubjectCondition{{Name: "alice@example.com"}}})
	stranger := Request{Caller: strangerID, Subject: "alice@example.com", Service: "accounts", Operation: getBalance}
	if d := mustCompile(t, cp).Decide(&stranger); d.Allow {
		t.Errorf("stranger: Decide = %+v, want refused (no consumer, no flow edge)", d)
	}
}

func TestConsumer(t *testing.T) {
	p := mustCompile(t, testPolicy())
	for _, tc := range []struct{ workload, want string }{
		{tellerApp, "teller-app"},                   // exact, although retail's prefix matches too
		{branchApp, "branch-apps"},                  // the longest prefix
		{td + "retail/branch/", "branch-apps"},      // the prefix itself
		{td + "retail/kiosk", "retail"},             // the shorter prefix
		{td + "retail/teller-app/2", "retail"},      // exact ids are not prefixes
		{td + "retail", ""},                         // shorter than every prefix
		{auditorApp, "auditor"},                     // exact
		{auditorApp + "2", ""},                      // exact means exact
		{strings.ToUpper(tellerApp), ""},            // case-sensitive
		{"", ""},                                    // anonymous
		{"spiffe://other.example/retail/kiosk", ""}, // another trust domain
	} {
		if got := p.Consumer(tc.workload); got != tc.want {
			t.Errorf("Consumer(%q) = %q, want %q", tc.workload, got, tc.want)
		}
	}
}

// Without a policy nothing is allowed.
func TestNoPolicy(t *testing.T) {
	empty := mustCompile(t, nil)
	var none *Policy
	r := tellerRead()
	r.Consumer = ""
	for name, p := range map[string]*Policy{"Compile(nil)": empty, "nil": none} {
		if d := p.Decide(&r); d.Allow {
			t.Errorf("%s: Decide = %+v, want a refusal", name, d)
		}
		if steps := p.Explain(&r); steps[len(steps)-1].Matched {
			t.Errorf("%s: Explain allows", name)
		}
		if p.Consumer(tellerApp) != "" {
			t.Errorf("%s: Consumer resolves", name)
		}
		if got := p.DOT(); got != "digraph policy {\n\trankdir=LR;\n}\n" {
			t.Errorf("%s: DOT = %q", name, got)
		}
	}
	if d := mustCompile(t, testPolicy()).Decide(nil); d.Allow {
		t.Errorf("Decide(nil) = %+v", d)
	}
}

// Compile copies what it needs: changing the conf.Policy afterwards
// changes no decision.
func TestCompileCopies(t *testing.T) {
	cp := testPolicy()
	p := mustCompile(t, cp)
	cp.Rules[0].Callers[0].Workload = strangerID
	cp.Rules[0].Attributes[0].Values[0] = "9999"
	cp.Rules[0].Roles = nil
	cp.Rules[1].Effect = conf.EffectAllow
	cp.Consumers[0].Workload = strangerID
	cp.Flows[0].To = "orders"
	r := tellerRead()
	r.Attributes["branch"] = []string{"0042"}
	if d := p.Decide(&r); d != allowedBy("tellers-read") {
		t.Errorf("Decide = %+v after changing the conf.Policy", d)
	}
}

func TestCompileRefuses(t *testing.T) {
	base := func(change func(p *conf.Policy)) *conf.Policy {
		p := testPolicy()
		change(p)
		return p
	}
	for _, tc := range []struct {
		name    string
		policy  *conf.Policy
		wantErr string
	}{
		{"allow without identity condition", base(func(p *conf.Policy) {
			p.Rules = append(p.Rules, conf.Rule{ID: "all", Effect: conf.EffectAllow, Service: "accounts", Operation: "*",
				Authentications: []conf.AuthnCondition{{Method: "mtls"}}, Position: &conf.PositionCondition{Direct: true}})
		}), `rule "all": an allow rule needs at least one caller, subject, role or attribute condition`},
		{"empty caller prefix", base(func(p *conf.Policy) { p.Rules[0].Callers = []conf.CallerCondition{{}} }),
			`rule "tellers-read": a caller condition needs exactly one of workload and prefix, not empty`},
		{"caller with both", base(func(p *conf.Policy) { p.Rules[0].Callers[0].Prefix = td }),
			`rule "tellers-read": a caller condition needs exactly one of workload and prefix, not empty`},
		{"empty consumer", base(func(p *conf.Policy) { p.Consumers[0].Workload = "" }),
			`consumer "teller-app": exactly one of workload and prefix must be set, and not empty`},
		{"duplicate prefix", base(func(p *conf.Policy) {
			p.Consumers = append(p.Consumers, conf.Consumer{Name: "x", Prefix: td + "retail/"})
		}),
			`consumer "x": prefix "spiffe://demo.gatehouse.internal/retail/" is already consumer "retail"'s`},
		{"duplicate workload", base(func(p *conf.Policy) { p.Consumers = append(p.Consumers, conf.Consumer{Name: "x", Workload: tellerApp}) }),
			`consumer "x": workload "` + tellerApp + `" is already consumer "teller-app"'s`},
		{"consumer and composite share a name", base(func(p *conf.Policy) { p.Composites = append(p.Composites, conf.Composite{Name: "retail"}) }),
			`composite "retail": the name is already a consumer's`},
		{"duplicate rule id", base(func(p *conf.Policy) { p.Rules = append(p.Rules, p.Rules[1]) }), `rule "night": duplicate rule id`},
		{"unknown effect", base(func(p *conf.Policy) { p.Rules[1].Effect = "permit" }), `rule "night": effect "permit" is not allow or deny`},
		{"bad operation", base(func(p *conf.Policy) { p.Rules[1].Operation = "GetBalance" }), `rule "night": operation "GetBalance" is not * or {namespace}LocalName`},
		{"rule for a composite", base(func(p *conf.Policy) { p.Rules[1].Service = "open-account" }), `rule "night": service "open-account" is a composite`},
		{"empty subject", base(func(p *conf.Policy) { p.Rules[2].Subjects[0].Name = "" }), `rule "branch-transfer": a subject condition has no name`},
		{"empty role", base(func(p *conf.Policy) { p.Rules[2].Roles[0].Name = "" }), `rule "branch-transfer": a role condition has no name`},
		{"equals without a value", base(func(p *conf.Policy) { p.Rules[1].Attributes[0].Values = nil }), `rule "night": attribute "shift": equals needs exactly one value`},
		{"empty oneOf", base(func(p *conf.Policy) { p.Rules[0].Attributes[0].Values = []string{} }), `rule "tellers-read": attribute "branch": oneOf needs at least one value`},
		{"no match", base(func(p *conf.Policy) { p.Rules[0].Attributes[0].Match = "" }), `rule "tellers-read": attribute "branch": match "" is not equals, oneOf or prefix`},
		{"empty authentication", base(func(p *conf.Policy) { p.Rules[0].Authentications[0].Method = "" }), `rule "tellers-read": method "" is not x509`},
		{"empty actor", base(func(p *conf.Policy) { p.Rules[8].Delegations[1].Actor = "" }), `rule "create-hop": a delegation condition has no actor`},
		{"allow with delegation only", base(func(p *conf.Policy) {
			p.Rules = append(p.Rules, conf.Rule{ID: "any-hop", Effect: conf.EffectAllow, Service: "accounts", Operation: "*",
				Delegations: []conf.DelegationCondition{{Actor: "composite:open-account"}}})
		}), `rule "any-hop": an allow rule needs at least one caller, subject, role or attribute condition`},
		{"position with both", base(func(p *conf.Policy) { p.Rules[0].Position.Composite = "open-account" }), `rule "tellers-read": a position condition needs exactly one of direct and composite`},
		{"position with neither", base(func(p *conf.Policy) { p.Rules[0].Position.Direct = false }), `rule "tellers-read": a position condition needs exactly one of direct and composite`},
		{"position of an unknown composite", base(func(p *conf.Policy) { p.Rules[3].Position.Composite = "teller-app" }), `rule "open-account-hop": position: unknown composite "teller-app"`},
		{"flow from a service", base(func(p *conf.Policy) { p.Flows = append(p.Flows, conf.Flow{From: "accounts", To: "orders"}) }), `flow accounts → orders: from must be a consumer or a composite`},
		{"flow to a consumer", base(func(p *conf.Policy) { p.Flows = append(p.Flows, conf.Flow{From: "open-account", To: "retail"}) }), `flow open-account → retail: to must be a service or a composite`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Compile(tc.policy)
			if err == nil || p != nil {
				t.Fatalf("Compile = %v, %v; want an error", p, err)
			}
			if !strings.Contains(err.Error(), "authz: "+tc.wantErr) {
				t.Errorf("Compile error:\n%v\nwant it to contain %q", err, tc.wantErr)
			}
		})
	}
}

// Explain lists the flow check, every rule for the service and operation
// in evaluation order (deny rules first) with the first failing condition,
// and the decision.
func TestExplain(t *testing.T) {
	p := mustCompile(t, testPolicy())
	r := with(tellerRead(), func(r *Request) {
		r.AuthnMethod = conf.AuthnX509
		r.Attributes = map[string][]string{"branch": {"0042"}, "shift": {"day"}}
	})
	want := []Step{
		{Kind: StepFlow, Matched: true, Reason: "flow edge teller-app → accounts"},
		{Kind: StepRule, Rule: "night", Effect: conf.EffectDeny, Reason: `attribute: no value of "shift" ("day") equals "night"`},
		{Kind: StepRule, Rule: "no-batch", Effect: conf.EffectDeny, Reason: `delegation: the call was made by no actor; the rule wants "user:batch"`},
		{Kind: StepRule, Rule: "tellers-read", Effect: conf.EffectAllow, Reason: `authentication: "x509" is not "` + ppt + `" or "mtls"`},
		{Kind: StepRule, Rule: "open-account-hop", Effect: conf.EffectAllow, Reason: `position: a direct call, but the rule applies only to hops of composite "open-account"`},
		{Kind: StepRule, Rule: "any-teller", Effect: conf.EffectAllow, Matched: true, Reason: "every condition holds"},
		{Kind: StepDecision, Rule: "any-teller", Effect: conf.EffectAllow, Matched: true, Reason: `allowed by rule "any-teller"`},
	}
	if got := p.Explain(&r); !reflect.DeepEqual(got, want) {
		t.Errorf("Explain =\n%s\nwant\n%s", steps(got), steps(want))
	}

	// Each kind of condition, failing first.
	for _, tc := range []struct {
		name string
		req  Request
		rule string
		want string
	}{
		{"caller", with(branchTransfer(), func(r *Request) { r.Caller, r.Consumer = td+"retail/x", "retail" }), "branch-transfer",
			`caller: "spiffe://demo.gatehouse.internal/retail/x" is not a workload under "spiffe://demo.gatehouse.internal/retail/branch/"`},
		{"subject", with(branchTransfer(), func(r *Request) { r.Subject = "carol" }), "branch-transfer",
			`subject: "carol" is not "alice@example.com" or "bob@example.com"`},
		{"no subject", with(branchTransfer(), func(r *Request) { r.Subject = "" }), "branch-transfer",
			`subject: there is none; the rule wants "alice@example.com" or "bob@example.com"`},
		{"role", with(branchTransfer(), func(r *Request) { r.Roles = []string{"teller"} }), "branch-transfer",
			`role: the subject does not have role "senior"`},
		{"attribute missing", with(branchTransfer(), func(r *Request) { r.Attributes = nil }), "branch-transfer",
			`attribute: the subject has no attribute "costCentre"`},
		{"prefix", with(branchTransfer(), func(r *Request) { r.Attributes["costCentre"] = []string{"17"} }), "branch-transfer",
			`attribute: no value of "costCentre" ("17") starts with "00"`},
		{"oneOf", with(tellerRead(), func(r *Request) { r.Attributes["branch"] = []string{"0044", "0045"} }), "tellers-read",
			`attribute: no value of "branch" ("0044", "0045") is one of "0042", "0043"`},
		{"no authentication", with(tellerRead(), func(r *Request) { r.AuthnMethod = "" }), "tellers-read",
			`authentication: the request names no method; the rule wants "` + ppt + `" or "mtls"`},
		{"anonymous caller", with(tellerRead(), func(r *Request) { r.Caller, r.Consumer = "", "" }), "tellers-read",
			`caller: the caller is anonymous; the rule wants "` + tellerApp + `"`},
		{"position direct", with(tellerRead(), func(r *Request) { r.Composite = "close-account" }), "tellers-read",
			`position: a hop of composite "close-account", but the rule applies to direct calls only`},
		{"position composite", hop("close-account", "accounts", openAccount), "open-account-hop",
			`position: a hop of composite "close-account", but the rule applies only to hops of composite "open-account"`},
		{"no delegation", with(createHop(), func(r *Request) { r.Actors = nil }), "create-hop",
			`delegation: the call was made by no actor; the rule wants "composite:open-account" or "composite:partner-onboarding"`},
		{"delegation, actor only earlier", with(createHop(), func(r *Request) { r.Actors = []string{"composite:open-account", "user:teller"} }), "create-hop",
			`delegation: the last actor is "user:teller", not "composite:open-account" or "composite:partner-onboarding"`},
		{"deny rule's delegation", createHop(), "no-batch",
			`delegation: the last actor is "composite:open-account", not "user:batch"`},
		{"first failing condition only", Request{Caller: strangerID, Service: "accounts", Operation: transfer}, "branch-transfer",
			`caller: "spiffe://demo.gatehouse.internal/other/stranger" is not a workload under "spiffe://demo.gatehouse.internal/retail/branch/"`},
	} {
		var found bool
		for _, s := range p.Explain(&tc.req) {
			if s.Kind == StepRule && s.Rule == tc.rule {
				found = true
				if s.Matched || s.Reason != tc.want {
					t.Errorf("%s: step %+v\nwant reason %q", tc.name, s, tc.want)
				}
			}
		}
		if !found {
			t.Errorf("%s: Explain does not list rule %s", tc.name, tc.rule)
		}
	}

	// A refusal by the flow check still lists the rules that would apply.
	r = with(tellerRead(), func(r *Request) { r.Service, r.Operation = "orders", placeOrder })
	got := p.Explain(&r)
	if got[0].Matched || got[0].Reason != "no flow edge teller-app → orders" {
		t.Errorf("flow step = %+v", got[0])
	}
	var ids []string
	for _, s := range got[1 : len(got)-1] {
		ids = append(ids, s.Rule)
	}
	if want := []string{"orders-hop", "orders-direct"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("rules listed: %q, want %q", ids, want)
	}
	if !got[2].Matched {
		t.Errorf("orders-direct would match: %+v", got[2])
	}
	if d := got[len(got)-1]; d.Matched || d.Reason != "no flow edge teller-app → orders" {
		t.Errorf("decision step = %+v", d)
	}
}

func steps(ss []Step) string {
	var b strings.Builder
	for _, s := range ss {
		b.WriteString("\t" + s.String() + "\n")
	}
	return b.String()
}

func TestStepString(t *testing.T) {
	for _, tc := range []struct {
		step Step
		want string
	}{
		{Step{Kind: StepFlow, Matched: true, Reason: "flow edge a → b"}, "flow: passed: flow edge a → b"},
		{Step{Kind: StepFlow, Reason: "no flow edge a → b"}, "flow: refused: no flow edge a → b"},
		{Step{Kind: StepRule, Rule: "r", Effect: conf.EffectDeny, Where: "g.xml:7", Reason: "x"}, `rule "r" (deny) at g.xml:7: does not match: x`},
		{Step{Kind: StepRule, Rule: "r", Effect: conf.EffectAllow, Matched: true, Reason: "every condition holds"}, `rule "r" (allow): matches: every condition holds`},
		{Step{Kind: StepDecision, Rule: "r", Effect: conf.EffectAllow, Matched: true, Reason: `allowed by rule "r"`}, `decision: allow: allowed by rule "r"`},
	} {
		if got := tc.step.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}

// TestDOT compares DOT's output with testdata/policy.dot.golden; run with
// -update to rewrite it, then read it.
func TestDOT(t *testing.T) {
	got := mustCompile(t, testPolicy()).DOT()
	golden := filepath.Join("testdata", "policy.dot.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("DOT differs from %s\n--- got:\n%s--- want:\n%s", golden, got, want)
	}
	// Every node with its shape, every edge.
	for _, line := range []string{
		`"teller-app" [shape=ellipse, label="teller-app\n` + tellerApp + `"];`,
		`"retail" [shape=ellipse, label="retail\n` + td + `retail/*"];`,
		`"branch-apps" [shape=ellipse, label="branch-apps\n` + td + `retail/branch/*"];`,
		`"auditor" [shape=ellipse, label="auditor\n` + auditorApp + `"];`,
		`"open-account" [shape=hexagon];`,
		`"close-account" [shape=hexagon];`,
		`"accounts" [shape=box];`,
		`"orders" [shape=box];`,
		`"ledger" [shape=box];`,
		`"teller-app" -> "accounts";`,
		`"branch-apps" -> "accounts";`,
		`"retail" -> "open-account";`,
		`"open-account" -> "accounts";`,
		`"open-account" -> "orders";`,
		`"close-account" -> "accounts";`,
		`"auditor" -> "ledger";`,
	} {
		if !strings.Contains(got, "\t"+line+"\n") {
			t.Errorf("DOT lacks %s", line)
		}
	}
	if n := strings.Count(got, "->"); n != 7 {
		t.Errorf("DOT has %d edges, want 7", n)
	}
}

func TestDOTQuotes(t *testing.T) {
	if got, want := dotID(`a"b\c`+"\nd"), `"a\"b\\c\nd"`; got != want {
		t.Errorf("dotID = %s, want %s", got, want)
	}
}

// Decide does not allocate when it allows, when a rule denies, or by
// default.
func TestDecideDoesNotAllocate(t *testing.T) {
	p := mustCompile(t, testPolicy())
	for name, r := range map[string]Request{
		"allow":                          tellerRead(),
		"deny by rule":                   with(tellerRead(), func(r *Request) { r.Attributes["shift"] = []string{"night"} }),
		"default deny":                   with(tellerRead(), func(r *Request) { r.Operation = nsAccounts + "Close" }),
		"hop":                            hop("open-account", "accounts", openAccount),
		"prefix caller":                  branchTransfer(),
		"delegation":                     createHop(),
		"delegation, actor only earlier": with(createHop(), func(r *Request) { r.Actors = []string{"composite:open-account", "user:teller"} }),
	} {
		if n := testing.AllocsPerRun(100, func() { p.Decide(&r) }); n != 0 {
			t.Errorf("%s: %v allocations per Decide, want 0", name, n)
		}
	}
}

// A Policy is used by every request at once.
func TestDecideConcurrently(t *testing.T) {
	p := mustCompile(t, testPolicy())
	cases := decideCases()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				for _, tc := range cases {
					if got := p.Decide(&tc.req); tc.reason == "" && got != tc.want {
						t.Errorf("%s: Decide = %+v, want %+v", tc.name, got, tc.want)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}
