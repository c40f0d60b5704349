package gateway

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"slices"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/schemas"
	"github.com/gatehouse/gatehouse/schemas/wsdl"
	"github.com/gatehouse/gatehouse/soap"
)

// checkContract holds a request to the service's WSDL port: its Body is
// the input of one of the port's operations (the operation's body
// elements, in order, for document style; its wrapper alone for rpc
// style), and the action it claims (SOAPAction or the SOAP 1.2 action
// parameter, and wsa:Action; equal when both are there) is that
// operation's. A backend that dispatches on the action therefore runs the
// operation Gatehouse authorized on the Body. An operation the WSDL gives
// no action accepts none, or one that names it by its last segment.
func checkContract(c *wsdl.Contract, b soap.Binding, env *soap.Envelope) (*wsdl.Operation, error) {
	if c == nil {
		return nil, &soap.Fault{Code: soap.VersionMismatch, Public: "SOAP version not accepted by this service",
			Err: fmt.Errorf("the service's WSDL has no SOAP %v port", env.Version)}
	}
	var body []xml.Name
	for _, el := range env.Body.ChildElements() {
		body = append(body, xml.Name{Space: el.NamespaceURI(), Local: el.Tag})
	}
	var first xml.Name
	if len(body) > 0 {
		first = body[0]
	}
	var candidates []*wsdl.Operation
	for _, op := range c.Operations {
		if n := op.InputName(); n.Local != "" && n == first {
			candidates = append(candidates, op)
		}
	}
	if len(candidates) == 0 {
		return nil, soap.SenderFault("operation not in the service contract",
			fmt.Errorf("body element {%s}%s is not the input of an operation of WSDL port %s", first.Space, first.Local, c.Port))
	}
	wsa := env.Addressing.Action
	if wsa != "" && b.Action != "" && wsa != b.Action {
		return nil, soap.SenderFault("action does not match the operation", fmt.Errorf("SOAP action %q and wsa:Action %q differ", b.Action, wsa))
	}
	claimed := b.Action
	if wsa != "" {
		claimed = wsa
	}
	var op *wsdl.Operation
	for _, cand := range candidates {
		if claimed == "" || claimed == cand.Action ||
			cand.Action == "" && (soap.ActionMatches(claimed, soap.QName{Local: cand.Name}) || soap.ActionMatches(claimed, soap.QName{Local: first.Local})) {
			op = cand
			break
		}
	}
	if op == nil {
		var want []string
		for _, cand := range candidates {
			want = append(want, fmt.Sprintf("%s: %q", cand.Name, cand.Action))
		}
		return nil, soap.SenderFault("action does not match the operation", fmt.Errorf("action %q is not the action of an operation whose input is {%s}%s (%v)", claimed, first.Space, first.Local, want))
	}
	want := op.Input.Elements
	if op.Style == "rpc" {
		want = []xml.Name{op.Input.Wrapper}
	}
	if !slices.Equal(body, want) {
		return nil, soap.SenderFault("body does not match the operation's input",
			fmt.Errorf("operation %s takes body elements %v, the request has %v", op.Name, want, body))
	}
	return op, nil
}

// checkResponse holds a backend's answer to operation op to the contract
// (for a service with validateResponses): the envelope and its Body
// against the schemas, the Body being op's output (its elements in order,
// or its rpc wrapper) or a SOAP fault whose detail entries are faults op
// declares. A backend that answers something else, after a bug or a
// compromise, is a Receiver fault (502) and its answer is not passed on.
func (g *Gateway) checkResponse(svc *service, op *wsdl.Operation, env *soap.Envelope) error {
	invalid := func(err error) error {
		return soap.ReceiverFault("backend response invalid", err).WithStatus(http.StatusBadGateway)
	}
	var body []xml.Name
	var fault *etree.Element
	for _, el := range env.Body.ChildElements() {
		n := xml.Name{Space: el.NamespaceURI(), Local: el.Tag}
		body = append(body, n)
		if n.Space == env.Version.Namespace() && n.Local == "Fault" {
			fault = el
		}
	}
	if fault != nil {
		if len(body) != 1 {
			return invalid(fmt.Errorf("operation %s: a fault with other body elements %v", op.Name, body))
		}
		if err := schemas.ValidateTree(env.Root, g.envelopeSchema[env.Version], nil); err != nil {
			return invalid(fmt.Errorf("operation %s: fault: %w", op.Name, redactValues(err)))
		}
		detail := fault.SelectElement("detail") // SOAP 1.1: unqualified
		if env.Version == soap.V12 {
			detail = nil
			for _, el := range fault.ChildElements() {
				if el.Tag == "Detail" && el.NamespaceURI() == soap.NS12 {
					detail = el
				}
			}
		}
		if detail == nil {
			return nil
		}
		for _, d := range detail.ChildElements() {
			n := xml.Name{Space: d.NamespaceURI(), Local: d.Tag}
			declared := false
			for _, f := range op.Faults {
				declared = declared || slices.Contains(f.Elements, n)
			}
			if !declared {
				return invalid(fmt.Errorf("operation %s: fault detail {%s}%s is not a fault the operation declares", op.Name, n.Space, n.Local))
			}
			if err := svc.payload.Validate(standalone(d)); err != nil {
				return invalid(fmt.Errorf("operation %s: fault detail {%s}%s: %w", op.Name, n.Space, n.Local, redactValues(err)))
			}
		}
		return nil
	}
	if op.Output == nil {
		return invalid(fmt.Errorf("operation %s is one-way, the backend answered %v", op.Name, body))
	}
	want := op.Output.Elements
	if op.Style == "rpc" {
		want = []xml.Name{op.Output.Wrapper}
	}
	if !slices.Equal(body, want) {
		return invalid(fmt.Errorf("operation %s answers with body elements %v, the backend sent %v", op.Name, want, body))
	}
	if err := schemas.ValidateTree(env.Root, g.envelopeSchema[env.Version], svc.payload); err != nil {
		return invalid(fmt.Errorf("operation %s: %w", op.Name, redactValues(err)))
	}
	return nil
}

// standalone serializes el as a document of its own, with the namespace
// declarations it inherits, so that it can be validated on its own.
func standalone(el *etree.Element) []byte {
	c := el.Copy()
	declared := map[string]bool{}
	for _, a := range soap.InScopeNamespaces(c) {
		declared[a.Space+":"+a.Key] = true
	}
	if p := el.Parent(); p != nil {
		for _, a := range soap.InScopeNamespaces(p) {
			// One of el's own wins over an ancestor's of the same prefix.
			if !declared[a.Space+":"+a.Key] {
				c.Attr = append(c.Attr, a)
			}
		}
	}
	doc := etree.NewDocument()
	doc.SetRoot(c)
	b, _ := doc.WriteToBytes()
	return b
}
