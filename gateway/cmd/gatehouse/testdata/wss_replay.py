"""Build WS-Security messages for replay_test.go with python3-xmlsec.

The signing is done by xmlsec (libxmlsec1), an implementation Gatehouse did
not write, so the hostile message is not shaped by Gatehouse's own signer.

usage:
  wss_replay.py sign KEY.pem CERT.pem TAG SECONDS < envelope.xml > signed.xml
      A Security header with a BinarySecurityToken, a Timestamp (Created now,
      Expires after SECONDS) and one ds:Signature over the Body and that
      Timestamp.
  wss_replay.py mix KEY.pem CERT.pem TAG SECONDS PLACE < signed.xml > mixed.xml
      The timestamp mix-and-match replay of another consumer's message: its
      Timestamp leaves the Security header (PLACE "header": as a Header
      child; "nested": wrapped in <x:Old xmlns:x="urn:x"> in the Header), a
      fresh Timestamp takes its place, and a second ds:Signature by KEY
      covers only the fresh Timestamp. The first signature is untouched.

TAG makes the wsu:Id values of one signer unique. The algorithm follows the
key: ECDSA-SHA256 or RSA-SHA256, SHA-256 digests, exclusive C14N everywhere.
"""
import base64
import datetime
import sys

import xmlsec
from lxml import etree

NS_WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
NS_WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"
SOAP_NS = ("http://schemas.xmlsoap.org/soap/envelope/", "http://www.w3.org/2003/05/soap-envelope")
X509V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
BASE64 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"


def q(ns, local):
    return "{%s}%s" % (ns, local)


def utc(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def envelope_parts(env):
    soap = env.nsmap.get(env.prefix) if env.prefix else env.nsmap.get(None)
    if soap not in SOAP_NS or env.tag != q(soap, "Envelope"):
        sys.exit("not a SOAP envelope")
    header = env.find(q(soap, "Header"))
    if header is None:
        header = etree.Element(q(soap, "Header"))
        env.insert(0, header)
    body = env.find(q(soap, "Body"))
    return soap, header, body


def security_of(soap, header):
    sec = header.find(q(NS_WSSE, "Security"))
    if sec is None:
        sec = etree.SubElement(header, q(NS_WSSE, "Security"), nsmap={"wsse": NS_WSSE, "wsu": NS_WSU})
        sec.set(q(soap, "mustUnderstand"), "1")
    return sec


def timestamp(tag, seconds):
    now = datetime.datetime.now(datetime.timezone.utc)
    ts = etree.Element(q(NS_WSU, "Timestamp"), nsmap={"wsu": NS_WSU})
    ts.set(q(NS_WSU, "Id"), "TS-" + tag)
    etree.SubElement(ts, q(NS_WSU, "Created")).text = utc(now)
    etree.SubElement(ts, q(NS_WSU, "Expires")).text = utc(now + datetime.timedelta(seconds=seconds))
    return ts


def pem_der(path):
    pem = open(path).read()
    return base64.b64decode("".join(l for l in pem.splitlines() if l and not l.startswith("-----")))


def token(cert_file, tag):
    der = pem_der(cert_file)
    bst = etree.Element(q(NS_WSSE, "BinarySecurityToken"), nsmap={"wsse": NS_WSSE, "wsu": NS_WSU})
    bst.set("ValueType", X509V3)
    bst.set("EncodingType", BASE64)
    bst.set(q(NS_WSU, "Id"), "BST-" + tag)
    bst.text = base64.b64encode(der).decode()
    return bst


def method_of(key_file):
    # A PKCS#8 PEM label does not say the key type: look for the
    # id-ecPublicKey OID (1.2.840.10045.2.1) in the DER.
    if b"\x06\x07\x2a\x86\x48\xce\x3d\x02\x01" in pem_der(key_file):
        return xmlsec.constants.TransformEcdsaSha256
    return xmlsec.constants.TransformRsaSha256


def sign(env, sec, key_file, bst, targets):
    """Append to sec a ds:Signature by key_file over targets (elements with wsu:Id)."""
    sig = xmlsec.template.create(env, xmlsec.constants.TransformExclC14N, method_of(key_file), ns="ds")
    sec.append(sig)
    for el in targets:
        ref = xmlsec.template.add_reference(sig, xmlsec.constants.TransformSha256, uri="#" + el.get(q(NS_WSU, "Id")))
        xmlsec.template.add_transform(ref, xmlsec.constants.TransformExclC14N)
    ki = xmlsec.template.ensure_key_info(sig)
    str_ = etree.SubElement(ki, q(NS_WSSE, "SecurityTokenReference"), nsmap={"wsse": NS_WSSE})
    r = etree.SubElement(str_, q(NS_WSSE, "Reference"))
    r.set("URI", "#" + bst.get(q(NS_WSU, "Id")))
    r.set("ValueType", X509V3)
    ctx = xmlsec.SignatureContext()
    for el in env.iter():
        if el.get(q(NS_WSU, "Id")) is not None:
            ctx.register_id(el, "Id", NS_WSU)
    ctx.key = xmlsec.Key.from_file(key_file, xmlsec.constants.KeyDataFormatPem)
    ctx.sign(sig)


def main():
    mode, key_file, cert_file, tag, seconds = sys.argv[1:6]
    env = etree.fromstring(sys.stdin.buffer.read())
    soap, header, body = envelope_parts(env)
    sec = security_of(soap, header)
    bst = token(cert_file, tag)
    fresh = timestamp(tag, float(seconds))
    if mode == "sign":
        body.set(q(NS_WSU, "Id"), "Body-" + tag)
        sec.insert(0, fresh)
        sec.insert(1, bst)
        etree.cleanup_namespaces(env, top_nsmap={"wsu": NS_WSU})
        sign(env, sec, key_file, bst, [body, fresh])
    elif mode == "mix":
        place = sys.argv[6]
        old = sec.find(q(NS_WSU, "Timestamp"))
        if old is None:
            sys.exit("the message has no Timestamp in its Security header")
        sec.remove(old)
        old.tail = None
        if place == "header":
            header.insert(0, old)
        elif place == "nested":
            wrapper = etree.Element("{urn:x}Old", nsmap={"x": "urn:x"})
            wrapper.append(old)
            header.insert(0, wrapper)
        else:
            sys.exit("PLACE must be header or nested")
        sec.insert(0, fresh)
        sec.append(bst)
        sign(env, sec, key_file, bst, [fresh])
    else:
        sys.exit("mode must be sign or mix")
    sys.stdout.buffer.write(etree.tostring(env))


if __name__ == "__main__":
    main()
