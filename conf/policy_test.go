package conf

import (
	"reflect"
	"strings"
	"testing"
)

// TestLoadValidPolicy checks testdata/valid-policy.xml: every element of
// the policy section, as written, with its line.
func TestLoadValidPolicy(t *testing.T) {
	_, path := setup(t, readTestdata(t, "valid-policy.xml"))
	cfg := mustLoad(t, path)
	if len(cfg.Warnings) != 0 {
		t.Errorf("Warnings = %q, want none", cfg.Warnings)
	}
	if got, want := cfg.Summary(), "config OK: 1 listener, 2 services, admin 127.0.0.1:9090, store memory (single instance), 0 trust stores, 0 users, 0 SAML issuers, policy (2 consumers, 1 composite, 4 flows, 4 rules)"; got != want {
		t.Errorf("Summary() = %q\nwant %q", got, want)
	}
	at := func(line int) Pos { return Pos{path, line} }
	want := &Policy{
		Pos: at(6),
		Consumers: []Consumer{
			{at(7), "teller-app", "spiffe://demo.gatehouse.internal/retail/teller-app", ""},
			{at(8), "retail", "", "spiffe://demo.gatehouse.internal/retail/"},
		},
		Composites: []Composite{{at(10), "open-account"}},
		Flows: []Flow{
			{at(9), "teller-app", "accounts"},
			{at(11), "open-account", "accounts"},
			{at(12), "open-account", "orders"},
			{at(13), "retail", "open-account"},
		},
		Rules: []Rule{
			{
				Pos: at(14), ID: "tellers-read", Effect: EffectAllow, Service: "accounts", Operation: "{urn:gatehouse:demo:accounts}GetBalance",
				Callers: []CallerCondition{
					{at(15), "spiffe://demo.gatehouse.internal/retail/teller-app", ""},
					{at(16), "", "spiffe://demo.gatehouse.internal/branch/"},
				},
				Subjects: []SubjectCondition{{at(17), "alice@example.com"}, {at(18), "CN=Open Account,O=Gatehouse Demo"}},
				Roles:    []RoleCondition{{at(19), "teller"}, {at(20), "employee"}},
				Attributes: []AttributeCondition{
					{Pos: at(21), Name: "branch", Match: MatchEquals, Values: []string{"0042"}},
					{Pos: at(22), Name: "region", Match: MatchOneOf, Values: []string{"north", "south"}},
					{Pos: at(23), Name: "costCentre", Match: MatchPrefix, Values: []string{"00"}},
					{Pos: at(24), Name: "note", Match: MatchEquals, Values: []string{""}},
				},
				Authentications: []AuthnCondition{
					{at(25), "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"},
					{at(26), AuthnMTLS},
				},
				Delegations: []DelegationCondition{
					{at(27), "composite:open-account-partner"},
					{at(28), "spiffe://demo.gatehouse.internal/retail/teller-app"},
				},
				Position: &PositionCondition{at(29), true, ""},
			},
			{
				Pos: at(31), ID: "no-transfers-at-night", Effect: EffectDeny, Service: "accounts", Operation: OperationAny,
				Attributes: []AttributeCondition{{Pos: at(32), Name: "shift", Match: MatchEquals, Values: []string{"night"}}},
			},
			{
				Pos: at(34), ID: "open-account-hop", Effect: EffectAllow, Service: "orders", Operation: "{urn:gatehouse:demo:orders}PlaceOrder",
				Roles:    []RoleCondition{{at(35), "teller"}},
				Position: &PositionCondition{at(36), false, "open-account"},
			},
			{Pos: at(38), ID: "freeze", Effect: EffectDeny, Service: "orders", Operation: OperationAny},
		},
	}
	if !reflect.DeepEqual(cfg.Policy, want) {
		t.Errorf("Policy = %+v\nwant %+v", cfg.Policy, want)
		if cfg.Policy != nil {
			for i := range min(len(cfg.Policy.Rules), len(want.Rules)) {
				if !reflect.DeepEqual(cfg.Policy.Rules[i], want.Rules[i]) {
					t.Errorf("rule %d = %+v\nwant %+v", i, cfg.Policy.Rules[i], want.Rules[i])
				}
			}
		}
	}
	if !cfg.Policy.Rules[0].HasIdentityCondition() || cfg.Policy.Rules[3].HasIdentityCondition() {
		t.Error("HasIdentityCondition is wrong")
	}
	// A delegation condition restricts a rule; it does not say who the
	// rule is for.
	deleg := Rule{Delegations: []DelegationCondition{{Actor: "composite:open-account"}}, Position: &PositionCondition{Direct: true}}
	if deleg.HasIdentityCondition() {
		t.Error("HasIdentityCondition counts a delegation or position condition")
	}
}

// Without a policy element, Config.Policy is nil: the gateway allows no
// service call.
func TestLoadNoPolicy(t *testing.T) {
	_, path := setup(t, `<gatehouse xmlns="urn:gatehouse:config:1">
  <listener name="edge" address="127.0.0.1:8443">
    <tls certificate="pki/server.crt" key="pki/server.key" clientCA="pki/ca.crt"/>
  </listener>
</gatehouse>`)
	if p := mustLoad(t, path).Policy; p != nil {
		t.Errorf("Policy = %+v, want nil", p)
	}
}

// A rule that can never allow anything is a warning: no flow leads to its
// service, or its composite has no flow to the service. So is a delegation
// actor that names a composite of this configuration (close-account is
// another gateway's, so it is fine here).
func TestPolicyWarnings(t *testing.T) {
	_, path := setup(t, `<gatehouse xmlns="urn:gatehouse:config:1">
  <listener name="edge" address="127.0.0.1:8443">
    <tls certificate="pki/server.crt" key="pki/server.key" clientCA="pki/ca.crt"/>
  </listener>
  <policy>
    <consumer name="teller-app" workload="spiffe://demo.gatehouse.internal/retail/teller-app"/>
    <composite name="open-account"/>
    <flow from="teller-app" to="accounts"/>
    <rule id="orders-read" effect="allow" service="orders" operation="*">
      <caller workload="spiffe://demo.gatehouse.internal/retail/teller-app"/>
    </rule>
    <rule id="hop" effect="allow" service="accounts" operation="*">
      <role name="teller"/>
      <position composite="open-account"/>
    </rule>
    <rule id="orders-deny" effect="deny" service="orders" operation="*"/>
    <rule id="own-composite" effect="allow" service="accounts" operation="*">
      <role name="teller"/>
      <delegation actor="composite:open-account"/>
      <delegation actor="composite:close-account"/>
    </rule>
  </policy>
  <service name="accounts" path="/services/accounts">
    <backend url="http://127.0.0.1:8081/accounts"/>
    <schema file="payload/accounts.xsd"/>
  </service>
  <service name="orders" path="/services/orders">
    <backend url="http://127.0.0.1:8082/orders"/>
    <schema file="payload/orders.xsd"/>
  </service>
</gatehouse>`)
	cfg := mustLoad(t, path)
	want := []string{
		path + `:9: policy/rule id="orders-read": no flow leads to service "orders", so this rule allows nothing`,
		path + `:14: policy/rule id="hop"/position: there is no flow open-account → accounts, so this rule allows nothing`,
		path + `:19: policy/rule id="own-composite"/delegation: actor "composite:open-account" is this configuration's composite "open-account", whose hops are authorized here with the caller's delegation chain, not naming it: position composite="open-account" selects them`,
	}
	if !reflect.DeepEqual(cfg.Warnings, want) {
		t.Errorf("Warnings = %q\nwant %q", cfg.Warnings, want)
	}
}

func TestParseOperation(t *testing.T) {
	for _, tc := range []struct{ op, wantErr string }{
		{"*", ""},
		{"{urn:gatehouse:demo:accounts}GetBalance", ""},
		{"{http://example.com/ns}Get.Balance-2", ""},
		{"GetBalance", `operation "GetBalance" is not * or {namespace}LocalName`},
		{"", `operation "" is not * or {namespace}LocalName`},
		{"**", `operation "**" is not * or {namespace}LocalName`},
		{"{}GetBalance", `operation "{}GetBalance": namespace "" is not an absolute URI`},
		{"{accounts}GetBalance", `operation "{accounts}GetBalance": namespace "accounts" is not an absolute URI`},
		{"{urn:a}", `operation "{urn:a}": "" is not an XML local name (NCName)`},
		{"{urn:a}p:GetBalance", `operation "{urn:a}p:GetBalance": "p:GetBalance" is not an XML local name (NCName)`},
		{"{urn:a}1st", `operation "{urn:a}1st": "1st" is not an XML local name (NCName)`},
	} {
		err := ParseOperation(tc.op)
		if (err == nil) != (tc.wantErr == "") || err != nil && err.Error() != tc.wantErr {
			t.Errorf("ParseOperation(%q) = %v, want %q", tc.op, err, tc.wantErr)
		}
	}
}

func TestCheckAuthnMethod(t *testing.T) {
	for _, tc := range []struct {
		method string
		ok     bool
	}{
		{"x509", true},
		{"usernameToken", true},
		{"mtls", true},
		{"urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport", true},
		{"https://example.com/ac/mfa", true},
		{"", false},
		{"X509", false},
		{"password", false},
		{"urn:a b", false},
	} {
		err := CheckAuthnMethod(tc.method)
		if (err == nil) != tc.ok {
			t.Errorf("CheckAuthnMethod(%q) = %v, want ok %v", tc.method, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "is not x509, usernameToken, mtls or an absolute URI") {
			t.Errorf("CheckAuthnMethod(%q) = %v", tc.method, err)
		}
	}
}
