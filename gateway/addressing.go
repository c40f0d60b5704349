package gateway

import (
	"fmt"
	"slices"

	"github.com/gatehouse/gatehouse/soap"
)

// checkAddressing enforces the request's WS-Addressing headers (invariant
// 12): a wsa:To must name one of the service's endpoints, so that a signed
// message sent to one service cannot be replayed at another that trusts
// the same signer; wsa:ReplyTo and wsa:FaultTo must be the anonymous or
// none URIs unless the service allows other addresses, so that a consumer
// cannot point the backend's replies or faults at an address of its
// choosing. Which of these headers must be signed, and by whom, is the
// WS-Security policy's (signedParts).
func checkAddressing(svc *service, a soap.Addressing) error {
	if a.To != "" && !slices.Contains(svc.endpoints, a.To) {
		return &soap.Fault{Code: soap.Sender, Subcode: soap.FaultDestinationUnreachable, Public: "no route can be determined to the destination",
			Err: fmt.Errorf("wsa:To %q is not an endpoint of service %s (%q)", a.To, svc.name, svc.endpoints)}
	}
	if svc.allowReplyTo {
		return nil
	}
	for _, h := range []struct{ name, addr string }{{"ReplyTo", a.ReplyTo}, {"FaultTo", a.FaultTo}} {
		if h.addr != "" && !soap.AnonymousAddress(h.addr) {
			return &soap.Fault{Code: soap.Sender, Subcode: soap.FaultInvalidAddressingHeader, Public: "invalid addressing header",
				Err: fmt.Errorf("wsa:%s %q is not the anonymous or none address, and service %s does not allow others", h.name, h.addr, svc.name)}
		}
	}
	return nil
}
