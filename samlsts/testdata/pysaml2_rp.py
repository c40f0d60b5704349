"""A pysaml2 relying party for the samlsts interop tests.

usage: /usr/bin/python3 pysaml2_rp.py ISSUER_ENTITY_ID CERT_PEM ASSERTION_XML [CERT_PEM ASSERTION_XML ...]

Needs Debian's python3-pysaml2 and its crypto backend, xmlsec1. Several
assertions are checked in one run because importing pysaml2 is slow.

Each ASSERTION_XML (a standalone SAML 2.0 <Assertion> document) is parsed
with saml2.saml.assertion_from_string and its enveloped signature is checked
in two steps, with CERT_PEM as ISSUER_ENTITY_ID's signing certificate:

  signature      SecurityContext.verify_signature: xmlsec1 --verify with
                 exactly that certificate, on the node with the assertion's ID.
  relying_party  SecurityContext.check_signature, pysaml2's own
                 relying-party path: the issuer's certificate comes only from
                 metadata (an inline EntityDescriptor built here, with
                 only_use_keys_in_metadata), the assertion is validated
                 against pysaml2's bundled SAML 2.0 schemas and the SAML XML
                 Signature profile is applied (one Reference, to the
                 assertion's own ID) before xmlsec1 verifies it again.

For each assertion one JSON object is printed on its own line:

  {"file": ..., "signature": "ok" | "refused: ...",
   "relying_party": "ok" | "refused: ..." | "not run",
   "issuer": ..., "nameid": ..., "audiences": [...], "attributes": {name: [values]}}

The parsed values are printed only when both steps passed. The exit status
is 0 only when every assertion passed both steps, 1 otherwise, 2 on bad
usage.
"""

import json
import sys

import saml2.config
import saml2.saml
import saml2.sigver


def pem_body(path):
    """The base64 text of the (single) certificate in a PEM file."""
    with open(path, encoding="ascii") as f:
        lines = [ln.strip() for ln in f]
    begin = lines.index("-----BEGIN CERTIFICATE-----")
    end = lines.index("-----END CERTIFICATE-----")
    return "".join(lines[begin + 1:end])


def metadata_for(entity_id, cert_b64):
    """Inline SAML metadata naming cert_b64 as entity_id's signing key."""
    return (
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"'
        ' xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="%s">'
        '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        '<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data>'
        "<ds:X509Certificate>%s</ds:X509Certificate>"
        "</ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"'
        ' Location="https://sts.invalid/sso"/>'
        "</md:IDPSSODescriptor></md:EntityDescriptor>"
    ) % (entity_id, cert_b64)


def security_context(issuer, cert_file):
    conf = saml2.config.Config()
    conf.load({
        "entityid": "urn:gatehouse:test:pysaml2-rp",
        "crypto_backend": "xmlsec1",
        "metadata": {"inline": [metadata_for(issuer, pem_body(cert_file))]},
        "only_use_keys_in_metadata": True,
    })
    return saml2.sigver.security_context(conf)


def describe(err):
    """An exception and its causes on one line, each cut short: pysaml2's
    errors can carry the whole document."""
    parts = []
    while err is not None:
        text = str(err).replace("\n", " ")
        if len(text) > 240:
            text = text[:240] + "..."
        parts.append("%s: %s" % (type(err).__name__, text))
        err = err.__cause__ or err.__context__
    return " <- ".join(parts)


def check(issuer, cert_file, assertion_file):
    result = {"file": assertion_file, "signature": "not run", "relying_party": "not run"}
    try:
        with open(assertion_file, "rb") as f:
            xml = f.read().decode("utf-8")
        assertion = saml2.saml.assertion_from_string(xml)
        if assertion is None:
            raise ValueError("not a SAML 2.0 Assertion document")
        if assertion.signature is None:
            raise ValueError("assertion %s is not signed" % assertion.id)
        sec = security_context(issuer, cert_file)
        # verify_signature returns True or raises.
        if not sec.verify_signature(
            xml,
            cert_file=cert_file,
            cert_type="pem",
            node_name=saml2.sigver.NODE_NAME,
            node_id=assertion.id,
        ):
            raise saml2.sigver.SignatureError("verify_signature returned False")
    except Exception as err:
        result["signature"] = "refused: " + describe(err)
        return result
    result["signature"] = "ok"

    try:
        # Returns the checked item or raises.
        checked = sec.check_signature(assertion, node_name=saml2.sigver.NODE_NAME, origdoc=xml)
    except Exception as err:
        result["relying_party"] = "refused: " + describe(err)
        return result
    result["relying_party"] = "ok"

    result["issuer"] = checked.issuer.text.strip()
    result["nameid"] = checked.subject.name_id.text.strip()
    result["audiences"] = [
        aud.text.strip()
        for restriction in checked.conditions.audience_restriction
        for aud in restriction.audience
    ]
    attributes = {}
    for statement in checked.attribute_statement:
        for attr in statement.attribute:
            for value in attr.attribute_value:
                attributes.setdefault(attr.name, []).append((value.text or "").strip())
    result["attributes"] = attributes
    return result


def main(argv):
    if len(argv) < 4 or len(argv) % 2 != 0:
        sys.stderr.write(__doc__)
        return 2
    issuer = argv[1]
    all_ok = True
    for i in range(2, len(argv), 2):
        result = check(issuer, argv[i], argv[i + 1])
        all_ok = all_ok and result["relying_party"] == "ok"
        print(json.dumps(result, sort_keys=True))
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
