// node-soap calls GetBalance on a Gatehouse service over mutual TLS, the
// request signed by its WSSecurityCert (Timestamp, BinarySecurityToken,
// RSA-SHA256 over Body and Timestamp). Run by interop/node_test.go:
//
//   node call.js CONFIG.json
//
// CONFIG: endpoint, signerKey, signerCert, clientKey, clientCert, ca (PEM
// files); transforms: "default" (node-soap's default Reference
// transforms: enveloped-signature, exc-c14n) or "exc-c14n" (that one
// only); idMode: "wssecurity" (xml-crypto writes wsu:Id on Body and
// Timestamp) or "default" (an unqualified Id attribute). Prints one JSON line: {status, body, result} or {status, body,
// error}; exits 0 only when the call succeeded.
'use strict';
const fs = require('fs');
const https = require('https');
const path = require('path');
const soap = require('soap');

async function main() {
  const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const read = (f) => fs.readFileSync(f, 'utf8');
  const options = {};
  if (cfg.transforms === 'exc-c14n') {
    options.signatureTransformations = ['http://www.w3.org/2001/10/xml-exc-c14n#'];
  } else if (cfg.transforms !== 'default') {
    throw new Error('unknown transforms ' + cfg.transforms);
  }
  if (cfg.idMode === 'wssecurity') {
    options.signerOptions = { idMode: 'wssecurity' };
  } else if (cfg.idMode !== 'default') {
    throw new Error('unknown idMode ' + cfg.idMode);
  }
  const client = await soap.createClientAsync(path.join(__dirname, 'accounts.wsdl'), { endpoint: cfg.endpoint });
  client.setSecurity(new soap.WSSecurityCert(read(cfg.signerKey), read(cfg.signerCert), '', options));
  const httpsAgent = new https.Agent({ key: read(cfg.clientKey), cert: read(cfg.clientCert), ca: read(cfg.ca), servername: 'localhost' });
  try {
    const [result, raw] = await client.GetBalanceAsync({ AccountId: 4711 }, { httpsAgent, timeout: 10000 });
    console.log(JSON.stringify({ status: 200, body: raw, result, request: client.lastRequest }));
  } catch (err) {
    const status = err.response ? err.response.status : 0;
    console.log(JSON.stringify({ status, body: err.body || '', error: String(err.message || err), request: client.lastRequest }));
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 2;
});
