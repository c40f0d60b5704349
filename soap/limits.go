package soap

// Limits bound what Parse accepts. Every field must be positive; a message
// over any limit is refused with a Sender fault before it is parsed further.
type Limits struct {
	MaxBytes      int64 // whole message
	MaxDepth      int   // element nesting, the Envelope is depth 1
	MaxElements   int   // elements in the document
	MaxAttributes int   // attributes per element, namespace declarations included
	MaxNamespaces int   // namespace declarations per element
	MaxNameLength int   // prefix:local of an element or attribute name
	MaxTextBytes  int64 // one text node, comment or attribute value
}

// DefaultLimits suit ordinary enterprise SOAP traffic: a signed message with a
// SAML assertion fits with room to spare, a hostile one does not.
func DefaultLimits() Limits {
	return Limits{
		MaxBytes:      1 << 20,
		MaxDepth:      64,
		MaxElements:   20000,
		MaxAttributes: 32,
		MaxNamespaces: 16,
		MaxNameLength: 256,
		MaxTextBytes:  256 << 10,
	}
}
