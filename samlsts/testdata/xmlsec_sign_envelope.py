"""Sign the signature templates of a SOAP envelope's Security header with
python3-xmlsec (libxmlsec1), an implementation Gatehouse did not write.

Used by interop_test.go to build sender-vouches messages: the n-th
ds:Signature that is a direct child of wsse:Security is signed with the
n-th key pair given. Signatures elsewhere (the assertion's own enveloped
signature) are left alone. wsu:Id attributes and the SAML assertion's ID are
registered as ID attributes so that the templates' #id references resolve.

usage: xmlsec_sign_envelope.py KEY.pem CERT.pem [KEY2.pem CERT2.pem ...] < template.xml > signed.xml
"""
import sys

import xmlsec
from lxml import etree

NS_WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
NS_WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
NS_SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"

args = sys.argv[1:]
if len(args) < 2 or len(args) % 2:
    sys.exit(__doc__)
pairs = list(zip(args[0::2], args[1::2]))

doc = etree.fromstring(sys.stdin.buffer.read())
security = doc.find(".//{%s}Security" % NS_WSSE)
templates = [c for c in security if c.tag == "{%s}Signature" % NS_DS]
if len(templates) != len(pairs):
    sys.exit("%d signature templates, %d key pairs" % (len(templates), len(pairs)))

for template, (key_file, cert_file) in zip(templates, pairs):
    ctx = xmlsec.SignatureContext()
    for el in doc.iter():
        if not isinstance(el.tag, str):
            continue
        if el.get("{%s}Id" % NS_WSU) is not None:
            ctx.register_id(el, "Id", NS_WSU)
        if el.tag == "{%s}Assertion" % NS_SAML:
            ctx.register_id(el, "ID")
    key = xmlsec.Key.from_file(key_file, xmlsec.KeyFormat.PEM)
    key.load_cert_from_file(cert_file, xmlsec.KeyFormat.PEM)
    ctx.key = key
    ctx.sign(template)

sys.stdout.buffer.write(etree.tostring(doc))
