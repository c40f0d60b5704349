package schemas

import (
	"embed"
	"io/fs"
)

// The embedded schema documents (std/README.md says where each comes from).
//
//go:embed std/*.xsd
var std embed.FS

// Names of embedded schema documents, for CompileEmbedded.
const (
	SOAP11Envelope = "soap11-envelope.xsd"
	SOAP12Envelope = "soap12-envelope.xsd"
	XML            = "xml.xsd"
	XMLDSig        = "xmldsig-core-schema.xsd"
	XMLEnc         = "xenc-schema.xsd"
	XMLEnc11       = "xenc-schema-11.xsd"
	SAML20         = "saml-schema-assertion-2.0.xsd"
	SAML11         = "cs-sstc-schema-assertion-1.1.xsd"
	SAMLDelegation = "sstc-saml-delegation.xsd"
	WSSecext10     = "oasis-200401-wss-wssecurity-secext-1.0.xsd"
	WSUtility10    = "oasis-200401-wss-wssecurity-utility-1.0.xsd"
	WSSecext11     = "oasis-wss-wssecurity-secext-1.1.xsd"
	WSAddressing   = "ws-addr.xsd"
	WSTrust13      = "ws-trust-1.3.xsd"
	WSTrust14      = "ws-trust-1.4.xsd"
)

// embeddedScheme names embedded documents in schema locations and in error
// messages: "embedded:/xml.xsd". Relative imports between embedded documents
// resolve against it the way they would against a directory.
const embeddedScheme = "embedded"

// embedded returns an embedded document by file name.
func embedded(name string) ([]byte, bool) {
	if !fs.ValidPath(name) || name == "." {
		return nil, false
	}
	b, err := std.ReadFile("std/" + name)
	return b, err == nil
}

// catalogURL maps the published location of a standard schema, as other
// schemas write it in schemaLocation, to its embedded copy. Nothing is ever
// fetched from these addresses.
func catalogURL(location string) (string, bool) {
	switch location {
	case "http://schemas.xmlsoap.org/soap/envelope/",
		"http://schemas.xmlsoap.org/soap/envelope":
		return SOAP11Envelope, true
	case "http://www.w3.org/2003/05/soap-envelope",
		"http://www.w3.org/2003/05/soap-envelope/",
		"http://www.w3.org/2003/05/soap-envelope/soap-envelope.xsd":
		return SOAP12Envelope, true
	case "http://www.w3.org/2001/xml.xsd",
		"http://www.w3.org/2001/03/xml.xsd",
		"http://www.w3.org/2005/08/xml.xsd",
		"http://www.w3.org/2009/01/xml.xsd":
		return XML, true
	case "http://www.w3.org/TR/2002/REC-xmldsig-core-20020212/xmldsig-core-schema.xsd",
		"http://www.w3.org/TR/xmldsig-core/xmldsig-core-schema.xsd":
		return XMLDSig, true
	case "http://www.w3.org/TR/2002/REC-xmlenc-core-20021210/xenc-schema.xsd",
		"http://www.w3.org/TR/xmlenc-core/xenc-schema.xsd":
		return XMLEnc, true
	case "http://www.w3.org/TR/2013/REC-xmlenc-core1-20130411/xenc-schema-11.xsd",
		"http://www.w3.org/TR/xmlenc-core1/xenc-schema-11.xsd":
		return XMLEnc11, true
	case "http://docs.oasis-open.org/security/saml/v2.0/saml-schema-assertion-2.0.xsd":
		return SAML20, true
	case "http://docs.oasis-open.org/security/saml/Post2.0/sstc-saml-delegation.xsd":
		return SAMLDelegation, true
	case "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd":
		return WSSecext10, true
	case "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd":
		return WSUtility10, true
	case "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd":
		return WSSecext11, true
	case "http://www.w3.org/2006/03/addressing/ws-addr.xsd",
		"http://www.w3.org/2005/08/addressing/ws-addr.xsd":
		return WSAddressing, true
	case "http://docs.oasis-open.org/ws-sx/ws-trust/200512/ws-trust-1.3.xsd":
		return WSTrust13, true
	case "http://docs.oasis-open.org/ws-sx/ws-trust/200802/ws-trust-1.4.xsd":
		return WSTrust14, true
	}
	return "", false
}

// catalogNamespace maps a target namespace to its embedded schema, for
// xs:import elements that name a namespace but no schemaLocation (libxml2
// would otherwise load nothing for them).
func catalogNamespace(ns string) (string, bool) {
	switch ns {
	case "http://schemas.xmlsoap.org/soap/envelope/":
		return SOAP11Envelope, true
	case "http://www.w3.org/2003/05/soap-envelope":
		return SOAP12Envelope, true
	case "http://www.w3.org/XML/1998/namespace":
		return XML, true
	case "http://www.w3.org/2000/09/xmldsig#":
		return XMLDSig, true
	case "http://www.w3.org/2001/04/xmlenc#":
		return XMLEnc, true
	case "http://www.w3.org/2009/xmlenc11#":
		return XMLEnc11, true
	case "urn:oasis:names:tc:SAML:2.0:assertion":
		return SAML20, true
	case "urn:oasis:names:tc:SAML:1.0:assertion":
		return SAML11, true
	case "urn:oasis:names:tc:SAML:2.0:conditions:delegation":
		return SAMLDelegation, true
	case "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd":
		return WSSecext10, true
	case "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd":
		return WSUtility10, true
	case "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd":
		return WSSecext11, true
	case "http://www.w3.org/2005/08/addressing":
		return WSAddressing, true
	case "http://docs.oasis-open.org/ws-sx/ws-trust/200512":
		return WSTrust13, true
	case "http://docs.oasis-open.org/ws-sx/ws-trust/200802":
		return WSTrust14, true
	}
	return "", false
}
