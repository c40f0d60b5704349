package conf

import (
	"encoding/xml"
	"fmt"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/internal/dn"
)

// Effect is what a rule does when all its conditions hold.
type Effect string

const (
	EffectAllow Effect = "allow"
	EffectDeny  Effect = "deny"
)

// OperationAny is the operation of a rule that applies to every operation
// of its service.
const OperationAny = "*"

// Authentication methods a rule's authentication condition may name
// besides a SAML authentication context class (an absolute URI such as
// urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport).
const (
	AuthnX509          = "x509"          // a WS-Security X.509 signature
	AuthnUsernameToken = "usernameToken" // a WS-Security UsernameToken
	AuthnMTLS          = "mtls"          // the TLS client certificate alone
)

// LocalUsersIssuer is the issuer of identities that Gatehouse's own user
// store authenticated (a UsernameToken): the value an issuer condition
// names for them.
const LocalUsersIssuer = "urn:gatehouse:users"

// CompositeActorPrefix starts the actor that a composite's hop assertion
// adds to the delegation chain: "composite:" and the composite's name.
const CompositeActorPrefix = "composite:"

// AttributeMatch is how an attribute condition compares a value.
type AttributeMatch string

const (
	MatchEquals AttributeMatch = "equals" // the value equals Values[0]
	MatchOneOf  AttributeMatch = "oneOf"  // the value is one of Values
	MatchPrefix AttributeMatch = "prefix" // the value starts with Values[0]
)

// Policy is the authorization policy: the parties of the information-flow
// graph (consumers, composites and, by name, the services), the flow edges
// between them, and the rules. Config.Policy is nil when the configuration
// has no policy element. Package gateway/authz compiles it.
type Policy struct {
	Pos
	Consumers  []Consumer
	Composites []Composite
	Flows      []Flow
	Rules      []Rule // in file order, which is the order allow rules are tried in
}

// Consumer is a party that calls through the gateway, known by its TLS
// workload id: exactly one of Workload (the exact id) and Prefix (every id
// that starts with it) is set, and it is not empty. Names are unique among
// the consumers, composites and services.
type Consumer struct {
	Pos
	Name     string `xml:"name,attr"`
	Workload string `xml:"workload,attr"`
	Prefix   string `xml:"prefix,attr"`
}

// Composite is a composite service as a party of the flow graph: the calls
// it makes to services are hops, each authorized on its own.
type Composite struct {
	Pos
	Name string `xml:"name,attr"`
}

// Flow is an allowed edge of the flow graph: From (a consumer or a
// composite) may call To (a service or a composite). A call without its
// edge is refused whatever the rules say.
type Flow struct {
	Pos
	From string `xml:"from,attr"`
	To   string `xml:"to,attr"`
}

// Rule allows or denies calls of Operation on Service when every one of
// its conditions holds. Conditions of one kind combine as the XML says:
// callers, subjects, issuers, authentications and delegations are alternatives
// (any one), roles and attributes are all required. An allow rule has at
// least one caller, subject, role or attribute condition.
type Rule struct {
	Pos
	ID              string // unique among the rules
	Effect          Effect
	Service         string // a service's name
	Operation       string // "{namespace}LocalName" or OperationAny
	Callers         []CallerCondition
	Subjects        []SubjectCondition
	Issuers         []IssuerCondition
	Roles           []RoleCondition
	Attributes      []AttributeCondition
	Authentications []AuthnCondition
	Delegations     []DelegationCondition
	Position        *PositionCondition // nil: direct calls and hops alike
}

// HasIdentityCondition reports whether the rule names who it applies to:
// a caller, subject, role or attribute condition. Delegation and position
// conditions do not count: they say through whom or where a call comes,
// not who makes it, so an allow rule with only those would still allow
// every subject of every caller that gets that far.
func (r *Rule) HasIdentityCondition() bool {
	return len(r.Callers)+len(r.Subjects)+len(r.Roles)+len(r.Attributes) > 0
}

// CallerCondition holds when the caller's workload id is Workload, or
// starts with Prefix; exactly one of them is set, and it is not empty.
type CallerCondition struct {
	Pos
	Workload string `xml:"workload,attr"`
	Prefix   string `xml:"prefix,attr"`
}

// SubjectCondition holds when the subject (the SAML NameID or the
// UsernameToken user) is Name.
type SubjectCondition struct {
	Pos
	Name string `xml:"name,attr"`
}

// IssuerCondition holds when the identity's issuer is Name: a SAML
// issuer's entity ID, LocalUsersIssuer, or the issuer DN of the signing
// (for mTLS alone, the client) certificate. With it, a subject condition
// names one issuer's alice, not every issuer's.
type IssuerCondition struct {
	Pos
	Name string `xml:"name,attr"`
}

// RoleCondition holds when the subject has the role Name.
type RoleCondition struct {
	Pos
	Name string `xml:"name,attr"`
}

// AttributeCondition holds when some value of the subject's attribute Name
// matches: equals Values[0], is one of Values, or starts with Values[0].
type AttributeCondition struct {
	Pos
	Name   string
	Match  AttributeMatch
	Values []string // one value for MatchEquals and MatchPrefix

	given []string // the match attributes written, when not exactly one
}

// AuthnCondition holds when the request was authenticated with Method:
// AuthnX509, AuthnUsernameToken, AuthnMTLS, or a SAML authentication
// context class URI.
type AuthnCondition struct {
	Pos
	Method string `xml:"method,attr"`
}

// DelegationCondition holds when the request's delegation chain (the SAML
// assertion's DelegationRestriction, oldest first) is not empty and its
// last actor, the one that made this call, is Actor: for a composite's
// hop, CompositeActorPrefix and the composite's name. An actor only
// earlier in the chain does not count.
type DelegationCondition struct {
	Pos
	Actor string `xml:"actor,attr"`
}

// PositionCondition restricts where in a call the rule applies: Direct,
// only to a consumer's direct call; Composite, only to a hop of that
// composite. Exactly one is set.
type PositionCondition struct {
	Pos
	Direct    bool   `xml:"direct,attr"`
	Composite string `xml:"composite,attr"`
}

// Decoding.

func (p *Policy) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var raw struct {
		Consumers  []Consumer  `xml:"consumer"`
		Composites []Composite `xml:"composite"`
		Flows      []Flow      `xml:"flow"`
		Rules      []Rule      `xml:"rule"`
	}
	*p = Policy{Pos: Pos{Line: startLine(d)}}
	if err := d.DecodeElement(&raw, &start); err != nil {
		return err
	}
	p.Consumers, p.Composites, p.Flows, p.Rules = raw.Consumers, raw.Composites, raw.Flows, raw.Rules
	return nil
}

func (c *Consumer) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	type plain Consumer
	*c = Consumer{Pos: Pos{Line: startLine(d)}}
	return d.DecodeElement((*plain)(c), &start)
}

func (c *Composite) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	type plain Composite
	*c = Composite{Pos: Pos{Line: startLine(d)}}
	return d.DecodeElement((*plain)(c), &start)
}

func (f *Flow) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	type plain Flow
	*f = Flow{Pos: Pos{Line: startLine(d)}}
	return d.DecodeElement((*plain)(f), &start)
}

func (r *Rule) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var raw struct {
		ID              string                `xml:"id,attr"`
		Effect          Effect                `xml:"effect,attr"`
		Service         string                `xml:"service,attr"`
		Operation       string                `xml:"operation,attr"`
		Callers         []CallerCondition     `xml:"caller"`
		Subjects        []SubjectCondition    `xml:"subject"`
		Issuers         []IssuerCondition     `xml:"issuer"`
		Roles           []RoleCondition       `xml:"role"`
		Attributes      []AttributeCondition  `xml:"attribute"`
		Authentications []AuthnCondition      `xml:"authentication"`
		Delegations     []DelegationCondition `xml:"delegation"`
		Position        *PositionCondition    `xml:"position"`
	}
	line := startLine(d)
	if err := d.DecodeElement(&raw, &start); err != nil {
		return err
	}
	*r = Rule{
		Pos:             Pos{Line: line},
		ID:              raw.ID,
		Effect:          Effect(strings.TrimSpace(string(raw.Effect))),
		Service:         raw.Service,
		Operation:       strings.TrimSpace(raw.Operation),
		Callers:         raw.Callers,
		Subjects:        raw.Subjects,
		Issuers:         raw.Issuers,
		Roles:           raw.Roles,
		Attributes:      raw.Attributes,
		Authentications: raw.Authentications,
		Delegations:     raw.Delegations,
		Position:        raw.Position,
	}
	return nil
}

func (c *CallerCondition) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	type plain CallerCondition
	*c = CallerCondition{Pos: Pos{Line: startLine(d)}}
	return d.DecodeElement((*plain)(c), &start)
}

func (c *SubjectCondition) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	type plain SubjectCondition
	*c = SubjectCondition{Pos: Pos{Line: startLine(d)}}
	return d.DecodeElement((*plain)(c), &start)
}

func (c *IssuerCondition) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	type plain IssuerCondition
	*c = IssuerCondition{Pos: Pos{Line: startLine(d)}}
	return d.DecodeElement((*plain)(c), &start)
}

func (c *RoleCondition) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	type plain RoleCondition
	*c = RoleCondition{Pos: Pos{Line: startLine(d)}}
	return d.DecodeElement((*plain)(c), &start)
}

// UnmarshalXML keeps the one match attribute written; the checks report
// none or several (given), together with every other problem.
func (c *AttributeCondition) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var raw struct {
		Name   string  `xml:"name,attr"`
		Equals *string `xml:"equals,attr"`
		OneOf  *string `xml:"oneOf,attr"`
		Prefix *string `xml:"prefix,attr"`
	}
	*c = AttributeCondition{Pos: Pos{Line: startLine(d)}}
	if err := d.DecodeElement(&raw, &start); err != nil {
		return err
	}
	c.Name = raw.Name
	if raw.Equals != nil {
		c.given = append(c.given, string(MatchEquals))
		c.Match, c.Values = MatchEquals, []string{*raw.Equals}
	}
	if raw.OneOf != nil {
		c.given = append(c.given, string(MatchOneOf))
		// Always a non-nil list, so that an empty oneOf is told apart.
		c.Match, c.Values = MatchOneOf, append([]string{}, strings.Fields(*raw.OneOf)...)
	}
	if raw.Prefix != nil {
		c.given = append(c.given, string(MatchPrefix))
		c.Match, c.Values = MatchPrefix, []string{*raw.Prefix}
	}
	if len(c.given) == 1 {
		c.given = nil
	} else {
		c.Match, c.Values = "", nil
	}
	return nil
}

func (c *AuthnCondition) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	type plain AuthnCondition
	*c = AuthnCondition{Pos: Pos{Line: startLine(d)}}
	if err := d.DecodeElement((*plain)(c), &start); err != nil {
		return err
	}
	c.Method = strings.TrimSpace(c.Method)
	return nil
}

func (c *DelegationCondition) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	type plain DelegationCondition
	*c = DelegationCondition{Pos: Pos{Line: startLine(d)}}
	return d.DecodeElement((*plain)(c), &start)
}

func (c *PositionCondition) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	type plain PositionCondition
	*c = PositionCondition{Pos: Pos{Line: startLine(d)}}
	return d.DecodeElement((*plain)(c), &start)
}

// setFile records the configuration file in the positions of the policy.
func (p *Policy) setFile(set func(*Pos)) {
	set(&p.Pos)
	for i := range p.Consumers {
		set(&p.Consumers[i].Pos)
	}
	for i := range p.Composites {
		set(&p.Composites[i].Pos)
	}
	for i := range p.Flows {
		set(&p.Flows[i].Pos)
	}
	for i := range p.Rules {
		r := &p.Rules[i]
		set(&r.Pos)
		for j := range r.Callers {
			set(&r.Callers[j].Pos)
		}
		for j := range r.Subjects {
			set(&r.Subjects[j].Pos)
		}
		for j := range r.Roles {
			set(&r.Roles[j].Pos)
		}
		for j := range r.Attributes {
			set(&r.Attributes[j].Pos)
		}
		for j := range r.Authentications {
			set(&r.Authentications[j].Pos)
		}
		for j := range r.Delegations {
			set(&r.Delegations[j].Pos)
		}
		if r.Position != nil {
			set(&r.Position.Pos)
		}
	}
}

// checkContractOperation refuses a rule that names an operation the
// service's WSDL port does not have (a rule that could never match is a
// mistake, often a wrong namespace).
func (c *checker) checkContractOperation(cfg *Config, r *Rule, el string) {
	for _, s := range cfg.Services {
		contracts := s.Contracts()
		if s.Name != r.Service || contracts == nil {
			continue
		}
		ns, local, _ := strings.Cut(strings.TrimPrefix(r.Operation, "{"), "}")
		var have, ports []string
		for _, ct := range contracts {
			if ct.Operation(xml.Name{Space: ns, Local: local}) != nil {
				return
			}
			ports = append(ports, ct.Port)
			for _, op := range ct.Operations {
				if n := op.InputName(); n.Local != "" && !slices.Contains(have, "{"+n.Space+"}"+n.Local) {
					have = append(have, "{"+n.Space+"}"+n.Local)
				}
			}
		}
		c.errorf(r.Pos, el, "service %q has no operation %s in its WSDL (ports %s have %s)", r.Service, r.Operation, strings.Join(ports, ", "), strings.Join(have, ", "))
		return
	}
}

// ParseOperation checks a rule's operation: OperationAny, or a QName in
// Clark notation, {namespace}LocalName, whose namespace is an absolute URI
// and whose local name is an NCName. Whether the service has such an
// operation is not known here.
func ParseOperation(op string) error {
	if op == OperationAny {
		return nil
	}
	rest, ok := strings.CutPrefix(op, "{")
	ns, local, ok2 := strings.Cut(rest, "}")
	switch {
	case !ok || !ok2:
		return fmt.Errorf("operation %q is not %s or {namespace}LocalName", op, OperationAny)
	case !isAbsoluteURI(ns) || strings.ContainsAny(ns, " \t\r\n{}"):
		return fmt.Errorf("operation %q: namespace %q is not an absolute URI", op, ns)
	case !isNCName(local):
		return fmt.Errorf("operation %q: %q is not an XML local name (NCName)", op, local)
	}
	return nil
}

// CheckAuthnMethod checks an authentication condition's method: AuthnX509,
// AuthnUsernameToken, AuthnMTLS, or an absolute URI (a SAML authentication
// context class).
func CheckAuthnMethod(m string) error {
	switch {
	case m == AuthnX509 || m == AuthnUsernameToken || m == AuthnMTLS:
		return nil
	case isAbsoluteURI(m) && !strings.ContainsAny(m, " \t\r\n"):
		return nil
	}
	return fmt.Errorf("method %q is not %s, %s, %s or an absolute URI (a SAML authentication context class)", m, AuthnX509, AuthnUsernameToken, AuthnMTLS)
}

// Checks.

// partyKind is what a name of the flow graph stands for.
type partyKind int

const (
	partyNone partyKind = iota
	partyConsumer
	partyComposite
	partyService
)

func (k partyKind) String() string {
	switch k {
	case partyConsumer:
		return "consumer"
	case partyComposite:
		return "composite"
	case partyService:
		return "service"
	}
	return "nothing"
}

// checkPolicy checks the policy after the services, whose names are
// parties of the flow graph and the targets of rules.
func (c *checker) checkPolicy(cfg *Config) {
	p := cfg.Policy
	if p == nil {
		return
	}
	type party struct {
		kind partyKind
		line int
	}
	parties := map[string]party{}
	var serviceNames, consumerNames, compositeNames []string
	for _, s := range cfg.Services {
		if _, dup := parties[s.Name]; !dup { // a duplicate service is reported by checkServices
			parties[s.Name] = party{partyService, s.Line}
			serviceNames = append(serviceNames, s.Name)
		}
	}
	// declare adds a consumer or composite name, and reports whether it
	// is new.
	declare := func(pos Pos, el, name string, kind partyKind) bool {
		prev, dup := parties[name]
		switch {
		case dup && prev.kind == kind:
			c.errorf(pos, el, "duplicate %s name (first at line %d)", kind, prev.line)
		case dup:
			c.errorf(pos, el, "name %q is already used by a %s (line %d): consumers, composites and services share one set of names", name, prev.kind, prev.line)
		default:
			parties[name] = party{kind, pos.Line}
			return true
		}
		return false
	}

	exact := map[string]*Consumer{}
	prefixes := map[string]*Consumer{}
	for i := range p.Consumers {
		cs := &p.Consumers[i]
		el := fmt.Sprintf("policy/consumer name=%q", cs.Name)
		if declare(cs.Pos, el, cs.Name, partyConsumer) {
			consumerNames = append(consumerNames, cs.Name)
		}
		if !c.checkWorkload(cs.Pos, el, "consumer", cs.Workload, cs.Prefix) {
			continue
		}
		seen, v, attr, index := exact, cs.Workload, "workload", dn.Key(cs.Workload)
		if cs.Prefix != "" {
			seen, v, attr, index = prefixes, cs.Prefix, "prefix", cs.Prefix
		}
		if prev, dup := seen[index]; dup {
			c.errorf(cs.Pos, el, "%s %q is already consumer %q's (line %d): a caller must resolve to one consumer", attr, v, prev.Name, prev.Line)
		} else {
			seen[index] = cs
		}
	}
	for i := range p.Composites {
		cp := &p.Composites[i]
		if declare(cp.Pos, fmt.Sprintf("policy/composite name=%q", cp.Name), cp.Name, partyComposite) {
			compositeNames = append(compositeNames, cp.Name)
		}
	}
	known := func() string {
		var parts []string
		for _, l := range []struct {
			what  string
			names []string
		}{{"consumers", consumerNames}, {"composites", compositeNames}, {"services", serviceNames}} {
			if len(l.names) > 0 {
				parts = append(parts, l.what+": "+strings.Join(l.names, ", "))
			}
		}
		if len(parts) == 0 {
			return "there are no consumers, composites or services"
		}
		return strings.Join(parts, "; ")
	}

	type edge struct{ from, to string }
	edges := map[edge]int{}
	into := map[string]bool{} // services and composites some flow leads to
	for i := range p.Flows {
		f := &p.Flows[i]
		el := fmt.Sprintf("policy/flow from=%q to=%q", f.From, f.To)
		from, to := parties[f.From], parties[f.To]
		ok := true
		switch from.kind {
		case partyNone:
			c.errorf(f.Pos, el, "from: unknown party %q (%s)", f.From, known())
			ok = false
		case partyService:
			c.errorf(f.Pos, el, "from: %q is a service: only consumers and composites call through the gateway", f.From)
			ok = false
		}
		switch to.kind {
		case partyNone:
			c.errorf(f.Pos, el, "to: unknown party %q (%s)", f.To, known())
			ok = false
		case partyConsumer:
			c.errorf(f.Pos, el, "to: %q is a consumer: a flow leads to a service or a composite", f.To)
			ok = false
		}
		if !ok {
			continue
		}
		e := edge{f.From, f.To}
		switch line, dup := edges[e]; {
		case f.From == f.To:
			c.errorf(f.Pos, el, "a composite does not flow to itself")
		case dup:
			c.errorf(f.Pos, el, "flow %s → %s is already listed (line %d)", f.From, f.To, line)
		default:
			edges[e] = f.Line
			into[f.To] = true
		}
	}

	ids := map[string]int{}
	for i := range p.Rules {
		r := &p.Rules[i]
		el := fmt.Sprintf("policy/rule id=%q", r.ID)
		if line, dup := ids[r.ID]; dup {
			c.errorf(r.Pos, el, "duplicate rule id (first at line %d)", line)
		} else {
			ids[r.ID] = r.Line
		}
		if r.Effect != EffectAllow && r.Effect != EffectDeny {
			c.errorf(r.Pos, el, "effect %q is not %s or %s", r.Effect, EffectAllow, EffectDeny)
		}
		serviceOK := parties[r.Service].kind == partyService
		if !serviceOK {
			names := "there are no services"
			if len(serviceNames) > 0 {
				names = "services: " + strings.Join(serviceNames, ", ")
			}
			if k := parties[r.Service].kind; k != partyNone {
				c.errorf(r.Pos, el, "service %q is a %s, not a service (%s)", r.Service, k, names)
			} else {
				c.errorf(r.Pos, el, "unknown service %q (%s)", r.Service, names)
			}
		}
		if err := ParseOperation(r.Operation); err != nil {
			c.errorf(r.Pos, el, "%v", err)
		} else if r.Operation != OperationAny && serviceOK {
			c.checkContractOperation(cfg, r, el)
		}
		if r.Effect == EffectAllow && !r.HasIdentityCondition() {
			c.errorf(r.Pos, el, "an allow rule needs at least one caller, subject, role or attribute condition: without one it would allow everyone")
		}
		if serviceOK && r.Effect == EffectAllow && !into[r.Service] {
			c.warnf(r.Pos, el, "no flow leads to service %q, so this rule allows nothing", r.Service)
		}
		c.checkConditions(r, el, compositeNames, func(composite string) bool { _, ok := edges[edge{composite, r.Service}]; return ok }, serviceOK)
	}
}

// checkWorkload checks the workload and prefix of a consumer or a caller
// condition: exactly one is set, and it is not empty.
func (c *checker) checkWorkload(p Pos, el, what, workload, prefix string) bool {
	if err := workloadIDError(workload); workload != "" && err != nil {
		c.errorf(p, el, "%v", err)
		return false
	}
	switch {
	case workload != "" && prefix != "":
		c.errorf(p, el, "workload and prefix exclude each other: a %s is one workload id or every id with one prefix", what)
	case workload == "" && prefix == "":
		c.errorf(p, el, "a workload or a prefix is required, and it must not be empty (an empty prefix would match every caller)")
	default:
		return true
	}
	return false
}

// checkConditions checks a rule's conditions; edge reports whether the
// named composite flows to the rule's service.
func (c *checker) checkConditions(r *Rule, el string, composites []string, edge func(string) bool, serviceOK bool) {
	for i, cc := range r.Callers {
		if !c.checkWorkload(cc.Pos, el+"/caller", "caller", cc.Workload, cc.Prefix) {
			continue
		}
		same := func(o CallerCondition) bool {
			return o.Prefix == cc.Prefix && (o.Workload == cc.Workload || o.Workload != "" && sameWorkload(o.Workload, cc.Workload))
		}
		if slices.ContainsFunc(r.Callers[:i], same) {
			attr, v := "workload", cc.Workload
			if cc.Prefix != "" {
				attr, v = "prefix", cc.Prefix
			}
			c.errorf(cc.Pos, el+"/caller", "%s %q is listed twice", attr, v)
		}
	}
	listedTwice := func(p Pos, sub, attr, v string, earlier []string) {
		if slices.Contains(earlier, v) {
			c.errorf(p, el+"/"+sub, "%s %q is listed twice", attr, v)
		}
	}
	var seen []string
	for _, s := range r.Subjects {
		listedTwice(s.Pos, "subject", "name", s.Name, seen)
		seen = append(seen, s.Name)
	}
	seen = nil
	for _, ro := range r.Roles {
		listedTwice(ro.Pos, "role", "name", ro.Name, seen)
		seen = append(seen, ro.Name)
	}
	for _, a := range r.Attributes {
		ael := fmt.Sprintf("%s/attribute name=%q", el, a.Name)
		switch {
		case a.Name == "":
			c.errorf(a.Pos, ael, "name is empty")
		case len(a.given) > 1:
			c.errorf(a.Pos, ael, "give one of equals, oneOf and prefix, not %s", strings.Join(a.given, " and "))
		case a.Match == "":
			c.errorf(a.Pos, ael, "one of equals, oneOf and prefix is required")
		case a.Match == MatchOneOf && len(a.Values) == 0:
			c.errorf(a.Pos, ael, "oneOf lists no value, so the condition could never hold")
		case a.Match == MatchOneOf:
			if v, dup := firstDuplicate(a.Values); dup {
				c.errorf(a.Pos, ael, "oneOf lists %q twice", v)
			}
		}
	}
	seen = nil
	for _, au := range r.Authentications {
		if err := CheckAuthnMethod(au.Method); err != nil {
			c.errorf(au.Pos, el+"/authentication", "%v", err)
		}
		listedTwice(au.Pos, "authentication", "method", au.Method, seen)
		seen = append(seen, au.Method)
	}
	seen = nil
	for _, de := range r.Delegations {
		if de.Actor == "" {
			c.errorf(de.Pos, el+"/delegation", "actor is empty")
			continue
		}
		listedTwice(de.Pos, "delegation", "actor", de.Actor, seen)
		seen = append(seen, de.Actor)
		// This gateway authorizes its own composites' hops with the
		// caller's chain, which does not name the composite yet: only
		// the services the hops reach see it as the last actor.
		if name, ok := strings.CutPrefix(de.Actor, CompositeActorPrefix); ok && slices.Contains(composites, name) {
			c.warnf(de.Pos, el+"/delegation", "actor %q is this configuration's composite %q, whose hops are authorized here with the caller's delegation chain, not naming it: position composite=%q selects them", de.Actor, name, name)
		}
	}
	if pc := r.Position; pc != nil {
		pel := el + "/position"
		switch {
		case pc.Direct && pc.Composite != "":
			c.errorf(pc.Pos, pel, `direct="true" and composite exclude each other`)
		case !pc.Direct && pc.Composite == "":
			c.errorf(pc.Pos, pel, `say direct="true" (direct calls only) or name a composite (only its hops)`)
		case pc.Composite != "" && !slices.Contains(composites, pc.Composite):
			names := "there are no composites"
			if len(composites) > 0 {
				names = "composites: " + strings.Join(composites, ", ")
			}
			c.errorf(pc.Pos, pel, "unknown composite %q (%s)", pc.Composite, names)
		case pc.Composite != "" && serviceOK && r.Effect == EffectAllow && !edge(pc.Composite):
			c.warnf(pc.Pos, pel, "there is no flow %s → %s, so this rule allows nothing", pc.Composite, r.Service)
		}
	}
}
