package gateway

import (
	"encoding/xml"
	"fmt"
	"slices"

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
