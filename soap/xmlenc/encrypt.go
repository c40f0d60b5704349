package xmlenc

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/internal/dn"
	"github.com/gatehouse/gatehouse/soap"
)

// Encrypter encrypts the Body content of outgoing messages (to a backend
// that requires it) as WS-Security 1.1 carries it: a fresh AES-256-GCM key
// per message, transported to the recipient's RSA certificate with
// RSA-OAEP in an xenc:EncryptedKey at the top of the Security header, whose
// ReferenceList names the xenc:EncryptedData that replaces the Body's
// content. The EncryptedData's KeyInfo points at the EncryptedKey with a
// ds:RetrievalMethod, for receivers that start from the data (xmlsec1).
type Encrypter struct {
	// Recipient is the backend's certificate (an RSA key).
	Recipient *x509.Certificate
	// SHA256 selects RSA-OAEP with SHA-256 and MGF1-SHA256 (xenc11
	// rsa-oaep); the default is rsa-oaep-mgf1p (SHA-1), which every
	// WS-Security stack reads.
	SHA256 bool
	// Actor is the Security header's actor/role ("" for the default).
	Actor string
}

// Check reports whether the recipient's key can be encrypted to.
func (e *Encrypter) Check() error {
	if e.Recipient == nil {
		return errors.New("xmlenc: no recipient certificate")
	}
	if _, ok := e.Recipient.PublicKey.(*rsa.PublicKey); !ok {
		return fmt.Errorf("xmlenc: the recipient's key is %T; key transport is RSA-OAEP", e.Recipient.PublicKey)
	}
	return nil
}

// Encrypt replaces the content of env's Body with its encryption, and
// puts the EncryptedKey first in the Security header for e.Actor (created
// when the message has none): after a signature made before, as WSS 1.1
// orders the steps (signed, then encrypted).
func (e *Encrypter) Encrypt(env *soap.Envelope) error {
	if err := e.Check(); err != nil {
		return err
	}
	plain, err := contentBytes(env.Body)
	if err != nil {
		return err
	}
	cek := make([]byte, 32)
	if _, err := rand.Read(cek); err != nil {
		return err
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	// XML Encryption 1.1, 5.2.4: the IV, then the ciphertext and the tag.
	sealed := gcm.Seal(nonce, nonce, plain, nil)

	var h hash.Hash = sha1.New()
	if e.SHA256 {
		h = sha256.New()
	}
	wrapped, err := rsa.EncryptOAEP(h, rand.Reader, e.Recipient.PublicKey.(*rsa.PublicKey), cek, nil)
	if err != nil {
		return fmt.Errorf("xmlenc: key transport: %w", err)
	}

	edID, ekID := newID("ED"), newID("EK")
	ed := etree.NewElement("xenc:EncryptedData")
	ed.CreateAttr("xmlns:xenc", NSXENC)
	ed.CreateAttr("Id", edID)
	ed.CreateAttr("Type", TypeContent)
	ed.CreateElement("xenc:EncryptionMethod").CreateAttr("Algorithm", AlgAES256GCM)
	ki := ed.CreateElement("ds:KeyInfo")
	ki.CreateAttr("xmlns:ds", nsDSig)
	rm := ki.CreateElement("ds:RetrievalMethod")
	rm.CreateAttr("URI", "#"+ekID)
	rm.CreateAttr("Type", NSXENC+"EncryptedKey")
	ed.CreateElement("xenc:CipherData").CreateElement("xenc:CipherValue").SetText(base64.StdEncoding.EncodeToString(sealed))

	ek := etree.NewElement("xenc:EncryptedKey")
	ek.CreateAttr("xmlns:xenc", NSXENC)
	ek.CreateAttr("Id", ekID)
	em := ek.CreateElement("xenc:EncryptionMethod")
	dm := etree.NewElement("ds:DigestMethod")
	dm.CreateAttr("xmlns:ds", nsDSig)
	if e.SHA256 {
		em.CreateAttr("Algorithm", AlgRSAOAEP)
		dm.CreateAttr("Algorithm", "http://www.w3.org/2001/04/xmlenc#sha256")
		em.AddChild(dm)
		mgf := em.CreateElement("xenc11:MGF")
		mgf.CreateAttr("xmlns:xenc11", NSXENC11)
		mgf.CreateAttr("Algorithm", NSXENC11+"mgf1sha256")
	} else {
		em.CreateAttr("Algorithm", AlgRSAOAEPMGF1P)
		dm.CreateAttr("Algorithm", "http://www.w3.org/2000/09/xmldsig#sha1")
		em.AddChild(dm)
	}
	eki := ek.CreateElement("ds:KeyInfo")
	eki.CreateAttr("xmlns:ds", nsDSig)
	str := eki.CreateElement("wsse:SecurityTokenReference")
	str.CreateAttr("xmlns:wsse", soap.NSWSSE)
	if len(e.Recipient.SubjectKeyId) > 0 {
		kid := str.CreateElement("wsse:KeyIdentifier")
		kid.CreateAttr("ValueType", valueTypeSKI)
		kid.CreateAttr("EncodingType", "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary")
		kid.SetText(base64.StdEncoding.EncodeToString(e.Recipient.SubjectKeyId))
	} else {
		xd := str.CreateElement("ds:X509Data")
		is := xd.CreateElement("ds:X509IssuerSerial")
		// The issuer as encoded, in RFC 4514's order (Go's pkix.Name
		// re-sorts its attributes, and receivers compare in order).
		issuer := e.Recipient.Issuer.String()
		if d, err := dn.FromDER(e.Recipient.RawIssuer); err == nil {
			issuer = d.String()
		}
		is.CreateElement("ds:X509IssuerName").SetText(issuer)
		is.CreateElement("ds:X509SerialNumber").SetText(e.Recipient.SerialNumber.String())
	}
	ek.CreateElement("xenc:CipherData").CreateElement("xenc:CipherValue").SetText(base64.StdEncoding.EncodeToString(wrapped))
	ek.CreateElement("xenc:ReferenceList").CreateElement("xenc:DataReference").CreateAttr("URI", "#"+edID)

	for _, t := range append([]etree.Token(nil), env.Body.Child...) {
		env.Body.RemoveChild(t)
	}
	env.Body.AddChild(ed)
	sec := e.security(env)
	sec.InsertChildAt(0, ek)
	return nil
}

// security is the Security header for e.Actor, created when missing.
func (e *Encrypter) security(env *soap.Envelope) *etree.Element {
	for _, h := range env.HeaderBlocks() {
		if h.Tag == "Security" && h.NamespaceURI() == soap.NSWSSE && env.TargetedAt(h, e.Actor) {
			return h
		}
	}
	return env.NewSecurityHeader(e.Actor)
}

// contentBytes serializes el's content as a fragment that stands alone:
// each element child gets the namespace declarations in scope at el that
// it does not make itself, so that a receiver parses it the same wherever
// it decrypts it.
func contentBytes(el *etree.Element) ([]byte, error) {
	inScope := soap.InScopeNamespaces(el)
	doc := etree.NewDocument()
	for _, t := range el.Child {
		c, ok := t.(*etree.Element)
		if !ok {
			doc.AddChild(copyToken(t))
			continue
		}
		cp := c.Copy()
		declared := map[string]bool{}
		for _, at := range soap.InScopeNamespaces(cp) {
			declared[at.Space+":"+at.Key] = true
		}
		for _, at := range inScope {
			if !declared[at.Space+":"+at.Key] {
				cp.Attr = append(cp.Attr, at)
			}
		}
		doc.AddChild(cp)
	}
	return doc.WriteToBytes()
}

func copyToken(t etree.Token) etree.Token {
	switch v := t.(type) {
	case *etree.CharData:
		return etree.NewText(v.Data)
	case *etree.Comment:
		return etree.NewComment(v.Data)
	}
	return etree.NewText("")
}

func newID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}
