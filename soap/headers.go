package soap

import (
	"fmt"

	"github.com/beevik/etree"
)

// Roles (SOAP 1.2) and actors (SOAP 1.1) that every node plays.
const (
	ActorNext11        = "http://schemas.xmlsoap.org/soap/actor/next"
	RoleNext12         = "http://www.w3.org/2003/05/soap-envelope/role/next"
	RoleUltimate12     = "http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver"
	RoleNone12         = "http://www.w3.org/2003/05/soap-envelope/role/none"
	roleAttribute11    = "actor"
	roleAttribute12    = "role"
	mustUnderstandAttr = "mustUnderstand"
)

// AttrNS returns the value of the attribute with the expanded name
// {space}local on el, and whether it is present. Unqualified attributes have
// the empty namespace.
func AttrNS(el *etree.Element, space, local string) (string, bool) {
	for _, a := range el.Attr {
		if a.Key != local || a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
			continue
		}
		if a.Space == "" {
			if space == "" {
				return a.Value, true
			}
			continue
		}
		if a.NamespaceURI() == space {
			return a.Value, true
		}
	}
	return "", false
}

// Role returns the actor (1.1) or role (1.2) a header block is addressed
// to; "" means the ultimate receiver.
func (e *Envelope) Role(h *etree.Element) string {
	if e.Version == V12 {
		r, _ := AttrNS(h, NS12, roleAttribute12)
		if r == RoleUltimate12 {
			return ""
		}
		return r
	}
	r, _ := AttrNS(h, NS11, roleAttribute11)
	return r
}

// TargetedAt reports whether header block h is addressed to a node playing
// the role actor (besides the roles every node plays: "next" and, for the
// gateway as the receiver of the consumer's message, the ultimate receiver).
func (e *Envelope) TargetedAt(h *etree.Element, actor string) bool {
	switch r := e.Role(h); r {
	case "", ActorNext11, RoleNext12:
		return true
	case RoleNone12:
		return false
	default:
		return actor != "" && r == actor
	}
}

// MustUnderstand reports whether header block h carries mustUnderstand
// ("1" in SOAP 1.1; "1" or "true" in SOAP 1.2).
func (e *Envelope) MustUnderstand(h *etree.Element) bool {
	v, ok := AttrNS(h, e.Version.Namespace(), mustUnderstandAttr)
	if !ok {
		return false
	}
	return v == "1" || (e.Version == V12 && v == "true")
}

// CheckMustUnderstand fails with a MustUnderstand fault when a header block
// addressed to actor is marked mustUnderstand and understood does not know it.
func (e *Envelope) CheckMustUnderstand(actor string, understood func(ns, local string) bool) error {
	for _, h := range e.HeaderBlocks() {
		if !e.TargetedAt(h, actor) || !e.MustUnderstand(h) {
			continue
		}
		if ns := h.NamespaceURI(); !understood(ns, h.Tag) {
			return &Fault{Code: MustUnderstand, Public: "a mandatory header was not understood",
				Err: fmt.Errorf("header {%s}%s has mustUnderstand and is not understood", ns, h.Tag)}
		}
	}
	return nil
}
