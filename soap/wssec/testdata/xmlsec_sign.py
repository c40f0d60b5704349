"""Add one detached XML signature over arbitrary elements to a SOAP envelope.

Used by hostile_test.go: python-xmlsec (libxmlsec1), a signer we did not
write, builds the signatures of the hostile messages (several signers,
references to elements anywhere, inclusive C14N, references without
Transforms), so that Gatehouse's verifier is tested against signatures it
did not make itself.

The envelope on stdin must have a wsse:Security header; the signature is
appended as its last child, with the certificate in
KeyInfo/X509Data/X509Certificate. Every element with a wsu:Id or an
unqualified Id, ID or AssertionID can be referenced by that ID.

usage: xmlsec_sign.py KEY.pem CERT.pem [options] ID... < envelope.xml > signed.xml
  --method rsa|ecdsa    RSA-SHA256 (default) or ECDSA-SHA256
  --c14n exc|c14n|c14n11
                        SignedInfo CanonicalizationMethod (default exc)
  --transform exc|c14n|c14n11|none
                        the one Reference transform; none: no Transforms
                        element at all (default exc)
  --enveloped           enveloped-signature before that transform (as
                        node-soap and .NET-era stacks write it)
  --key-ref x509|ski|thumb|issuerserial|samlid:ID|samlassertionid:ID|samlref:ID
                        what KeyInfo holds: the certificate (default), or a
                        wsse:SecurityTokenReference with a KeyIdentifier
                        (subject key identifier, SHA-1 thumbprint, SAML 2.0
                        assertion ID, SAML 1.1 AssertionID), X509Data/
                        X509IssuerSerial, or a Reference to #ID with
                        ValueType #SAMLID (WSS SAML Token Profile 1.1)
  --token-type URI      wsse11:TokenType on that SecurityTokenReference
  --str-ref ID          one more Reference, to #ID with the STR Dereference
                        Transform (WSS 1.1 section 8.3) and exclusive C14N
                        as its parameter: when #ID is a
                        SecurityTokenReference with a SAML KeyIdentifier,
                        the digest is over the assertion it names,
                        canonicalized by libxml2 (lxml), with xmlns="" on
                        the apex element when it declares no default
                        namespace; otherwise over #ID itself
  --str-c14n exc|c14n   the STR-Transform's CanonicalizationMethod (default
                        exc; c14n writes a parameter Gatehouse refuses)
  --append-transform URI, --prepend-transform URI
                        add a Transform with that Algorithm after / before
                        the transforms of every Reference (refused forms)
  The last four change SignedInfo after libxmlsec1 signed it: SignedInfo is
  then canonicalized again by libxml2 (exclusive C14N only) and signed by
  libxmlsec1 (sign_binary).
"""
import base64
import hashlib
import re
import argparse
import sys

import xmlsec
from lxml import etree

WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"

C14N = {
    "exc": xmlsec.Transform.EXCL_C14N,
    "c14n": xmlsec.Transform.C14N,
    "c14n11": xmlsec.Transform.C14N11,
}
METHOD = {
    "rsa": xmlsec.Transform.RSA_SHA256,
    "ecdsa": xmlsec.Transform.ECDSA_SHA256,
}

ap = argparse.ArgumentParser()
ap.add_argument("key")
ap.add_argument("cert")
ap.add_argument("ids", nargs="+")
ap.add_argument("--method", choices=METHOD, default="rsa")
ap.add_argument("--c14n", choices=C14N, default="exc")
ap.add_argument("--transform", choices=list(C14N) + ["none"], default="exc")
ap.add_argument("--enveloped", action="store_true")
ap.add_argument("--key-ref", default="x509")
ap.add_argument("--token-type")
ap.add_argument("--str-ref")
ap.add_argument("--str-c14n", choices=["exc", "c14n"], default="exc")
ap.add_argument("--append-transform")
ap.add_argument("--prepend-transform")
args = ap.parse_args()

DS = "http://www.w3.org/2000/09/xmldsig#"
WSSE11 = "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd"
SAML2 = "urn:oasis:names:tc:SAML:2.0:assertion"
SAML1 = "urn:oasis:names:tc:SAML:1.0:assertion"
X509TP = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0"
B64 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
VT = {
    "ski": X509TP + "#X509SubjectKeyIdentifier",
    "thumb": "http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#ThumbprintSHA1",
    "samlid": "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLID",
    "samlassertionid": "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.0#SAMLAssertionID",
}
STR_TRANSFORM = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#STR-Transform"
EXC = "http://www.w3.org/2001/10/xml-exc-c14n#"
C14N10 = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"


def exc_c14n(el):
    return etree.tostring(el, method="c14n", exclusive=True, with_comments=False)

envelope = etree.fromstring(sys.stdin.buffer.read())
security = envelope.find("./{*}Header/{%s}Security" % WSSE)
if security is None:
    sys.exit("xmlsec_sign.py: the envelope has no wsse:Security header")

sig = xmlsec.template.create(envelope, C14N[args.c14n], METHOD[args.method], ns="ds")
security.append(sig)
for id_ in args.ids:
    ref = xmlsec.template.add_reference(sig, xmlsec.Transform.SHA256, uri="#" + id_)
    if args.enveloped:
        xmlsec.template.add_transform(ref, xmlsec.Transform.ENVELOPED)
    if args.transform != "none":
        xmlsec.template.add_transform(ref, C14N[args.transform])
if args.key_ref == "x509":
    key_info = xmlsec.template.ensure_key_info(sig)
    x509 = xmlsec.template.add_x509_data(key_info)
    xmlsec.template.x509_data_add_certificate(x509)

ctx = xmlsec.SignatureContext()
for el in envelope.iter():
    if not isinstance(el.tag, str):
        continue
    if el.get("{%s}Id" % WSU) is not None:
        ctx.register_id(el, "Id", WSU)
    for name in ("Id", "ID", "AssertionID"):
        if el.get(name) is not None:
            ctx.register_id(el, name)
key = xmlsec.Key.from_file(args.key, xmlsec.KeyFormat.PEM)
key.load_cert_from_file(args.cert, xmlsec.KeyFormat.PEM)
ctx.key = key
ctx.sign(sig)


def by_id(id_):
    for el in envelope.iter():
        if isinstance(el.tag, str) and id_ in (el.get("{%s}Id" % WSU), el.get("Id"), el.get("ID"), el.get("AssertionID")):
            return el
    sys.exit("xmlsec_sign.py: no element with ID %s" % id_)


def dereference(el):
    """The assertion a SAML KeyIdentifier STR names, or el itself."""
    ki = el.find("{%s}KeyIdentifier" % WSSE)
    if el.tag != "{%s}SecurityTokenReference" % WSSE or ki is None or ki.get("ValueType") not in (VT["samlid"], VT["samlassertionid"]):
        return el
    return by_id(ki.text.strip())


def str_transform_output(tok):
    out = exc_c14n(tok)
    name = re.match(rb"<[^ >]+", out).end()
    if out[name:].startswith(b' xmlns="'):
        return out
    return out[:name] + b' xmlns=""' + out[name:]


signed_info = [e for e in sig if e.tag == "{%s}SignedInfo" % DS][0]
edited = False
if args.append_transform or args.prepend_transform:
    # Filtered by hand: lxml's iter(tag) misses elements libxmlsec1 made.
    for ts in [e for e in signed_info.iter() if e.tag == "{%s}Transforms" % DS]:
        if args.prepend_transform:
            ts.insert(0, etree.Element("{%s}Transform" % DS, Algorithm=args.prepend_transform))
        if args.append_transform:
            etree.SubElement(ts, "{%s}Transform" % DS, Algorithm=args.append_transform)
    edited = True
if args.str_ref:
    ref = etree.SubElement(signed_info, "{%s}Reference" % DS, URI="#" + args.str_ref)
    ts = etree.SubElement(ref, "{%s}Transforms" % DS)
    tr = etree.SubElement(ts, "{%s}Transform" % DS, Algorithm=STR_TRANSFORM)
    params = etree.SubElement(tr, "{%s}TransformationParameters" % WSSE)
    etree.SubElement(params, "{%s}CanonicalizationMethod" % DS, Algorithm=EXC if args.str_c14n == "exc" else C14N10)
    etree.SubElement(ref, "{%s}DigestMethod" % DS, Algorithm="http://www.w3.org/2001/04/xmlenc#sha256")
    digest = hashlib.sha256(str_transform_output(dereference(by_id(args.str_ref)))).digest()
    etree.SubElement(ref, "{%s}DigestValue" % DS).text = base64.b64encode(digest).decode()
    edited = True
if edited:
    if args.c14n != "exc":
        sys.exit("xmlsec_sign.py: SignedInfo edits need --c14n exc")
    resign = xmlsec.SignatureContext()
    resign.key = key
    value = resign.sign_binary(exc_c14n(signed_info), METHOD[args.method])
    [e for e in sig if e.tag == "{%s}SignatureValue" % DS][0].text = base64.b64encode(value).decode()

if args.key_ref != "x509":
    from cryptography import x509 as cx509
    from cryptography.hazmat.primitives import hashes
    with open(args.cert, "rb") as f:
        cert = cx509.load_pem_x509_certificate(f.read())
    key_info = etree.SubElement(sig, "{%s}KeyInfo" % DS)
    str_ = etree.SubElement(key_info, "{%s}SecurityTokenReference" % WSSE)
    if args.token_type:
        str_.set("{%s}TokenType" % WSSE11, args.token_type)
    kind, _, id_ = args.key_ref.partition(":")
    if kind in ("ski", "thumb"):
        if kind == "ski":
            value = cert.extensions.get_extension_for_class(cx509.SubjectKeyIdentifier).value.digest
        else:
            value = cert.fingerprint(hashes.SHA1())
        ki = etree.SubElement(str_, "{%s}KeyIdentifier" % WSSE, ValueType=VT[kind], EncodingType=B64)
        ki.text = base64.b64encode(value).decode()
    elif kind in ("samlid", "samlassertionid"):
        etree.SubElement(str_, "{%s}KeyIdentifier" % WSSE, ValueType=VT[kind]).text = id_
    elif kind == "samlref":
        etree.SubElement(str_, "{%s}Reference" % WSSE, URI="#" + id_, ValueType=VT["samlid"])
    elif kind == "issuerserial":
        xd = etree.SubElement(str_, "{%s}X509Data" % DS)
        xis = etree.SubElement(xd, "{%s}X509IssuerSerial" % DS)
        etree.SubElement(xis, "{%s}X509IssuerName" % DS).text = cert.issuer.rfc4514_string()
        etree.SubElement(xis, "{%s}X509SerialNumber" % DS).text = str(cert.serial_number)
    else:
        sys.exit("xmlsec_sign.py: unknown --key-ref %s" % args.key_ref)
sys.stdout.buffer.write(etree.tostring(envelope))
