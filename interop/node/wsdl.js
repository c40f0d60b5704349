// node-soap loads a service's WSDL from Gatehouse (GET ?wsdl, then what it
// imports at ?xsd=N) over mutual TLS and calls an operation of its
// port PORT at the address the published WSDL names (no endpoint
// override). Run by interop/wsdl_test.go:
//
//   node wsdl.js WSDL_URL CLIENT_CERT CLIENT_KEY CA PORT OPERATION ARGS_JSON
//
// Prints one JSON line: {endpoint, operations, result} or {error}; exits 0
// only when the call succeeded.
'use strict';
const fs = require('fs');
const https = require('https');
const soap = require('soap');

async function main() {
  const [url, cert, key, ca, port, operation, args] = process.argv.slice(2);
  const httpsAgent = new https.Agent({ key: fs.readFileSync(key), cert: fs.readFileSync(cert), ca: fs.readFileSync(ca), servername: 'localhost' });
  try {
    const client = await soap.createClientAsync(url, { wsdl_options: { httpsAgent } });
    const desc = client.describe();
    const service = Object.keys(desc)[0];
    const ports = client.wsdl.services[service].ports;
    const result = operation ? await new Promise((resolve, reject) => {
      client[service][port][operation](JSON.parse(args), (err, res) => (err ? reject(err) : resolve(res)), { httpsAgent, timeout: 10000 });
    }) : null;
    console.log(JSON.stringify({ endpoint: ports[port].location, operations: Object.keys(desc[service][port]).sort(), result }));
  } catch (err) {
    console.log(JSON.stringify({ error: String(err && err.message || err), body: err && err.body || '' }));
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 2;
});
