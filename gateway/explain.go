package gateway

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/gateway/authz"
	"github.com/gatehouse/gatehouse/soap"
)

// ExplainQuery is the identity and call an explanation is about: what the
// pipeline would have verified for a real request.
type ExplainQuery struct {
	Service, Caller, Subject, Issuer, AuthnMethod, Composite string
	Roles                                                    []string
	Attributes                                               map[string][]string
	Actors                                                   []string // the delegation chain, oldest first
}

// Explain replays the authorization decision for a SOAP message and an
// identity, and says which rule allowed or denied it and why, one step a
// line, the decision last. It is what `gatehouse explain` and the admin
// endpoint POST /explain print.
func Explain(p *authz.Policy, message []byte, q ExplainQuery) (string, bool, error) {
	env, err := soap.Parse(message, soap.DefaultLimits())
	if err != nil {
		return "", false, fmt.Errorf("message: %w", err)
	}
	r := &authz.Request{
		Caller: q.Caller, Consumer: p.Consumer(q.Caller), Subject: q.Subject, Issuer: q.Issuer, Roles: q.Roles,
		Attributes: q.Attributes, AuthnMethod: q.AuthnMethod, Service: q.Service,
		Operation: env.Operation().String(), Composite: q.Composite, Actors: q.Actors,
	}
	var b strings.Builder
	fmt.Fprintf(&b, "request: service %s, operation %s, caller %q (consumer %q), subject %q, roles %v",
		r.Service, r.Operation, r.Caller, r.Consumer, r.Subject, r.Roles)
	if r.Issuer != "" {
		fmt.Fprintf(&b, ", issuer %q", r.Issuer)
	}
	if len(r.Actors) > 0 {
		fmt.Fprintf(&b, ", actors %q", r.Actors)
	}
	b.WriteByte('\n')
	allowed := false
	for _, s := range p.Explain(r) {
		b.WriteString(s.String())
		b.WriteByte('\n')
		if s.Kind == authz.StepDecision {
			allowed = s.Matched
		}
	}
	return b.String(), allowed, nil
}

// explainHandler serves POST /explain on the admin listener: the body is
// the SOAP message, the query names the identity (service, caller, subject, issuer,
// roles=a,b, attr=name=value (repeatable), authn, composite, actors=a,b:
// the delegation chain, oldest first).
func (g *Gateway) explainHandler(w http.ResponseWriter, r *http.Request) {
	msg, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	out, _, err := Explain(g.policy, msg, QueryFromValues(r.URL.Query()))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, out)
}

// QueryFromValues reads an ExplainQuery from URL query values.
func QueryFromValues(v url.Values) ExplainQuery {
	q := ExplainQuery{Service: v.Get("service"), Caller: v.Get("caller"), Subject: v.Get("subject"),
		Issuer: v.Get("issuer"), AuthnMethod: v.Get("authn"), Composite: v.Get("composite")}
	if roles := v.Get("roles"); roles != "" {
		q.Roles = strings.Split(roles, ",")
	}
	if actors := v.Get("actors"); actors != "" {
		q.Actors = strings.Split(actors, ",")
	}
	for _, a := range v["attr"] {
		if name, val, ok := strings.Cut(a, "="); ok {
			if q.Attributes == nil {
				q.Attributes = map[string][]string{}
			}
			q.Attributes[name] = append(q.Attributes[name], val)
		}
	}
	return q
}
