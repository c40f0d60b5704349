package authz

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/conf"
	"github.com/gatehouse/gatehouse/internal/dn"
)

// Request is what one authorization decision is about: who calls (as
// earlier stages verified it), and which operation of which service, as a
// direct call or as a hop of a composite.
type Request struct {
	Caller      string              // workload id from mTLS; "" for an anonymous caller
	Consumer    string              // Policy.Consumer(Caller): the consumer's name, "" when none matches
	Subject     string              // SAML NameID or UsernameToken user; "" for none
	Issuer      string              // who vouches for Subject (see gateway.Identity)
	Roles       []string            // the subject's roles
	Attributes  map[string][]string // the subject's attributes
	AuthnMethod string              // conf.AuthnX509, conf.AuthnUsernameToken, conf.AuthnMTLS or a SAML authentication context class
	Actors      []string            // the SAML assertion's delegation chain, oldest first; nil for none
	Service     string              // the service's name
	Operation   string              // "{namespace}LocalName" of the Body's payload
	Composite   string              // "" for a direct call; the composite's name for one of its hops
}

// Decision is the verdict on one Request.
type Decision struct {
	Allow bool
	// Rule is the id of the rule that decided; "" for a refusal by the
	// flow check or by default.
	Rule string
	// Reason says why, for the audit record and for Explain. It names
	// only parties and rules of the configuration, and a caller's
	// workload id when that is no consumer.
	Reason string
}

// Reasons of the refusals that name no rule.
const (
	reasonNoRule    = "no rule allows"
	reasonNoPolicy  = "no policy"
	reasonNoRequest = "no request"
)

// Policy is a compiled conf.Policy. It is immutable and safe for
// concurrent use.
type Policy struct {
	exact      map[string]string // workload id → consumer name
	prefixes   []prefixConsumer  // longest prefix first
	composites map[string]bool
	edges      map[edge]struct{}
	services   map[string]*serviceRules

	graph graph // for DOT
}

type prefixConsumer struct{ prefix, name string }

type edge struct{ from, to string }

// serviceRules are the rules of one service, ready for Decide.
type serviceRules struct {
	// ops holds, for each operation some rule names, that operation's
	// rules together with the service's "*" rules, in file order.
	ops map[string]*ruleSet
	// any holds the "*" rules alone, for every other operation.
	any *ruleSet
}

// ruleSet is the rules that apply to one service and operation, split by
// effect, each part in file order. Deny rules are tried first: deny
// overrides.
type ruleSet struct {
	deny, allow []*rule
}

// rule is a compiled conf.Rule.
type rule struct {
	id        string
	where     string // "FILE:LINE" of the rule element, "" when not from a file
	allow     bool
	operation string
	callers   []callerCond
	subjects  []string
	issuers   []string
	roles     []string
	attrs     []attrCond
	authn     []string
	actors    []string // delegation: the last actor is one of these
	position  positionCond
	reason    string // Decision.Reason when this rule decides
}

type callerCond struct {
	id     string
	key    string // dn.Key(id), for an exact workload
	prefix bool
}

type attrCond struct {
	name   string
	match  conf.AttributeMatch
	values []string
}

type positionKind int

const (
	positionAny positionKind = iota
	positionDirect
	positionComposite
)

type positionCond struct {
	kind      positionKind
	composite string
}

// Compile checks p and compiles it. It refuses what conf's checks refuse
// where the meaning would be ambiguous or broader than written (an allow
// rule without a caller, subject, role or attribute condition, an empty
// workload or prefix, a condition without a value to compare), and
// returns every such problem. Compile(nil) returns a policy that allows
// nothing.
func Compile(p *conf.Policy) (*Policy, error) {
	c := &Policy{
		exact:      map[string]string{},
		composites: map[string]bool{},
		edges:      map[edge]struct{}{},
		services:   map[string]*serviceRules{},
	}
	if p == nil {
		return c, nil
	}
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("authz: "+format, args...))
	}

	kinds := map[string]string{} // party name → "consumer" or "composite"
	for _, cs := range p.Consumers {
		if cs.Name == "" {
			fail("a consumer has no name")
			continue
		}
		if k, dup := kinds[cs.Name]; dup {
			fail("consumer %q: the name is already a %s's", cs.Name, k)
			continue
		}
		kinds[cs.Name] = "consumer"
		switch {
		case (cs.Workload == "") == (cs.Prefix == ""):
			fail("consumer %q: exactly one of workload and prefix must be set, and not empty", cs.Name)
		case cs.Workload != "":
			// A DN names one workload however it is spelled: index by its key.
			if prev, dup := c.exact[dn.Key(cs.Workload)]; dup {
				fail("consumer %q: workload %q is already consumer %q's", cs.Name, cs.Workload, prev)
				continue
			}
			c.exact[dn.Key(cs.Workload)] = cs.Name
		default:
			if i := slices.IndexFunc(c.prefixes, func(pc prefixConsumer) bool { return pc.prefix == cs.Prefix }); i >= 0 {
				fail("consumer %q: prefix %q is already consumer %q's", cs.Name, cs.Prefix, c.prefixes[i].name)
				continue
			}
			c.prefixes = append(c.prefixes, prefixConsumer{cs.Prefix, cs.Name})
		}
		c.graph.consumers = append(c.graph.consumers, cs)
	}
	// Longest first: the most specific prefix decides. Two different
	// prefixes of one length never both match a workload id.
	slices.SortStableFunc(c.prefixes, func(a, b prefixConsumer) int { return cmp.Compare(len(b.prefix), len(a.prefix)) })

	for _, cp := range p.Composites {
		if cp.Name == "" {
			fail("a composite has no name")
			continue
		}
		if k, dup := kinds[cp.Name]; dup {
			fail("composite %q: the name is already a %s's", cp.Name, k)
			continue
		}
		kinds[cp.Name] = "composite"
		c.composites[cp.Name] = true
		c.graph.composites = append(c.graph.composites, cp.Name)
	}

	seenService := map[string]bool{}
	addService := func(name string) {
		if !seenService[name] && !c.composites[name] {
			seenService[name] = true
			c.graph.services = append(c.graph.services, name)
		}
	}
	for _, f := range p.Flows {
		switch {
		case kinds[f.From] == "":
			fail("flow %s → %s: from must be a consumer or a composite", f.From, f.To)
		case f.To == "" || kinds[f.To] == "consumer":
			fail("flow %s → %s: to must be a service or a composite", f.From, f.To)
		case f.From == f.To:
			fail("flow %s → %s: a composite does not flow to itself", f.From, f.To)
		default:
			e := edge{f.From, f.To}
			if _, dup := c.edges[e]; !dup {
				c.edges[e] = struct{}{}
				c.graph.flows = append(c.graph.flows, e)
				addService(f.To)
			}
		}
	}

	byService := map[string][]*rule{}
	var serviceOrder []string
	ids := map[string]bool{}
	for i := range p.Rules {
		cr := &p.Rules[i]
		ru, problems := compileRule(cr, kinds)
		for _, msg := range problems {
			fail("rule %q: %s", cr.ID, msg)
		}
		if ids[cr.ID] {
			fail("rule %q: duplicate rule id", cr.ID)
			continue
		}
		ids[cr.ID] = true
		if len(problems) > 0 {
			continue
		}
		if _, ok := byService[cr.Service]; !ok {
			serviceOrder = append(serviceOrder, cr.Service)
		}
		byService[cr.Service] = append(byService[cr.Service], ru)
		addService(cr.Service)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	for _, name := range serviceOrder {
		rules := byService[name]
		sr := &serviceRules{ops: map[string]*ruleSet{}, any: newRuleSet(rules, conf.OperationAny)}
		for _, ru := range rules {
			if ru.operation != conf.OperationAny && sr.ops[ru.operation] == nil {
				sr.ops[ru.operation] = newRuleSet(rules, ru.operation)
			}
		}
		c.services[name] = sr
	}
	return c, nil
}

// newRuleSet selects, in file order, the rules for op and the "*" rules.
func newRuleSet(rules []*rule, op string) *ruleSet {
	s := &ruleSet{}
	for _, ru := range rules {
		if ru.operation != op && ru.operation != conf.OperationAny {
			continue
		}
		if ru.allow {
			s.allow = append(s.allow, ru)
		} else {
			s.deny = append(s.deny, ru)
		}
	}
	return s
}

// compileRule compiles one rule; kinds names the consumers and composites.
func compileRule(cr *conf.Rule, kinds map[string]string) (*rule, []string) {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	ru := &rule{id: cr.ID, operation: cr.Operation}
	if cr.Line > 0 {
		ru.where = cr.File + ":" + strconv.Itoa(cr.Line)
	}
	if cr.ID == "" {
		bad("the id is empty")
	}
	switch cr.Effect {
	case conf.EffectAllow:
		ru.allow = true
		ru.reason = "allowed by rule " + strconv.Quote(cr.ID)
		if !cr.HasIdentityCondition() {
			bad("an allow rule needs at least one caller, subject, role or attribute condition")
		}
	case conf.EffectDeny:
		ru.reason = "denied by rule " + strconv.Quote(cr.ID)
	default:
		bad("effect %q is not allow or deny", cr.Effect)
	}
	switch k := kinds[cr.Service]; {
	case cr.Service == "":
		bad("no service")
	case k != "":
		bad("service %q is a %s", cr.Service, k)
	}
	if err := conf.ParseOperation(cr.Operation); err != nil {
		bad("%v", err)
	}
	for _, cc := range cr.Callers {
		switch {
		case (cc.Workload == "") == (cc.Prefix == ""):
			bad("a caller condition needs exactly one of workload and prefix, not empty")
		case cc.Workload != "":
			ru.callers = append(ru.callers, callerCond{id: cc.Workload, key: dn.Key(cc.Workload)})
		default:
			ru.callers = append(ru.callers, callerCond{id: cc.Prefix, prefix: true})
		}
	}
	for _, s := range cr.Subjects {
		if s.Name == "" {
			bad("a subject condition has no name")
		}
		ru.subjects = append(ru.subjects, s.Name)
	}
	for _, is := range cr.Issuers {
		if is.Name == "" {
			bad("an issuer condition has no name")
		}
		ru.issuers = append(ru.issuers, is.Name)
	}
	for _, ro := range cr.Roles {
		if ro.Name == "" {
			bad("a role condition has no name")
		}
		ru.roles = append(ru.roles, ro.Name)
	}
	for _, a := range cr.Attributes {
		n := len(a.Values)
		switch {
		case a.Name == "":
			bad("an attribute condition has no name")
		case (a.Match == conf.MatchEquals || a.Match == conf.MatchPrefix) && n != 1:
			bad("attribute %q: %s needs exactly one value", a.Name, a.Match)
		case a.Match == conf.MatchOneOf && n == 0:
			bad("attribute %q: oneOf needs at least one value", a.Name)
		case a.Match != conf.MatchEquals && a.Match != conf.MatchPrefix && a.Match != conf.MatchOneOf:
			bad("attribute %q: match %q is not equals, oneOf or prefix", a.Name, a.Match)
		}
		ru.attrs = append(ru.attrs, attrCond{name: a.Name, match: a.Match, values: slices.Clone(a.Values)})
	}
	for _, au := range cr.Authentications {
		if err := conf.CheckAuthnMethod(au.Method); err != nil {
			bad("%v", err)
		}
		ru.authn = append(ru.authn, au.Method)
	}
	for _, de := range cr.Delegations {
		if de.Actor == "" {
			bad("a delegation condition has no actor")
		}
		ru.actors = append(ru.actors, de.Actor)
	}
	if pc := cr.Position; pc != nil {
		switch {
		case pc.Direct == (pc.Composite != ""):
			bad("a position condition needs exactly one of direct and composite")
		case pc.Direct:
			ru.position = positionCond{kind: positionDirect}
		case kinds[pc.Composite] != "composite":
			bad("position: unknown composite %q", pc.Composite)
		default:
			ru.position = positionCond{kind: positionComposite, composite: pc.Composite}
		}
	}
	return ru, problems
}

// Consumer returns the name of the consumer whose workload is exactly
// workload, or else of the one with the longest prefix of it; "" when
// there is none, and always for the anonymous caller "".
func (p *Policy) Consumer(workload string) string {
	if p == nil || workload == "" {
		return ""
	}
	if name, ok := p.exact[dn.Key(workload)]; ok {
		return name
	}
	for _, pc := range p.prefixes {
		if strings.HasPrefix(workload, pc.prefix) {
			return pc.name
		}
	}
	return ""
}

// Decide decides one request: the flow check first, then any matching
// deny rule refuses, then the first matching allow rule allows, and
// otherwise the request is refused. It does not allocate unless the flow
// check refuses.
func (p *Policy) Decide(r *Request) Decision {
	if d, ok := p.flow(r); !ok {
		return d
	}
	set := p.rules(r.Service, r.Operation)
	if set == nil {
		return Decision{Reason: reasonNoRule}
	}
	for _, ru := range set.deny {
		if ru.check(r).cond == condNone {
			return Decision{Rule: ru.id, Reason: ru.reason}
		}
	}
	for _, ru := range set.allow {
		if ru.check(r).cond == condNone {
			return Decision{Allow: true, Rule: ru.id, Reason: ru.reason}
		}
	}
	return Decision{Reason: reasonNoRule}
}

// flow checks who calls and the flow edge from the calling party to the
// service. On refusal it returns the Decision and false.
func (p *Policy) flow(r *Request) (Decision, bool) {
	switch {
	case p == nil:
		return Decision{Reason: reasonNoPolicy}, false
	case r == nil:
		return Decision{Reason: reasonNoRequest}, false
	}
	if want := p.Consumer(r.Caller); r.Consumer != want {
		return Decision{Reason: "request names consumer " + strconv.Quote(r.Consumer) + ", but the caller's consumer is " + strconv.Quote(want)}, false
	}
	party := r.Consumer
	if r.Composite != "" {
		if !p.composites[r.Composite] {
			return Decision{Reason: "no flow edge: " + strconv.Quote(r.Composite) + " is not a composite"}, false
		}
		party = r.Composite
	}
	if party == "" {
		return Decision{Reason: "no flow edge: caller " + strconv.Quote(r.Caller) + " is not a consumer"}, false
	}
	if _, ok := p.edges[edge{party, r.Service}]; !ok {
		return Decision{Reason: "no flow edge " + party + " → " + r.Service}, false
	}
	return Decision{}, true
}

// rules returns the rules for the service and operation, nil when the
// service has none.
func (p *Policy) rules(service, op string) *ruleSet {
	sr := p.services[service]
	if sr == nil {
		return nil
	}
	if s, ok := sr.ops[op]; ok {
		return s
	}
	return sr.any
}

// condKind names a kind of condition, in the order check tries them.
type condKind int

const (
	condNone condKind = iota
	condCaller
	condSubject
	condIssuer
	condRole
	condAttribute
	condAuthn
	condDelegation
	condPosition
)

// failure is the first condition of a rule a request does not meet;
// index is the role or attribute condition's.
type failure struct {
	cond  condKind
	index int
}

// check returns the first condition r does not meet, in the order the
// rule element lists them, or condNone when all hold.
func (ru *rule) check(r *Request) failure {
	if len(ru.callers) > 0 && !ru.callerMatches(r.Caller) {
		return failure{cond: condCaller}
	}
	if len(ru.subjects) > 0 && !slices.Contains(ru.subjects, r.Subject) {
		return failure{cond: condSubject}
	}
	if len(ru.issuers) > 0 && !slices.Contains(ru.issuers, r.Issuer) {
		return failure{cond: condIssuer}
	}
	for i, role := range ru.roles {
		if !slices.Contains(r.Roles, role) {
			return failure{condRole, i}
		}
	}
	for i := range ru.attrs {
		if !ru.attrs[i].holds(r.Attributes[ru.attrs[i].name]) {
			return failure{condAttribute, i}
		}
	}
	if len(ru.authn) > 0 && !slices.Contains(ru.authn, r.AuthnMethod) {
		return failure{cond: condAuthn}
	}
	// Only the last actor made this call; earlier ones acted before it
	// and say nothing about who presents the assertion now.
	if len(ru.actors) > 0 && (len(r.Actors) == 0 || !slices.Contains(ru.actors, r.Actors[len(r.Actors)-1])) {
		return failure{cond: condDelegation}
	}
	switch ru.position.kind {
	case positionDirect:
		if r.Composite != "" {
			return failure{cond: condPosition}
		}
	case positionComposite:
		if r.Composite != ru.position.composite {
			return failure{cond: condPosition}
		}
	}
	return failure{}
}

func (ru *rule) callerMatches(caller string) bool {
	if caller == "" {
		return false // conditions are never empty; say so anyway
	}
	key := dn.Key(caller)
	for _, c := range ru.callers {
		if !c.prefix && key == c.key || c.prefix && strings.HasPrefix(caller, c.id) {
			return true
		}
	}
	return false
}

// holds reports whether some value satisfies the condition.
func (a *attrCond) holds(values []string) bool {
	for _, v := range values {
		switch a.match {
		case conf.MatchEquals:
			if v == a.values[0] {
				return true
			}
		case conf.MatchOneOf:
			if slices.Contains(a.values, v) {
				return true
			}
		case conf.MatchPrefix:
			if strings.HasPrefix(v, a.values[0]) {
				return true
			}
		}
	}
	return false
}
