// Package schemas owns Gatehouse's XSD documents and validates XML against
// them with libxml2, through a small cgo shim (shim.c) over libxml2's
// xmlschemas API.
//
// The embedded documents (std/, listed in std/README.md) are the SOAP 1.1
// and 1.2 envelopes, XML-DSig, XML-Enc, xml.xsd, SAML 2.0 and 1.1
// assertions, WS-Security 1.0/1.1 (wsse, wsu, wsse11), WS-Addressing 1.0,
// WS-Trust 1.3 and WS-Trust 1.4 ActAs, and Gatehouse's own configuration
// and user store schemas. CompileEmbedded compiles one of them;
// CompileFiles compiles local files, such as a service's payload schemas. A
// compiled Set validates whole documents (Set.Validate) or a SOAP envelope
// and its Body children (ValidateEnvelope), parsing the document once. An
// envelope already parsed into an etree tree is validated from the tree
// (ValidateTree) through libxml2's streaming validator, without parsing
// it again; its problems have no line numbers.
//
// Guarantees:
//
//   - No network, no stray files. Schema imports, includes and redefines
//     resolve only to embedded documents (by published URL, or by namespace
//     for an import without schemaLocation) and to files inside the allowed
//     directories; anything else fails compilation with the file, line and
//     refused location. libxml2's external entity loader is replaced, once
//     per process, by one that refuses everything outside a compilation, so
//     instance documents load nothing (no xsi:schemaLocation, no external
//     entity, no DTD). This also applies to any other libxml2 user in the
//     same process.
//   - No DTD. A document with a DOCTYPE is refused when the parser meets
//     "<!DOCTYPE", before any declaration is read; schema documents are
//     checked for one before libxml2 sees them. Documents are parsed with
//     XML_PARSE_NONET and without entity substitution, DTD loading or
//     validation, XInclude or XML_PARSE_HUGE (libxml2's default limits on
//     depth and text size stay on).
//   - Bounded errors. Each call reports at most 16 problems (then
//     Truncated), each message copied with a bound of 512 bytes, so a 1 MB
//     invalid value yields a short error, not a crash.
//   - Concurrency. A Set is immutable after compilation and shared
//     read-only by libxml2; every validation uses its own parser and
//     validation contexts. Close waits for nothing: validations already
//     running finish first, later ones fail.
//
// Not guaranteed:
//
//   - Limits are libxml2's, not Gatehouse's: the body size, depth and count
//     limits of architecture invariant 2 belong to package soap, which runs
//     first.
//   - Problem messages are libxml2's and may quote the invalid value;
//     callers decide what of them reaches a client or a log.
//   - libxml2 imports each namespace once: a second xs:import of a namespace
//     with another schemaLocation is skipped (with a warning), not merged.
//   - Schema documents must be UTF-8 or US-ASCII.
//   - Line numbers come from libxml2, which keeps them in 16 bits: lines
//     after 65535 are reported as 65535.
package schemas
