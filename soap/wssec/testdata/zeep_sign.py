"""Sign a SOAP 1.1 envelope with python3-zeep's WS-Security plugins.

Used by interop_test.go: a third-party stack (zeep + python-xmlsec) produces
the message, Gatehouse's verifier must accept it.

usage: zeep_sign.py KEY.pem CERT.pem USERNAME PASSWORD < envelope.xml > signed.xml
"""
import datetime
import sys

import xmlsec
from lxml import etree
from zeep.wsse.signature import BinarySignature
from zeep.wsse.username import UsernameToken
from zeep.wsse.utils import WSU

key, cert, user, password = sys.argv[1:5]
envelope = etree.fromstring(sys.stdin.buffer.read())

now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
timestamp = WSU.Timestamp(
    WSU.Created(now.strftime("%Y-%m-%dT%H:%M:%SZ")),
    WSU.Expires((now + datetime.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")),
)
envelope, headers = UsernameToken(user, password, use_digest=True, timestamp_token=timestamp).apply(envelope, {})
envelope, headers = BinarySignature(
    key, cert,
    signature_method=xmlsec.Transform.RSA_SHA256,
    digest_method=xmlsec.Transform.SHA256,
).apply(envelope, headers)
sys.stdout.buffer.write(etree.tostring(envelope))
