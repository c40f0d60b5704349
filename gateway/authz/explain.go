package authz

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/conf"
)

// StepKind is what a Step of Explain is about.
type StepKind int

const (
	StepFlow     StepKind = iota + 1 // who calls, and the flow edge to the service
	StepRule                         // one rule for the service and operation
	StepDecision                     // the final decision, always Decide's
)

func (k StepKind) String() string {
	switch k {
	case StepFlow:
		return "flow"
	case StepRule:
		return "rule"
	case StepDecision:
		return "decision"
	}
	return "step(" + strconv.Itoa(int(k)) + ")"
}

// Step is one line of an explanation.
type Step struct {
	Kind StepKind
	// Rule is, for StepRule, the rule's id; for StepDecision, the id of
	// the deciding rule ("" when none decided).
	Rule string
	// Where is, for StepRule, the rule's FILE:LINE when it came from a
	// configuration file.
	Where string
	// Effect is, for StepRule, the rule's effect; for StepDecision, the
	// decision's.
	Effect conf.Effect
	// Matched is, for StepFlow, whether the flow check passed; for
	// StepRule, whether every condition holds; for StepDecision, whether
	// the request is allowed.
	Matched bool
	// Reason says why: the flow edge or why there is none, the first
	// condition the request does not meet, or the decision's Reason.
	Reason string
}

// String formats the step for a person, on one line.
func (s Step) String() string {
	switch s.Kind {
	case StepFlow:
		if s.Matched {
			return "flow: passed: " + s.Reason
		}
		return "flow: refused: " + s.Reason
	case StepRule:
		verdict := "matches"
		if !s.Matched {
			verdict = "does not match"
		}
		where := ""
		if s.Where != "" {
			where = " at " + s.Where
		}
		return fmt.Sprintf("rule %q (%s)%s: %s: %s", s.Rule, s.Effect, where, verdict, s.Reason)
	}
	return fmt.Sprintf("%s: %s: %s", s.Kind, s.Effect, s.Reason)
}

// Explain tells why Decide decides r as it does: first the flow check,
// then every rule for the service and operation in evaluation order (deny
// rules, then allow rules, each in file order), whether it matches and, if
// not, the first condition that fails, and last the decision. The rules
// are listed even when the flow check refuses, to show what would apply.
func (p *Policy) Explain(r *Request) []Step {
	d := p.Decide(r)
	flow := Step{Kind: StepFlow}
	if fd, ok := p.flow(r); ok {
		party := r.Consumer
		if r.Composite != "" {
			party = "composite " + r.Composite
		}
		flow.Matched, flow.Reason = true, "flow edge "+party+" → "+r.Service
	} else {
		flow.Reason = fd.Reason
	}
	steps := []Step{flow}
	if p != nil && r != nil {
		if set := p.rules(r.Service, r.Operation); set != nil {
			for _, list := range [][]*rule{set.deny, set.allow} {
				for _, ru := range list {
					steps = append(steps, ru.explain(r))
				}
			}
		}
	}
	effect := conf.EffectDeny
	if d.Allow {
		effect = conf.EffectAllow
	}
	return append(steps, Step{Kind: StepDecision, Rule: d.Rule, Effect: effect, Matched: d.Allow, Reason: d.Reason})
}

func (ru *rule) explain(r *Request) Step {
	s := Step{Kind: StepRule, Rule: ru.id, Where: ru.where, Effect: conf.EffectDeny}
	if ru.allow {
		s.Effect = conf.EffectAllow
	}
	f := ru.check(r)
	if f.cond == condNone {
		s.Matched = true
		s.Reason = "every condition holds"
		if len(ru.callers)+len(ru.subjects)+len(ru.issuers)+len(ru.roles)+len(ru.attrs)+len(ru.authn)+len(ru.actors) == 0 && ru.position.kind == positionAny {
			s.Reason = "the rule has no condition"
		}
		return s
	}
	s.Reason = ru.describe(f, r)
	return s
}

// describe says which condition failed, and with what the request had.
func (ru *rule) describe(f failure, r *Request) string {
	switch f.cond {
	case condCaller:
		if r.Caller == "" {
			return "caller: the caller is anonymous; the rule wants " + ru.callerList()
		}
		return fmt.Sprintf("caller: %q is not %s", r.Caller, ru.callerList())
	case condSubject:
		if r.Subject == "" {
			return "subject: there is none; the rule wants " + quoteList(ru.subjects, " or ")
		}
		return fmt.Sprintf("subject: %q is not %s", r.Subject, quoteList(ru.subjects, " or "))
	case condIssuer:
		if r.Issuer == "" {
			return "issuer: there is none; the rule wants " + quoteList(ru.issuers, " or ")
		}
		return fmt.Sprintf("issuer: %q is not %s", r.Issuer, quoteList(ru.issuers, " or "))
	case condRole:
		return fmt.Sprintf("role: the subject does not have role %q", ru.roles[f.index])
	case condAttribute:
		a := &ru.attrs[f.index]
		values, ok := r.Attributes[a.name]
		if !ok || len(values) == 0 {
			return fmt.Sprintf("attribute: the subject has no attribute %q", a.name)
		}
		var want string
		switch a.match {
		case conf.MatchEquals:
			want = "equals " + strconv.Quote(a.values[0])
		case conf.MatchOneOf:
			want = "is one of " + quoteList(a.values, ", ")
		case conf.MatchPrefix:
			want = "starts with " + strconv.Quote(a.values[0])
		}
		return fmt.Sprintf("attribute: no value of %q (%s) %s", a.name, quoteList(values, ", "), want)
	case condAuthn:
		if r.AuthnMethod == "" {
			return "authentication: the request names no method; the rule wants " + quoteList(ru.authn, " or ")
		}
		return fmt.Sprintf("authentication: %q is not %s", r.AuthnMethod, quoteList(ru.authn, " or "))
	case condDelegation:
		if len(r.Actors) == 0 {
			return "delegation: the call was made by no actor; the rule wants " + quoteList(ru.actors, " or ")
		}
		return fmt.Sprintf("delegation: the last actor is %q, not %s", r.Actors[len(r.Actors)-1], quoteList(ru.actors, " or "))
	case condPosition:
		call := "a direct call"
		if r.Composite != "" {
			call = "a hop of composite " + strconv.Quote(r.Composite)
		}
		if ru.position.kind == positionDirect {
			return "position: " + call + ", but the rule applies to direct calls only"
		}
		return "position: " + call + ", but the rule applies only to hops of composite " + strconv.Quote(ru.position.composite)
	}
	return "every condition holds"
}

func (ru *rule) callerList() string {
	parts := make([]string, len(ru.callers))
	for i, c := range ru.callers {
		if c.prefix {
			parts[i] = "a workload under " + strconv.Quote(c.id)
		} else {
			parts[i] = strconv.Quote(c.id)
		}
	}
	return strings.Join(parts, " or ")
}

func quoteList(list []string, sep string) string {
	parts := make([]string, len(list))
	for i, s := range list {
		parts[i] = strconv.Quote(s)
	}
	return strings.Join(parts, sep)
}

// graph is what DOT draws, in the order of the configuration.
type graph struct {
	consumers  []conf.Consumer
	composites []string
	services   []string // flow targets that are no composite, then rule services, each once
	flows      []edge
}

// DOT returns the flow graph in Graphviz DOT: consumers as ellipses
// labelled with their workload id or prefix, composites as hexagons,
// services as boxes, and one edge per flow, in the order of the
// configuration. Services that only rules name appear without edges.
func (p *Policy) DOT() string {
	var b strings.Builder
	b.WriteString("digraph policy {\n\trankdir=LR;\n")
	if p != nil {
		g := &p.graph
		for _, c := range g.consumers {
			label := c.Name + "\n" + c.Workload
			if c.Prefix != "" {
				label = c.Name + "\n" + c.Prefix + "*"
			}
			fmt.Fprintf(&b, "\t%s [shape=ellipse, label=%s];\n", dotID(c.Name), dotID(label))
		}
		for _, name := range g.composites {
			fmt.Fprintf(&b, "\t%s [shape=hexagon];\n", dotID(name))
		}
		for _, name := range g.services {
			fmt.Fprintf(&b, "\t%s [shape=box];\n", dotID(name))
		}
		for _, e := range g.flows {
			fmt.Fprintf(&b, "\t%s -> %s;\n", dotID(e.from), dotID(e.to))
		}
	}
	b.WriteString("}\n")
	return b.String()
}

// dotID quotes s as a DOT string: backslashes and quotes escaped, a
// newline as DOT's \n line break.
func dotID(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", "")
	return `"` + r.Replace(s) + `"`
}
