"""lasso (python3-lasso) as a SAML 2.0 service provider checks assertions
issued by Gatehouse's STS. Run by interop/saml_test.go with Debian's python:

    /usr/bin/python3 lasso_verify.py STS_ENTITY STS_CERT.pem SP_ENTITY ACS_URL ASSERTION.xml...

The STS is registered as an identity provider whose metadata names only
STS_CERT.pem as its signing key; each assertion is wrapped in an unsigned
samlp:Response (the STS answers WS-Trust, not Web SSO, so there is no
Response of its own) and processed with processAuthnResponseMsg, which
makes lasso verify the assertion's signature with that key, then
acceptSso. Prints one JSON line per assertion: {file, ok, nameid, error}.
Exits 1 if any assertion was refused.
"""
import base64
import datetime
import json
import os
import sys
import tempfile
import uuid

import lasso

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
PROTOCOL = "urn:oasis:names:tc:SAML:2.0:protocol"


def pem_body(path):
    lines = open(path).read().strip().splitlines()
    return "".join(l for l in lines if not l.startswith("-----"))


def idp_metadata(entity, cert_file):
    return f"""<md:EntityDescriptor xmlns:md="{MD}" xmlns:ds="{DS}" entityID="{entity}">
  <md:IDPSSODescriptor protocolSupportEnumeration="{PROTOCOL}" WantAuthnRequestsSigned="false">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{pem_body(cert_file)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://sts.invalid/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"""


def sp_metadata(entity, acs):
    return f"""<md:EntityDescriptor xmlns:md="{MD}" entityID="{entity}">
  <md:SPSSODescriptor protocolSupportEnumeration="{PROTOCOL}" AuthnRequestsSigned="false">
    <md:AssertionConsumerService index="0" isDefault="true" Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{acs}"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>"""


def response(sts, acs, assertion):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (f'<samlp:Response xmlns:samlp="{PROTOCOL}" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" '
            f'ID="_{uuid.uuid4().hex}" Version="2.0" IssueInstant="{now}" Destination="{acs}">'
            f'<saml:Issuer>{sts}</saml:Issuer>'
            f'<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>'
            f'{assertion}</samlp:Response>')


def main():
    sts, cert, sp, acs = sys.argv[1:5]
    with tempfile.TemporaryDirectory() as d:
        spf, idpf = os.path.join(d, "sp.xml"), os.path.join(d, "idp.xml")
        open(spf, "w").write(sp_metadata(sp, acs))
        open(idpf, "w").write(idp_metadata(sts, cert))
        server = lasso.Server(spf, None, None, None)
        server.addProvider(lasso.PROVIDER_ROLE_IDP, idpf, None, None)
        refused = False
        for f in sys.argv[5:]:
            assertion = open(f).read()
            if assertion.startswith("<?xml"):
                assertion = assertion.split("?>", 1)[1]
            login = lasso.Login(server)
            # The Response is unsigned; the assertion must be signed and
            # verify with the STS key from its metadata.
            login.setSignatureVerifyHint(lasso.PROFILE_SIGNATURE_VERIFY_HINT_MAYBE)
            out = {"file": f}
            try:
                msg = base64.b64encode(response(sts, acs, assertion).encode()).decode()
                login.processAuthnResponseMsg(msg)
                login.acceptSso()
                out["ok"] = True
                out["nameid"] = login.nameIdentifier.content if login.nameIdentifier else ""
            except lasso.Error as e:
                out["ok"] = False
                out["error"] = f"{type(e).__name__}: {e}"
                refused = True
            print(json.dumps(out), flush=True)
        sys.exit(1 if refused else 0)


if __name__ == "__main__":
    main()
