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
"""
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
args = ap.parse_args()

envelope = etree.fromstring(sys.stdin.buffer.read())
security = envelope.find("./{*}Header/{%s}Security" % WSSE)
if security is None:
    sys.exit("xmlsec_sign.py: the envelope has no wsse:Security header")

sig = xmlsec.template.create(envelope, C14N[args.c14n], METHOD[args.method], ns="ds")
security.append(sig)
for id_ in args.ids:
    ref = xmlsec.template.add_reference(sig, xmlsec.Transform.SHA256, uri="#" + id_)
    if args.transform != "none":
        xmlsec.template.add_transform(ref, C14N[args.transform])
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
sys.stdout.buffer.write(etree.tostring(envelope))
