// Package interop holds the interoperability suite: Gatehouse against
// WS-Security and SAML stacks it did not write, in both directions.
//
//   - Apache WSS4J 1.6 (Debian libwss4j-java, libxml-security-java; Java
//     from default-jdk-headless): wss4j/Interop.java, compiled with javac by
//     the tests, signs requests that a running Gatehouse must accept, and
//     verifies with WSSecurityEngine the requests Gatehouse signs for its
//     backends (<backend><sign>).
//   - node-soap and xml-crypto (npm, pinned by node/package-lock.json and
//     installed with `npm ci` by ./build.sh test): node-soap's
//     WSSecurityCert signs and sends a call to a Gatehouse service;
//     xml-crypto verifies assertions issued by Gatehouse's STS.
//   - python3-lasso and xmlsec1 verify assertions issued by Gatehouse's STS.
//
// The package has no code of its own besides this comment: everything is in
// the tests. A test whose peer is not installed fails (t.Fatalf) and says
// which Debian or npm package to install; it never skips silently. The
// README's interop matrix lists what each test proves.
package interop
