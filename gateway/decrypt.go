package gateway

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"net/http"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/conf"
	"github.com/gatehouse/gatehouse/soap"
	"github.com/gatehouse/gatehouse/soap/wssec"
	"github.com/gatehouse/gatehouse/soap/xmlenc"
)

// decrypt decrypts the encrypted parts of a request for a service with
// decryption keys, and holds it to the service's encryptedParts: the Body
// content and each listed header block present must be ones that arrived
// encrypted (by identity: the element the service gets is the one
// decrypted). A service without keys refuses encrypted content outright
// (nothing it cannot read passes to the backend).
//
// The Security header is processed in its order (WSS 1.1 section 5: each
// step prepends its element, the last applied comes first): when a
// signature comes before the first EncryptedKey or ReferenceList, the
// message was encrypted, then signed, and the signature is verified over
// the encrypted form before anything is decrypted — with the lockout and
// failure counting of authenticate, which then uses this verification —
// and every encrypted part must be covered by the Body's signer: an
// encrypted part it did not sign would come out of decryption unsigned.
// Otherwise (signed, then encrypted; or a layout that names no key in the
// header) the message is decrypted first and the signature verified over
// the plaintext.
func (g *Gateway) decrypt(ctx context.Context, tx *transaction, w http.ResponseWriter, svc *service, env *soap.Envelope) error {
	if svc.decrypter == nil {
		if encrypted(env) {
			return soap.SecurityFault(soap.FaultFailedCheck, "security error in the message", fmt.Errorf("the message is encrypted and service %s has no decryption key", svc.name))
		}
		return nil
	}
	sec, err := wssec.FindSecurity(env, svc.actor)
	if err != nil {
		return err
	}
	tx.decrypted = xmlenc.HeaderElements(sec)
	if vr := svc.verifier; vr != nil && signedAfterEncryption(sec) {
		subjects := lockoutSubjects(tx, env, vr.Policy.Actor)
		tx.attempt = &subjects
		if err := g.shedLockout(svc, subjects); err != nil {
			return err
		}
		v, err := vr.VerifyDecrypted(env, tx.decrypted)
		if err == nil {
			err = encryptedPartsSigned(env, v)
		}
		if err != nil {
			return g.authFailed(ctx, tx, w, svc, subjects, err, true)
		}
		tx.verified = v
	}
	res, err := svc.decrypter.Decrypt(env, sec)
	if err != nil {
		return err
	}
	tx.plaintext = res
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

// signedAfterEncryption reports whether a ds:Signature comes before the
// first EncryptedKey or ReferenceList of the Security header.
func signedAfterEncryption(sec *etree.Element) bool {
	if sec == nil {
		return false
	}
	signed := false
	for _, c := range sec.ChildElements() {
		switch ns := c.NamespaceURI(); {
		case ns == wssec.NSDSig && c.Tag == "Signature":
			signed = true
		case ns == xmlenc.NSXENC && (c.Tag == "EncryptedKey" || c.Tag == "ReferenceList"):
			return signed
		}
	}
	return false
}

// encryptedPartsSigned checks, for a message encrypted and then signed,
// that the Body's signer covers each encrypted part: the Body (or the
// EncryptedData in it) and each EncryptedHeader (or its EncryptedData).
func encryptedPartsSigned(env *soap.Envelope, v *wssec.Verified) error {
	covers := func(els ...*etree.Element) bool {
		for _, el := range els {
			if v.Signer != nil && v.Signer.Covers(el) {
				return true
			}
		}
		return false
	}
	unsigned := func(what string) error {
		return soap.SecurityFault(soap.FaultInvalidSecurity, "security error in the message",
			fmt.Errorf("encrypted, then signed: %s is not covered by the Body's signature", what))
	}
	for _, c := range env.Body.ChildElements() {
		if c.Tag == "EncryptedData" && c.NamespaceURI() == xmlenc.NSXENC && !covers(env.Body, c) {
			return unsigned("the encrypted Body content")
		}
	}
	for _, h := range env.HeaderBlocks() {
		if h.Tag == "EncryptedHeader" && h.NamespaceURI() == xmlenc.NSWSSE11 {
			inner := h.SelectElement("EncryptedData")
			if !covers(h) && (inner == nil || !covers(inner)) {
				return unsigned("an EncryptedHeader")
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

// decryptResponse decrypts a backend's answer that is encrypted to the
// gateway (with the service's decryption keys): the consumer could not
// read it, and the gateway checks what it passes on. The Security header
// elements the decryption used are removed (they were for the gateway),
// and the header with them when nothing else is left in it. An encrypted
// answer to a service without keys, and one that cannot be decrypted, is a
// 502: never forwarded as it came.
func decryptResponse(svc *service, resp *backendResponse) error {
	env := resp.env
	invalid := func(err error) error {
		return soap.ReceiverFault("backend response invalid", fmt.Errorf("encrypted backend response: %w", err)).WithStatus(http.StatusBadGateway)
	}
	sec, err := wssec.FindSecurity(env, "")
	if err != nil {
		if encrypted(env) {
			return invalid(err)
		}
		return nil // not encrypted: the answer is the backend's business
	}
	if !encrypted(env) && len(xmlenc.HeaderElements(sec)) == 0 {
		return nil
	}
	if svc.decrypter == nil {
		return invalid(fmt.Errorf("service %s has no decryption key", svc.name))
	}
	res, err := svc.decrypter.Decrypt(env, sec)
	if err != nil {
		return invalid(soap.AsFault(err))
	}
	for _, el := range res.Processed {
		sec.RemoveChild(el)
	}
	if sec != nil && len(sec.ChildElements()) == 0 {
		env.Header.RemoveChild(sec)
	}
	body, err := env.Bytes()
	if err != nil {
		return invalid(err)
	}
	resp.body = body
	return nil
}

// responseRecipient is the certificate an answer is encrypted to: the one
// that signed the request's Body, else the caller's mTLS certificate; an
// RSA key either way (nil: none).
func responseRecipient(id *Identity) *x509.Certificate {
	for _, c := range []*x509.Certificate{id.Signer, id.Caller.Certificate} {
		if c != nil {
			if _, ok := c.PublicKey.(*rsa.PublicKey); ok {
				return c
			}
		}
	}
	return nil
}
