"""Ask Gatehouse's STS for a SAML 2.0 token with python3-zeep.

A third-party WS-Trust client for the gateway tests: zeep builds the SOAP
envelope, its WsAddressingPlugin adds wsa:Action, MessageID and To, its
UsernameToken plugin authenticates the user, and requests talks mTLS.
The raw answer is written to stdout.

usage: zeep_sts.py WSDL ENDPOINT CA CERT KEY USER PASSWORD AUDIENCE
"""
import sys

import requests
from lxml import etree
from zeep import Client, Settings
from zeep.transports import Transport
from zeep.wsa import WsAddressingPlugin
from zeep.wsse.username import UsernameToken

wsdl, endpoint, ca, cert, key, user, password, audience = sys.argv[1:9]

WST = "http://docs.oasis-open.org/ws-sx/ws-trust/200512"
WSP = "http://www.w3.org/ns/ws-policy"
WSA = "http://www.w3.org/2005/08/addressing"


def el(ns, name, text=None, *children):
    e = etree.Element("{%s}%s" % (ns, name))
    if text is not None:
        e.text = text
    e.extend(children)
    return e


session = requests.Session()
session.trust_env = False  # REQUESTS_CA_BUNDLE and proxies from the environment would override verify
session.verify = ca
session.cert = (cert, key)
client = Client(
    wsdl,
    transport=Transport(session=session),
    wsse=UsernameToken(user, password),
    plugins=[WsAddressingPlugin()],
    settings=Settings(raw_response=True),
)
service = client.create_service("{urn:gatehouse:test:sts}STSBinding", endpoint)
applies_to = el(WSP, "AppliesTo", None, el(WSA, "EndpointReference", None, el(WSA, "Address", audience)))
resp = service.Issue(
    _value_1=[
        el(WST, "TokenType", "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV2.0"),
        el(WST, "RequestType", WST + "/Issue"),
        applies_to,
        el(WST, "KeyType", WST + "/Bearer"),
    ],
    Context="urn:uuid:zeep-context-1",
)
sys.stdout.write(resp.text)
if resp.status_code != 200:
    sys.exit("STS answered HTTP %d" % resp.status_code)
