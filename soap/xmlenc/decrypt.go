// Package xmlenc decrypts XML Encryption 1.1 content in SOAP messages as
// WS-Security 1.1 carries it: xenc:EncryptedKey in the Security header (or
// inside an EncryptedData's KeyInfo), its ReferenceList, xenc:EncryptedData
// replacing Body content or an element, and wsse11:EncryptedHeader.
//
// Key transport is RSA-OAEP only (rsa-oaep-mgf1p and xenc11 rsa-oaep with
// SHA-1, SHA-256, SHA-384 or SHA-512 digests and MGF1); RSA-1.5 is refused
// (Bleichenbacher). Content encryption is AES-GCM; AES-CBC only when the
// Decrypter allows it (the padding attacks on XML Encryption make CBC
// unsafe by default).
//
// There is no oracle: every failure — unknown key, wrong key, bad padding,
// bad tag, refused algorithm, malformed plaintext — is the same
// wsse:FailedCheck fault; the reason is kept for the audit record. A key
// transport that fails goes on with a random content key, so that it
// takes the time of one that succeeded and fails where a wrong key would.
package xmlenc

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"math/big"
	"strings"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/internal/dn"
	"github.com/gatehouse/gatehouse/soap"
)

// Namespaces and algorithms.
const (
	NSXENC   = "http://www.w3.org/2001/04/xmlenc#"
	NSXENC11 = "http://www.w3.org/2009/xmlenc11#"
	NSWSSE11 = "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd"
	nsDSig   = "http://www.w3.org/2000/09/xmldsig#"

	AlgRSAOAEPMGF1P = NSXENC + "rsa-oaep-mgf1p"
	AlgRSAOAEP      = NSXENC11 + "rsa-oaep"
	AlgRSA15        = NSXENC + "rsa-1_5"
	AlgAES128GCM    = NSXENC11 + "aes128-gcm"
	AlgAES192GCM    = NSXENC11 + "aes192-gcm"
	AlgAES256GCM    = NSXENC11 + "aes256-gcm"
	AlgAES128CBC    = NSXENC + "aes128-cbc"
	AlgAES192CBC    = NSXENC + "aes192-cbc"
	AlgAES256CBC    = NSXENC + "aes256-cbc"

	TypeElement = NSXENC + "Element"
	TypeContent = NSXENC + "Content"

	valueTypeSKI        = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509SubjectKeyIdentifier"
	valueTypeThumbprint = "http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#ThumbprintSHA1"
)

// KeyPair is one of the gateway's decryption keys (several for rotation).
type KeyPair struct {
	Certificate *x509.Certificate
	Key         *rsa.PrivateKey
}

// Decrypter decrypts what consumers encrypted to one of its keys.
type Decrypter struct {
	Keys     []KeyPair
	AllowCBC bool // insecureAllowCBC
	// Limits apply to each plaintext (size, depth, elements, names).
	Limits soap.Limits
	// MaxEncryptedKeys and MaxEncryptedData bound the work one message can
	// ask for; defaults 4 and 16.
	MaxEncryptedKeys, MaxEncryptedData int
}

// Decrypted is what Decrypt replaced: the elements that were encrypted (as
// they are now in the tree), the Body when its content was encrypted, and
// the header blocks that were.
type Decrypted struct {
	Elements []*etree.Element
	Body     bool
	Headers  []*etree.Element
	// Processed are the Security header's EncryptedKey and ReferenceList
	// elements, all used here (HeaderElements).
	Processed []*etree.Element
}

// HeaderElements are the XML Encryption elements of the Security header
// sec that Decrypt processes: its EncryptedKey and ReferenceList children.
func HeaderElements(sec *etree.Element) []*etree.Element {
	if sec == nil {
		return nil
	}
	var out []*etree.Element
	for _, c := range sec.ChildElements() {
		if isXENC(c, "EncryptedKey") || isXENC(c, "ReferenceList") {
			out = append(out, c)
		}
	}
	return out
}

// dataReferences are the URIs (without "#") of a ReferenceList's
// DataReference children; any other child is an error (a KeyReference
// names no data, and Gatehouse decrypts no EncryptedKey by reference).
func dataReferences(rl *etree.Element) ([]string, error) {
	var refs []string
	for _, r := range rl.ChildElements() {
		uri := r.SelectAttrValue("URI", "")
		if r.NamespaceURI() != NSXENC || r.Tag != "DataReference" || !strings.HasPrefix(uri, "#") || len(uri) < 2 {
			return nil, fail("ReferenceList holds %s %q: only DataReference to a fragment is understood", r.Tag, uri)
		}
		refs = append(refs, uri[1:])
	}
	if len(refs) == 0 {
		return nil, fail("an empty ReferenceList")
	}
	return refs, nil
}

// fail is the one public answer to every decryption failure.
func fail(format string, args ...any) error {
	return soap.SecurityFault(soap.FaultFailedCheck, "security error in the message", fmt.Errorf("decryption: "+format, args...))
}

// contentKey is a key transported by an EncryptedKey.
type contentKey struct {
	key  []byte // random when the transport failed
	err  error  // why the transport failed, reported when the key is used
	refs []string
}

// Decrypt decrypts every EncryptedData and EncryptedHeader of env, with
// the keys the Security header sec's EncryptedKeys (or the EncryptedData's
// own KeyInfo) transport, and replaces each with its plaintext. A message
// with nothing encrypted returns an empty result. Anything encrypted that
// cannot be decrypted fails the message: nothing encrypted passes on.
func (d *Decrypter) Decrypt(env *soap.Envelope, sec *etree.Element) (*Decrypted, error) {
	maxKeys, maxData := d.MaxEncryptedKeys, d.MaxEncryptedData
	if maxKeys == 0 {
		maxKeys = 4
	}
	if maxData == 0 {
		maxData = 16
	}
	// The EncryptedData elements of the message: Body children and header
	// blocks (EncryptedHeader), never deeper.
	var targets []*etree.Element
	for _, c := range env.Body.ChildElements() {
		if isXENC(c, "EncryptedData") {
			targets = append(targets, c)
		}
	}
	for _, h := range env.HeaderBlocks() {
		if h.NamespaceURI() == NSWSSE11 && h.Tag == "EncryptedHeader" {
			targets = append(targets, h)
		}
	}
	processed := HeaderElements(sec)
	var keys, lists []*etree.Element
	for _, c := range processed {
		if c.Tag == "EncryptedKey" {
			keys = append(keys, c)
		} else {
			lists = append(lists, c)
		}
	}
	if len(targets) == 0 && len(processed) == 0 {
		return &Decrypted{}, nil
	}
	if len(keys) > maxKeys {
		return nil, fail("%d EncryptedKey elements exceed %d", len(keys), maxKeys)
	}
	if len(targets) > maxData {
		return nil, fail("%d encrypted elements exceed %d", len(targets), maxData)
	}
	if len(d.Keys) == 0 {
		return nil, fail("the message is encrypted and the service has no decryption key")
	}
	byID := map[string]*contentKey{}  // EncryptedKey Id → its key
	byRef := map[string]*contentKey{} // EncryptedData Id → the key its ReferenceList names
	// A ReferenceList of its own in the Security header names EncryptedData
	// whose keys their KeyInfo gives; each must be decrypted here.
	listed := map[string]bool{}
	for _, rl := range lists {
		refs, err := dataReferences(rl)
		if err != nil {
			return nil, err
		}
		for _, ref := range refs {
			if listed[ref] {
				return nil, fail("EncryptedData #%s is referenced twice", ref)
			}
			listed[ref] = true
		}
	}
	for _, ek := range keys {
		ck := d.transport(env, sec, ek)
		if id := idOf(ek); id != "" {
			byID[id] = ck
		}
		for _, ref := range ck.refs {
			if _, dup := byRef[ref]; dup || listed[ref] {
				return nil, fail("EncryptedData #%s is referenced twice", ref)
			}
			byRef[ref] = ck
		}
	}
	res := &Decrypted{}
	done := map[*etree.Element]bool{}
	doneIDs := map[string]bool{}
	for _, t := range targets {
		ed := t
		header := t.Tag == "EncryptedHeader"
		if header {
			kids := t.ChildElements()
			if len(kids) != 1 || !isXENC(kids[0], "EncryptedData") {
				return nil, fail("EncryptedHeader must hold one EncryptedData")
			}
			ed = kids[0]
		}
		if done[ed] {
			return nil, fail("EncryptedData decrypted twice")
		}
		done[ed] = true
		var ck *contentKey
		for _, el := range []*etree.Element{ed, t} {
			if id := idOf(el); id != "" {
				doneIDs[id] = true
				if ck == nil {
					ck = byRef[id]
				}
			}
		}
		if ck == nil {
			var err error
			if ck, err = d.keyOf(env, sec, ed, byID); err != nil {
				return nil, err
			}
		}
		plain, typ, err := d.decryptData(ed, ck)
		if err != nil {
			return nil, err
		}
		switch {
		case header:
			if typ != TypeElement {
				return nil, fail("an EncryptedHeader's EncryptedData must be of type Element")
			}
			els, err := env.ReplaceWithPlaintext(t, plain, d.Limits)
			if err != nil {
				return nil, fail("encrypted header: %v", err)
			}
			if err := oneElement(els); err != nil {
				return nil, err
			}
			res.Headers = append(res.Headers, els[0])
			res.Elements = append(res.Elements, els[0])
		default:
			els, err := env.ReplaceWithPlaintext(ed, plain, d.Limits)
			if err != nil {
				return nil, fail("plaintext: %v", err)
			}
			if typ == TypeElement {
				if err := oneElement(els); err != nil {
					return nil, err
				}
			}
			res.Body = true
			res.Elements = append(res.Elements, els...)
		}
	}
	// Every ReferenceList entry must name an EncryptedData decrypted here:
	// a reference to anything else is an EncryptedData moved deeper or
	// removed.
	for ref := range byRef {
		if !doneIDs[ref] {
			return nil, fail("the ReferenceList names #%s, which is no encrypted Body child or header of the message", ref)
		}
	}
	for ref := range listed {
		if !doneIDs[ref] {
			return nil, fail("the ReferenceList names #%s, which is no encrypted Body child or header of the message", ref)
		}
	}
	res.Processed = processed
	return res, nil
}

func oneElement(els []*etree.Element) error {
	if len(els) != 1 {
		return fail("an Element-type plaintext holds %d elements", len(els))
	}
	return nil
}

// idOf is el's ID (Id, wsu:Id, …), "" if none.
func idOf(el *etree.Element) string {
	for _, a := range el.Attr {
		if a.Space != "xmlns" && soap.IsIDAttribute(a.NamespaceURI(), a.Key) {
			return a.Value
		}
	}
	return ""
}

func isXENC(el *etree.Element, local string) bool {
	return el.Tag == local && el.NamespaceURI() == NSXENC
}

// transport decrypts the content key of an EncryptedKey. Failures are
// kept in the key (used with a random key, reported when it is used).
func (d *Decrypter) transport(env *soap.Envelope, sec, ek *etree.Element) *contentKey {
	ck := &contentKey{}
	if rl := child(ek, NSXENC, "ReferenceList"); rl != nil {
		ck.refs, ck.err = dataReferences(rl)
	}
	key, err := d.unwrap(env, sec, ek)
	if err != nil {
		ck.err = err
		key = make([]byte, 32)
		_, _ = rand.Read(key)
	}
	ck.key = key
	return ck
}

func (d *Decrypter) unwrap(env *soap.Envelope, sec, ek *etree.Element) ([]byte, error) {
	em := child(ek, NSXENC, "EncryptionMethod")
	if em == nil {
		return nil, fail("EncryptedKey without EncryptionMethod")
	}
	alg := em.SelectAttrValue("Algorithm", "")
	var opts rsa.OAEPOptions
	opts.Hash, opts.MGFHash = crypto.SHA1, crypto.SHA1
	switch alg {
	case AlgRSAOAEPMGF1P:
	case AlgRSAOAEP:
		if mgf := child(em, NSXENC11, "MGF"); mgf != nil {
			h, ok := mgfHashes[mgf.SelectAttrValue("Algorithm", "")]
			if !ok {
				return nil, fail("MGF %q is not supported", mgf.SelectAttrValue("Algorithm", ""))
			}
			opts.MGFHash = h
		}
	case AlgRSA15:
		return nil, fail("key transport RSA-1.5 is refused (Bleichenbacher); use RSA-OAEP")
	default:
		return nil, fail("key transport %q is not supported", alg)
	}
	if dm := child(em, nsDSig, "DigestMethod"); dm != nil {
		h, ok := digests[dm.SelectAttrValue("Algorithm", "")]
		if !ok {
			return nil, fail("OAEP digest %q is not supported", dm.SelectAttrValue("Algorithm", ""))
		}
		opts.Hash = h
		if alg == AlgRSAOAEPMGF1P {
			opts.MGFHash = crypto.SHA1 // mgf1p: MGF1 with SHA-1 whatever the digest
		}
	}
	if p := child(em, NSXENC, "OAEPparams"); p != nil {
		label, err := base64.StdEncoding.DecodeString(strings.TrimSpace(p.Text()))
		if err != nil {
			return nil, fail("OAEPparams: %v", err)
		}
		opts.Label = label
	}
	kp, err := d.keyPair(env, sec, child(ek, nsDSig, "KeyInfo"))
	if err != nil {
		return nil, err
	}
	ct, err := cipherValue(ek)
	if err != nil {
		return nil, err
	}
	key, err := kp.Key.Decrypt(rand.Reader, ct, &opts)
	if err != nil {
		return nil, fail("key transport: %v", err)
	}
	return key, nil
}

var digests = map[string]crypto.Hash{
	nsDSig + "sha1": crypto.SHA1,
	"http://www.w3.org/2001/04/xmlenc#sha256":       crypto.SHA256,
	"http://www.w3.org/2001/04/xmldsig-more#sha384": crypto.SHA384,
	"http://www.w3.org/2001/04/xmlenc#sha512":       crypto.SHA512,
}

var mgfHashes = map[string]crypto.Hash{
	NSXENC11 + "mgf1sha1":   crypto.SHA1,
	NSXENC11 + "mgf1sha224": crypto.SHA224,
	NSXENC11 + "mgf1sha256": crypto.SHA256,
	NSXENC11 + "mgf1sha384": crypto.SHA384,
	NSXENC11 + "mgf1sha512": crypto.SHA512,
}

// keyPair finds the decryption key a KeyInfo names: a
// SecurityTokenReference (X509Data/X509IssuerSerial, KeyIdentifier by
// subject key identifier or SHA-1 thumbprint, Reference to a
// BinarySecurityToken) or ds:X509Data (X509Certificate,
// X509IssuerSerial). Only the gateway's own key pairs are candidates.
func (d *Decrypter) keyPair(env *soap.Envelope, sec, ki *etree.Element) (*KeyPair, error) {
	if ki == nil || len(ki.ChildElements()) != 1 {
		return nil, fail("EncryptedKey needs a KeyInfo with one key reference")
	}
	k := ki.ChildElements()[0]
	if k.NamespaceURI() == soap.NSWSSE && k.Tag == "SecurityTokenReference" {
		kids := k.ChildElements()
		if len(kids) != 1 {
			return nil, fail("SecurityTokenReference must hold one reference")
		}
		k = kids[0]
	}
	match := func(ok func(c *x509.Certificate) bool) (*KeyPair, error) {
		for i := range d.Keys {
			if ok(d.Keys[i].Certificate) {
				return &d.Keys[i], nil
			}
		}
		return nil, fail("no decryption key matches the EncryptedKey's KeyInfo")
	}
	switch {
	case k.NamespaceURI() == nsDSig && k.Tag == "X509Data":
		kids := k.ChildElements()
		if len(kids) != 1 {
			return nil, fail("X509Data must hold one X509Certificate or X509IssuerSerial")
		}
		switch x := kids[0]; x.Tag {
		case "X509Certificate":
			der, err := base64.StdEncoding.DecodeString(compact(x.Text()))
			if err != nil {
				return nil, fail("X509Certificate: %v", err)
			}
			return match(func(c *x509.Certificate) bool { return subtle.ConstantTimeCompare(c.Raw, der) == 1 })
		case "X509IssuerSerial":
			name, serial := child(x, nsDSig, "X509IssuerName"), child(x, nsDSig, "X509SerialNumber")
			if name == nil || serial == nil {
				return nil, fail("X509IssuerSerial needs X509IssuerName and X509SerialNumber")
			}
			n, ok := new(big.Int).SetString(strings.TrimSpace(serial.Text()), 10)
			issuer, err := dn.Parse(strings.TrimSpace(name.Text()))
			if !ok || err != nil {
				return nil, fail("X509IssuerSerial is malformed")
			}
			return match(func(c *x509.Certificate) bool {
				ci, err := dn.FromDER(c.RawIssuer)
				return err == nil && c.SerialNumber.Cmp(n) == 0 && ci.Equal(issuer)
			})
		}
	case k.NamespaceURI() == soap.NSWSSE && k.Tag == "KeyIdentifier":
		v, err := base64.StdEncoding.DecodeString(compact(k.Text()))
		if err != nil {
			return nil, fail("KeyIdentifier: %v", err)
		}
		switch k.SelectAttrValue("ValueType", "") {
		case valueTypeSKI:
			return match(func(c *x509.Certificate) bool { return len(c.SubjectKeyId) > 0 && string(c.SubjectKeyId) == string(v) })
		case valueTypeThumbprint:
			return match(func(c *x509.Certificate) bool { sum := sha1.Sum(c.Raw); return string(sum[:]) == string(v) })
		}
		return nil, fail("KeyIdentifier ValueType %q is not supported", k.SelectAttrValue("ValueType", ""))
	case k.NamespaceURI() == soap.NSWSSE && k.Tag == "Reference":
		id, ok := strings.CutPrefix(k.SelectAttrValue("URI", ""), "#")
		bst := env.ElementByID(id)
		if !ok || bst == nil || bst.Tag != "BinarySecurityToken" || bst.Parent() != sec {
			return nil, fail("Reference %q names no BinarySecurityToken of the Security header", k.SelectAttrValue("URI", ""))
		}
		der, err := base64.StdEncoding.DecodeString(compact(bst.Text()))
		if err != nil {
			return nil, fail("BinarySecurityToken: %v", err)
		}
		return match(func(c *x509.Certificate) bool { return subtle.ConstantTimeCompare(c.Raw, der) == 1 })
	}
	return nil, fail("key reference {%s}%s is not supported", k.NamespaceURI(), k.Tag)
}

// keyOf finds the content key of an EncryptedData no ReferenceList named:
// an EncryptedKey inside its KeyInfo, or a SecurityTokenReference to one
// in the Security header.
func (d *Decrypter) keyOf(env *soap.Envelope, sec, ed *etree.Element, byID map[string]*contentKey) (*contentKey, error) {
	ki := child(ed, nsDSig, "KeyInfo")
	if ki == nil || len(ki.ChildElements()) != 1 {
		return nil, fail("EncryptedData without a key: no ReferenceList names it and it has no KeyInfo")
	}
	k := ki.ChildElements()[0]
	switch {
	case isXENC(k, "EncryptedKey"):
		return d.transport(env, sec, k), nil
	case k.NamespaceURI() == soap.NSWSSE && k.Tag == "SecurityTokenReference":
		for _, r := range k.ChildElements() {
			if r.NamespaceURI() == soap.NSWSSE && r.Tag == "Reference" {
				if ck := byID[strings.TrimPrefix(r.SelectAttrValue("URI", ""), "#")]; ck != nil {
					return ck, nil
				}
			}
		}
	}
	return nil, fail("EncryptedData's KeyInfo names no EncryptedKey of the message")
}

// decryptData decrypts one EncryptedData with ck.
func (d *Decrypter) decryptData(ed *etree.Element, ck *contentKey) ([]byte, string, error) {
	typ := ed.SelectAttrValue("Type", "")
	if typ != TypeElement && typ != TypeContent {
		return nil, "", fail("EncryptedData Type %q is neither Element nor Content", typ)
	}
	em := child(ed, NSXENC, "EncryptionMethod")
	if em == nil {
		return nil, "", fail("EncryptedData without EncryptionMethod")
	}
	alg := em.SelectAttrValue("Algorithm", "")
	size, gcm := 0, false
	switch alg {
	case AlgAES128GCM:
		size, gcm = 16, true
	case AlgAES192GCM:
		size, gcm = 24, true
	case AlgAES256GCM:
		size, gcm = 32, true
	case AlgAES128CBC, AlgAES192CBC, AlgAES256CBC:
		if !d.AllowCBC {
			return nil, "", fail("AES-CBC (%s) is refused: padding oracle attacks on XML Encryption; the service allows it with insecureAllowCBC", alg)
		}
		size = map[string]int{AlgAES128CBC: 16, AlgAES192CBC: 24, AlgAES256CBC: 32}[alg]
	default:
		return nil, "", fail("content encryption %q is not supported", alg)
	}
	ct, err := cipherValue(ed)
	if err != nil {
		return nil, "", err
	}
	key := ck.key
	if len(key) != size {
		// A wrong-length key (or a random one after a failed transport):
		// go on with a key of the right size, fail below.
		key = make([]byte, size)
		_, _ = rand.Read(key)
	}
	block, _ := aes.NewCipher(key)
	var plain []byte
	if gcm {
		aead, _ := cipher.NewGCM(block)
		if len(ct) < aead.NonceSize()+aead.Overhead() {
			return nil, "", fail("GCM ciphertext of %d bytes is too short", len(ct))
		}
		plain, err = aead.Open(nil, ct[:aead.NonceSize()], ct[aead.NonceSize():], nil)
	} else {
		plain, err = openCBC(block, ct)
	}
	if ck.err != nil {
		return nil, "", ck.err
	}
	if len(ck.key) != size {
		return nil, "", fail("the content key has %d bytes, %s needs %d", len(ck.key), alg, size)
	}
	if err != nil {
		return nil, "", fail("content decryption: %v", err)
	}
	if d.Limits.MaxBytes > 0 && int64(len(plain)) > d.Limits.MaxBytes {
		return nil, "", fail("plaintext of %d bytes exceeds %d", len(plain), d.Limits.MaxBytes)
	}
	return plain, typ, nil
}

// openCBC decrypts AES-CBC with the IV first and XML Encryption padding
// (the last byte is the padding length; the other padding bytes are
// arbitrary).
func openCBC(block cipher.Block, ct []byte) ([]byte, error) {
	bs := block.BlockSize()
	if len(ct) < 2*bs || len(ct)%bs != 0 {
		return nil, fmt.Errorf("CBC ciphertext of %d bytes", len(ct))
	}
	plain := make([]byte, len(ct)-bs)
	cipher.NewCBCDecrypter(block, ct[:bs]).CryptBlocks(plain, ct[bs:])
	pad := int(plain[len(plain)-1])
	if pad < 1 || pad > bs {
		return nil, fmt.Errorf("bad padding")
	}
	return plain[:len(plain)-pad], nil
}

func cipherValue(el *etree.Element) ([]byte, error) {
	cd := child(el, NSXENC, "CipherData")
	if cd == nil {
		return nil, fail("no CipherData")
	}
	cv := child(cd, NSXENC, "CipherValue")
	if cv == nil {
		return nil, fail("CipherData without CipherValue (CipherReference is not supported)")
	}
	b, err := base64.StdEncoding.DecodeString(compact(cv.Text()))
	if err != nil {
		return nil, fail("CipherValue: %v", err)
	}
	return b, nil
}

func child(el *etree.Element, ns, local string) *etree.Element {
	for _, c := range el.ChildElements() {
		if c.Tag == local && c.NamespaceURI() == ns {
			return c
		}
	}
	return nil
}

// compact removes the white space base64 text may be wrapped with.
func compact(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, s)
}
