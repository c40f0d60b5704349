package soap

import (
	"fmt"
	"strings"

	"github.com/beevik/etree"
)

// WS-Addressing namespaces: the W3C 1.0 recommendation and the 2004/08
// member submission that older stacks still send.
const (
	NSWSA     = "http://www.w3.org/2005/08/addressing"
	NSWSA2004 = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
)

// FaultInvalidAddressingHeader is the WS-Addressing 1.0 SOAP Binding subcode
// for a header with the wrong cardinality or content.
var FaultInvalidAddressingHeader = QName{NSWSA, "InvalidAddressingHeader"}

// FaultDestinationUnreachable is the WS-Addressing 1.0 SOAP Binding subcode
// for a wsa:To that names no endpoint of this receiver.
var FaultDestinationUnreachable = QName{NSWSA, "DestinationUnreachable"}

// AnonymousAddress reports whether an endpoint address is one that sends
// the reply back on the request's own connection or sends none: the
// anonymous and none URIs of WS-Addressing 1.0 and the anonymous URI of the
// 2004/08 submission.
func AnonymousAddress(addr string) bool {
	switch addr {
	case NSWSA + "/anonymous", NSWSA + "/none", NSWSA2004 + "/role/anonymous":
		return true
	}
	return false
}

// Addressing holds the WS-Addressing message addressing properties used for
// correlation and routing checks. Empty strings mean absent.
type Addressing struct {
	Namespace string // which WS-Addressing namespace the headers used
	MessageID string
	To        string
	Action    string
	// ReplyTo, FaultTo and From are the wsa:Address of those endpoint
	// references; "" when the header is absent.
	ReplyTo, FaultTo, From string
	RelatesTo              []string
	// Elements are the header blocks these values came from, so that a
	// signature policy can require them to be signed.
	Elements []*etree.Element
}

// readAddressing collects the WS-Addressing headers. MessageID, To and Action
// may appear at most once (WS-Addressing 1.0 Core, 3.2), and the headers of
// one message use one namespace.
func (e *Envelope) readAddressing() error {
	for _, h := range e.HeaderBlocks() {
		ns := h.NamespaceURI()
		if ns != NSWSA && ns != NSWSA2004 {
			continue
		}
		if e.Addressing.Namespace != "" && e.Addressing.Namespace != ns {
			return addressingFault("WS-Addressing headers in two namespaces")
		}
		e.Addressing.Namespace = ns
		var dst *string
		switch h.Tag {
		case "MessageID":
			dst = &e.Addressing.MessageID
		case "To":
			dst = &e.Addressing.To
		case "Action":
			dst = &e.Addressing.Action
		case "ReplyTo", "FaultTo", "From":
			dst := map[string]*string{"ReplyTo": &e.Addressing.ReplyTo, "FaultTo": &e.Addressing.FaultTo, "From": &e.Addressing.From}[h.Tag]
			if *dst != "" {
				return addressingFault("duplicate wsa:%s header", h.Tag)
			}
			addr, err := endpointAddress(h, ns)
			if err != nil {
				return err
			}
			*dst = addr
			e.Addressing.Elements = append(e.Addressing.Elements, h)
			continue
		case "RelatesTo":
			v, err := addressingText(h)
			if err != nil {
				return err
			}
			e.Addressing.RelatesTo = append(e.Addressing.RelatesTo, v)
			e.Addressing.Elements = append(e.Addressing.Elements, h)
			continue
		default:
			continue
		}
		if *dst != "" {
			return addressingFault("duplicate wsa:%s header", h.Tag)
		}
		v, err := addressingText(h)
		if err != nil {
			return err
		}
		if v == "" {
			return addressingFault("empty wsa:%s header", h.Tag)
		}
		*dst = v
		e.Addressing.Elements = append(e.Addressing.Elements, h)
	}
	return nil
}

// endpointAddress reads the one wsa:Address of an endpoint reference.
func endpointAddress(h *etree.Element, ns string) (string, error) {
	var addr *etree.Element
	for _, c := range h.ChildElements() {
		if c.Tag == "Address" && c.NamespaceURI() == ns {
			if addr != nil {
				return "", addressingFault("wsa:%s with two Address elements", h.Tag)
			}
			addr = c
		}
	}
	if addr == nil {
		return "", addressingFault("wsa:%s without Address", h.Tag)
	}
	v, err := addressingText(addr)
	if err != nil {
		return "", err
	}
	if v == "" {
		return "", addressingFault("wsa:%s with an empty Address", h.Tag)
	}
	return v, nil
}

func addressingText(h *etree.Element) (string, error) {
	v, err := Text(h)
	if err != nil {
		return "", addressingFault("wsa:%s: %v", h.Tag, err)
	}
	return strings.TrimSpace(v), nil
}

func addressingFault(format string, args ...any) *Fault {
	return &Fault{Code: Sender, Subcode: FaultInvalidAddressingHeader,
		Public: "invalid addressing header", Err: fmt.Errorf(format, args...)}
}
