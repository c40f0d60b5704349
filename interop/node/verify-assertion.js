// xml-crypto verifies the enveloped signature of a SAML assertion issued
// by Gatehouse's STS with the STS certificate given (never one from the
// assertion's KeyInfo). Run by interop/saml_test.go:
//
//   node verify-assertion.js STS.pem ASSERTION.xml
//
// Prints one JSON line {ok, references, error}; exits 0 only when the
// signature verified and its one Reference is the assertion itself.
'use strict';
const fs = require('fs');
const { DOMParser } = require('@xmldom/xmldom');
const xpath = require('xpath');
const { SignedXml } = require('xml-crypto');

function main() {
  const cert = fs.readFileSync(process.argv[2], 'utf8');
  const xml = fs.readFileSync(process.argv[3], 'utf8');
  const doc = new DOMParser().parseFromString(xml, 'text/xml');
  const root = doc.documentElement;
  const sigs = xpath.select("/*/*[local-name()='Signature' and namespace-uri()='http://www.w3.org/2000/09/xmldsig#']", doc);
  if (sigs.length !== 1) {
    throw new Error(sigs.length + ' signatures in the assertion, want 1');
  }
  const sig = new SignedXml({ publicCert: cert });
  sig.loadSignature(sigs[0]);
  const ok = sig.checkSignature(xml);
  const id = root.getAttribute('ID') || root.getAttribute('AssertionID');
  const refs = sig.getReferences().map((r) => r.uri);
  if (!ok) {
    throw new Error('signature does not verify');
  }
  if (refs.length !== 1 || refs[0] !== '#' + id) {
    throw new Error('references ' + JSON.stringify(refs) + ', want #' + id);
  }
  console.log(JSON.stringify({ ok: true, references: refs }));
}

try {
  main();
} catch (err) {
  console.log(JSON.stringify({ ok: false, error: String(err.message || err) }));
  process.exitCode = 1;
}
