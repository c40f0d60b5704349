package gateway

import (
	"fmt"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/conf"
	"github.com/gatehouse/gatehouse/soap"
)

// decryptMessage decrypts the encrypted parts of a request for a service
// with decryption keys, and holds it to the service's encryptedParts: the
// Body content and each listed header block present must be ones that
// arrived encrypted (by identity: the element the service gets is the one
// decrypted). A service without keys refuses encrypted content outright
// (nothing it cannot read passes to the backend).
func decryptMessage(svc *service, env *soap.Envelope) error {
	if svc.decrypter == nil {
		if encrypted(env) {
			return soap.SecurityFault(soap.FaultFailedCheck, "security error in the message", fmt.Errorf("the message is encrypted and service %s has no decryption key", svc.name))
		}
		return nil
	}
	res, err := svc.decrypter.Decrypt(env, securityHeader(env, svc.actor))
	if err != nil {
		return err
	}
	fail := func(format string, args ...any) error {
		return soap.SecurityFault(soap.FaultFailedCheck, "security error in the message", fmt.Errorf(format, args...))
	}
	for _, p := range svc.encryptedParts {
		switch p.Kind {
		case conf.PartBody:
			for _, el := range env.Body.ChildElements() {
				if !containsElement(res.Elements, el) {
					return fail("encryptedParts: Body content {%s}%s did not arrive encrypted", el.NamespaceURI(), el.Tag)
				}
			}
			if !res.Body {
				return fail("encryptedParts: the Body did not arrive encrypted")
			}
		case conf.PartHeader:
			for _, h := range env.HeaderBlocks() {
				if h.Tag == p.Local && h.NamespaceURI() == p.Namespace && !containsElement(res.Headers, h) {
					return fail("encryptedParts: header %s did not arrive encrypted", p)
				}
			}
		}
	}
	return nil
}

func containsElement(els []*etree.Element, el *etree.Element) bool {
	for _, e := range els {
		if e == el {
			return true
		}
	}
	return false
}

// encrypted reports whether the message carries encrypted content.
func encrypted(env *soap.Envelope) bool {
	for _, c := range env.Body.ChildElements() {
		if c.Tag == "EncryptedData" && c.NamespaceURI() == "http://www.w3.org/2001/04/xmlenc#" {
			return true
		}
	}
	for _, h := range env.HeaderBlocks() {
		if h.Tag == "EncryptedHeader" && h.NamespaceURI() == "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd" {
			return true
		}
	}
	return false
}

// securityHeader is the Security header block addressed to Gatehouse.
func securityHeader(env *soap.Envelope, actor string) *etree.Element {
	for _, h := range env.HeaderBlocks() {
		if h.Tag == "Security" && h.NamespaceURI() == soap.NSWSSE && env.TargetedAt(h, actor) {
			return h
		}
	}
	return nil
}
