package authz

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/conf"
)

// TestIssuerCondition: alice@example.com of one issuer is not
// alice@example.com of another. A rule that names the subject and its
// issuer allows only that issuer's alice; explain says why the other is
// refused.
func TestIssuerCondition(t *testing.T) {
	const idpA, idpB = "urn:idp:a", "urn:idp:b"
	p := mustCompile(t, &conf.Policy{
		Consumers: []conf.Consumer{{Name: "teller-app", Workload: tellerApp}},
		Flows:     []conf.Flow{{From: "teller-app", To: "accounts"}},
		Rules: []conf.Rule{{
			ID: "alice-of-a", Effect: conf.EffectAllow, Service: "accounts", Operation: getBalance,
			Subjects: []conf.SubjectCondition{{Name: "alice@example.com"}},
			Issuers:  []conf.IssuerCondition{{Name: idpA}},
		}},
	})
	req := func(issuer string) *Request {
		return &Request{Caller: tellerApp, Consumer: "teller-app", Subject: "alice@example.com", Issuer: issuer,
			Service: "accounts", Operation: getBalance}
	}
	if d := p.Decide(req(idpA)); !d.Allow || d.Rule != "alice-of-a" {
		t.Errorf("issuer a: %+v, want allowed by alice-of-a", d)
	}
	for _, is := range []string{idpB, ""} {
		if d := p.Decide(req(is)); d.Allow {
			t.Errorf("issuer %q: allowed by %q, want refused", is, d.Rule)
		}
	}
	var why string
	for _, s := range p.Explain(req(idpB)) {
		if s.Kind == StepRule {
			why = s.Reason
		}
	}
	if !strings.Contains(why, `issuer: "urn:idp:b" is not "urn:idp:a"`) {
		t.Errorf("explain says %q", why)
	}
}
