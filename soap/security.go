package soap

import "github.com/beevik/etree"

// securityNamespaces are the namespaces a wsse:Security header block has
// had: the OASIS WSS 1.0 namespace (which WSS 1.1 keeps for Security) and
// the pre-OASIS drafts that old stacks still send.
var securityNamespaces = []string{
	NSWSSE,
	"http://schemas.xmlsoap.org/ws/2002/04/secext",
	"http://schemas.xmlsoap.org/ws/2002/07/secext",
	"http://schemas.xmlsoap.org/ws/2002/12/secext",
	"http://schemas.xmlsoap.org/ws/2003/06/secext",
}

// IsSecurityHeader reports whether h is a Security header block of any
// WS-Security version or draft.
func IsSecurityHeader(h *etree.Element) bool {
	if h.Tag != "Security" {
		return false
	}
	ns := h.NamespaceURI()
	for _, s := range securityNamespaces {
		if ns == s {
			return true
		}
	}
	return false
}

// RemoveSecurityHeaders removes from the envelope every Security header
// block, of any WS-Security version or draft, addressed to actor (see
// TargetedAt: no actor, next, or actor itself), and reports how many it
// removed. Security headers for other actors stay: they are for a later
// receiver.
func (e *Envelope) RemoveSecurityHeaders(actor string) int {
	n := 0
	for _, h := range e.HeaderBlocks() {
		if IsSecurityHeader(h) && e.TargetedAt(h, actor) {
			e.Header.RemoveChild(h)
			n++
		}
	}
	return n
}

// RemoveAddressingHeaders removes the WS-Addressing header blocks whose
// local name keep does not list, and reports how many it removed.
func (e *Envelope) RemoveAddressingHeaders(keep func(local string) bool) int {
	n := 0
	for _, h := range e.HeaderBlocks() {
		if ns := h.NamespaceURI(); (ns == NSWSA || ns == NSWSA2004) && !keep(h.Tag) {
			e.Header.RemoveChild(h)
			n++
		}
	}
	return n
}
