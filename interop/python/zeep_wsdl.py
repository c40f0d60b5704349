"""zeep loads a service's WSDL from Gatehouse (GET ?wsdl, then the ?xsd=N
it imports) over mutual TLS and calls GetBalance at the address the
published WSDL names. Run by interop/wsdl_test.go:

    python3 zeep_wsdl.py WSDL_URL CLIENT_CERT CLIENT_KEY CA

Prints one JSON line: {"address": …, "operations": […], "balance": …,
"currency": …} or {"error": …}; exits 0 only when the call succeeded.
"""
import json
import sys

import requests
import zeep
from zeep.transports import Transport


def main():
    url, cert, key, ca = sys.argv[1:5]
    session = requests.Session()
    session.cert = (cert, key)
    session.verify = ca
    session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify (requests issue 3829)
    try:
        client = zeep.Client(wsdl=url, transport=Transport(session=session, timeout=10))
        service = next(iter(client.wsdl.services.values()))
        port = next(p for p in service.ports.values() if p.binding.__class__.__name__ == "Soap11Binding")
        result = client.service.GetBalance(AccountId=4711)
        print(json.dumps({
            "address": port.binding_options["address"],
            "operations": sorted(port.binding._operations.keys()),
            "balance": str(result.Balance),
            "currency": result.Currency,
        }))
    except Exception as exc:  # the test prints what went wrong
        print(json.dumps({"error": "%s: %s" % (type(exc).__name__, exc)}))
        sys.exit(1)


if __name__ == "__main__":
    main()
