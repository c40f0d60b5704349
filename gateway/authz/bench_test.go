package authz

import (
	"fmt"
	"testing"

	"github.com/gatehouse/gatehouse/conf"
)

// benchPolicy has 100 services of 10 operations each and 1,000 rules: for
// every service an allow rule for each of operations 0 to 8 (caller
// prefix, role, attribute oneOf, authentication), and one deny rule for
// "*" (attribute equals), which every decision on the service tries first.
// Operation 9 has only the deny rule. Twenty consumers (ten exact, ten by
// prefix) flow to every service; one more consumer flows nowhere.
func benchPolicy() *conf.Policy {
	p := &conf.Policy{}
	for i := range 10 {
		p.Consumers = append(p.Consumers,
			conf.Consumer{Name: fmt.Sprintf("exact-%d", i), Workload: fmt.Sprintf("%sapps/exact-%d", td, i)},
			conf.Consumer{Name: fmt.Sprintf("prefix-%d", i), Prefix: fmt.Sprintf("%sapps/team-%d/", td, i)})
	}
	p.Consumers = append(p.Consumers, conf.Consumer{Name: "isolated", Workload: td + "isolated"})
	for s := range 100 {
		svc := benchService(s)
		for _, c := range p.Consumers[:20] {
			p.Flows = append(p.Flows, conf.Flow{From: c.Name, To: svc})
		}
		p.Rules = append(p.Rules, conf.Rule{
			ID: svc + "-deny", Effect: conf.EffectDeny, Service: svc, Operation: conf.OperationAny,
			Attributes: []conf.AttributeCondition{{Name: "blocked", Match: conf.MatchEquals, Values: []string{"true"}}},
		})
		for o := range 9 {
			p.Rules = append(p.Rules, conf.Rule{
				ID: fmt.Sprintf("%s-op%d", svc, o), Effect: conf.EffectAllow, Service: svc, Operation: benchOperation(o),
				Callers:         []conf.CallerCondition{{Prefix: td + "apps/"}},
				Roles:           []conf.RoleCondition{{Name: "teller"}},
				Attributes:      []conf.AttributeCondition{{Name: "branch", Match: conf.MatchOneOf, Values: []string{"0041", "0042", "0043"}}},
				Authentications: []conf.AuthnCondition{{Method: ppt}, {Method: conf.AuthnMTLS}},
			})
		}
	}
	return p
}

func benchService(s int) string   { return fmt.Sprintf("service-%03d", s) }
func benchOperation(o int) string { return fmt.Sprintf("{urn:gatehouse:bench}Operation%d", o) }

// benchRequests returns one request per service and operation 0 to 8 (or
// operation 9 when op9), from the consumers in turn, changed by change.
func benchRequests(p *Policy, op9 bool, change func(*Request)) []Request {
	var reqs []Request
	for s := range 100 {
		for o := range 9 {
			if op9 {
				o = 9
			}
			caller := fmt.Sprintf("%sapps/exact-%d", td, (s+o)%10)
			if (s+o)%2 == 1 {
				caller = fmt.Sprintf("%sapps/team-%d/desk-%d", td, (s+o)%10, s)
			}
			r := Request{
				Caller:      caller,
				Consumer:    p.Consumer(caller),
				Subject:     fmt.Sprintf("user-%d@example.com", s),
				Roles:       []string{"employee", "teller"},
				Attributes:  map[string][]string{"branch": {"0042"}, "costCentre": {"0017"}},
				AuthnMethod: conf.AuthnMTLS,
				Service:     benchService(s),
				Operation:   benchOperation(o),
			}
			if change != nil {
				change(&r)
			}
			reqs = append(reqs, r)
		}
	}
	return reqs
}

func BenchmarkDecide(b *testing.B) {
	cp := benchPolicy()
	if len(cp.Rules) != 1000 {
		b.Fatalf("%d rules, want 1000", len(cp.Rules))
	}
	p := mustCompile(b, cp)
	for _, bc := range []struct {
		name  string
		reqs  []Request
		allow bool
		rule  bool // decided by a rule
	}{
		{"allow", benchRequests(p, false, nil), true, true},
		{"deny-rule", benchRequests(p, false, func(r *Request) { r.Attributes["blocked"] = []string{"true"} }), false, true},
		{"default-deny-role", benchRequests(p, false, func(r *Request) { r.Roles = []string{"employee"} }), false, false},
		{"default-deny-op", benchRequests(p, true, nil), false, false},
		{"no-flow-edge", benchRequests(p, false, func(r *Request) { r.Caller, r.Consumer = td+"isolated", "isolated" }), false, false},
	} {
		for i := range bc.reqs {
			if d := p.Decide(&bc.reqs[i]); d.Allow != bc.allow || (d.Rule != "") != bc.rule {
				b.Fatalf("%s: request %d: Decide = %+v", bc.name, i, d)
			}
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				p.Decide(&bc.reqs[i])
				if i++; i == len(bc.reqs) {
					i = 0
				}
			}
		})
	}
}

func BenchmarkCompile(b *testing.B) {
	cp := benchPolicy()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(cp); err != nil {
			b.Fatal(err)
		}
	}
}
