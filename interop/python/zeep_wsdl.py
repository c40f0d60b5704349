"""zeep loads a service's WSDL from Gatehouse (GET ?wsdl, then what it
imports at ?xsd=N) over mutual TLS and calls an operation of its port PORT
at the address the published WSDL names. Run by interop/wsdl_test.go:

    python3 zeep_wsdl.py WSDL_URL CLIENT_CERT CLIENT_KEY CA PORT OPERATION ARGS_JSON

Prints one JSON line: {"address": …, "operations": […], "result": …} or
{"error": …}; exits 0 only when the call succeeded.
"""
import json
import sys

import requests
import zeep
from zeep.helpers import serialize_object
from zeep.transports import Transport


def main():
    url, cert, key, ca, port_name, operation, args = sys.argv[1:8]
    session = requests.Session()
    session.cert = (cert, key)
    session.verify = ca
    session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify (requests issue 3829)
    try:
        client = zeep.Client(wsdl=url, transport=Transport(session=session, timeout=10))
        service = next(iter(client.wsdl.services.values()))
        port = service.ports[port_name]
        proxy = client.bind(service.name, port.name)
        result = getattr(proxy, operation)(**json.loads(args)) if operation else None
        print(json.dumps({
            "address": port.binding_options["address"],
            "operations": sorted(port.binding._operations.keys()),
            "result": serialize_object(result, dict),
        }, default=str))
    except Exception as exc:  # the test prints what went wrong
        print(json.dumps({"error": "%s: %s" % (type(exc).__name__, exc)}))
        sys.exit(1)


if __name__ == "__main__":
    main()
