// Package soap owns the SOAP 1.1 and 1.2 envelope model, the hardened parser
// that builds it, SOAP faults and the WS-Addressing headers.
//
// Guarantees of Parse:
//   - no DTD: a DOCTYPE, entity declaration or any other markup declaration is
//     rejected, never expanded; only the five predefined entities and character
//     references are understood; XInclude elements are rejected, and so are
//     xsi:schemaLocation hints (schemas come from the configuration);
//   - only UTF-8 input (a UTF-8 byte order mark is allowed), so that every
//     parser that later reads the same bytes (libxml2 for XSD validation) sees
//     the same text;
//   - limits (bytes, depth, elements, attributes and namespace declarations per
//     element, name length, text size) are checked token by token while the
//     tree is built, so a hostile document is refused before it is held whole;
//   - duplicate attributes (by prefixed name and by expanded name), undeclared
//     prefixes and duplicate ID-like attributes are rejected, because etree
//     silently keeps the last duplicate attribute where libxml2 refuses the
//     document, and two elements with one ID make a reference ambiguous;
//   - the structure is exactly one Envelope holding at most one Header followed
//     by exactly one Body and nothing else (WS-I Basic Profile R1011 for 1.1).
//
// Parse does not validate against XSD (package schemas does that) and does not
// interpret the WS-Security header (package soap/wssec does).
package soap
