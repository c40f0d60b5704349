// Apache WSS4J 1.6 (Debian libwss4j-java) against Gatehouse, driven by the
// Go tests in interop/ (wss4j_test.go, wss4j_xmlenc_test.go,
// wss4j_outbound_enc_test.go), which compile this file with javac.
//
//   java Interop sign FORM KEY.der CERT.der IN.xml OUT.xml
//       signs the SOAP envelope IN.xml as WSS4J's WSSecSignature and
//       WSSecTimestamp do for a CXF or Axis2 client: a Timestamp, then a
//       signature over Body and Timestamp (RSA-SHA256, SHA-256, exclusive
//       C14N) whose KeyInfo is FORM: bst (a BinarySecurityToken and a
//       direct reference), issuerserial (X509IssuerSerial) or ski (a
//       SubjectKeyIdentifier KeyIdentifier). KEY.der is a PKCS#8 RSA key.
//   java Interop verify CA.der IN.xml
//       processes the Security header of IN.xml with WSSecurityEngine
//       (signature, Timestamp; the signer's certificate must chain to
//       CA.der) and prints one line per signed element: "signed {ns}local".
//       Exits 1 with the reason when WSS4J refuses the message.
//   java Interop encrypt KEYID TRANSPORT CONTENT CERT IN.xml OUT.xml [OPTION...]
//       encrypts the Body content of IN.xml to the certificate CERT (PEM or
//       DER) as WSS4J's WSSecEncrypt does for a CXF or Axis2 client, after
//       a WSSecTimestamp: an EncryptedKey in the Security header whose
//       ReferenceList names the EncryptedData. KEYID is how the EncryptedKey
//       names the certificate: issuerserial (X509IssuerSerial), ski
//       (SubjectKeyIdentifier KeyIdentifier), thumbprint (ThumbprintSHA1
//       KeyIdentifier), bst (a BinarySecurityToken and a direct reference)
//       or x509 (X509v3 KeyIdentifier: the certificate itself). TRANSPORT is
//       the key transport: oaep (rsa-oaep-mgf1p), oaep-sha256 (rsa-oaep-mgf1p
//       with a SHA-256 DigestMethod), oaep11 (xenc11 rsa-oaep, SHA-1 and
//       MGF1-SHA1 by default), oaep11-sha256 (xenc11 rsa-oaep with SHA-256
//       and MGF1-SHA256, see rewrapOAEP11), wss4j-oaep11-sha256 (what WSS4J
//       1.6 itself writes for xenc11 rsa-oaep with a SHA-256 digest: the
//       DigestMethod says SHA-256, the key is wrapped with SHA-1) or rsa15.
//       CONTENT is the content encryption: aes128-gcm, aes256-gcm,
//       aes128-cbc or aes256-cbc.
//       OPTIONs:
//         sign=KEY.der,CERT.der  sign Body and Timestamp first (as sign bst
//                                does: WSS4J's "Timestamp Signature Encrypt")
//         header={NS}LOCAL       also encrypt that header block (as a
//                                wsse11:EncryptedHeader)
//         embed                  put the EncryptedKey into the KeyInfo of
//                                the EncryptedData (WSSecEncrypt's
//                                embedded key; Body only), not into the
//                                Security header
//         then-sign              with sign=: encrypt first, then sign
//                                (WSS4J's "Timestamp Encrypt Signature")
//       A BinarySecurityToken WSS4J names with a wsu:Id that is no xs:ID
//       is renamed (fixBSTIds).
//   java Interop decrypt KEY.der CERT.der IN.xml OUT.xml [OPTION...]
//       processes the Security header of IN.xml with WSSecurityEngine as a
//       CXF or Axis2 service does, the decryption crypto a Merlin whose
//       keystore holds KEY.der (PKCS#8 RSA) with CERT.der, its password
//       given by the CallbackHandler; writes the document WSS4J leaves (the
//       decrypted message) to OUT.xml and prints one line per decrypted
//       part, "decrypted {ns}local", and "transport ALGORITHM" per
//       EncryptedKey. Exits 1 with "refused: " and the reason when WSS4J
//       refuses the message or has decrypted nothing.
//       OPTIONs:
//         trust=CA.der  verify signatures against CA.der (the signature
//                       crypto's trust store), and require one: prints
//                       "signed {ns}local" per signed element and
//                       "signer DN". Without it a signature is refused.
//         no-bsp        WSSConfig.setWsiBSPCompliant(false): WSS4J 1.6
//                       then no longer limits key transport to BSP 1.1's
//                       rsa-1_5 and rsa-oaep-mgf1p (for xenc11 rsa-oaep)
import java.io.ByteArrayInputStream;
import java.io.File;
import java.io.FileOutputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.MGF1ParameterSpec;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.List;

import javax.crypto.Cipher;
import javax.crypto.spec.OAEPParameterSpec;
import javax.crypto.spec.PSource;
import javax.security.auth.callback.Callback;
import javax.security.auth.callback.CallbackHandler;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.transform.OutputKeys;
import javax.xml.transform.Transformer;
import javax.xml.transform.TransformerFactory;
import javax.xml.transform.dom.DOMSource;
import javax.xml.transform.stream.StreamResult;

import org.apache.ws.security.WSConstants;
import org.apache.ws.security.WSDataRef;
import org.apache.ws.security.WSEncryptionPart;
import org.apache.ws.security.WSPasswordCallback;
import org.apache.ws.security.WSSConfig;
import org.apache.ws.security.WSSecurityEngine;
import org.apache.ws.security.WSSecurityEngineResult;
import org.apache.ws.security.components.crypto.Merlin;
import org.apache.ws.security.message.WSSecEncrypt;
import org.apache.ws.security.message.WSSecHeader;
import org.apache.ws.security.message.WSSecSignature;
import org.apache.ws.security.message.WSSecTimestamp;
import org.apache.ws.security.util.Base64;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;

public class Interop {
    static final String PASSWORD = "interop";
    static final String ALIAS = "signer";

    public static void main(String[] args) throws Exception {
        WSSConfig.init();
        if (args.length == 6 && args[0].equals("sign")) {
            sign(args[1], args[2], args[3], args[4], args[5]);
        } else if (args.length == 3 && args[0].equals("verify")) {
            verify(args[1], args[2]);
        } else if (args.length >= 7 && args[0].equals("encrypt")) {
            String signKey = null, signCert = null, headerNS = null, headerLocal = null;
            boolean embed = false, thenSign = false;
            for (int i = 7; i < args.length; i++) {
                if (args[i].startsWith("sign=") && args[i].indexOf(',') > 0) {
                    signKey = args[i].substring(5, args[i].indexOf(','));
                    signCert = args[i].substring(args[i].indexOf(',') + 1);
                } else if (args[i].startsWith("header={") && args[i].indexOf('}') > 8) {
                    headerNS = args[i].substring(8, args[i].indexOf('}'));
                    headerLocal = args[i].substring(args[i].indexOf('}') + 1);
                } else if (args[i].equals("embed")) {
                    embed = true;
                } else if (args[i].equals("then-sign")) {
                    thenSign = true;
                } else {
                    throw new IllegalArgumentException("unknown option " + args[i]);
                }
            }
            encrypt(args[1], args[2], args[3], args[4], args[5], args[6], signKey, signCert, headerNS, headerLocal, embed, thenSign);
        } else if (args.length >= 5 && args[0].equals("decrypt")) {
            String trust = null;
            boolean bsp = true;
            for (int i = 5; i < args.length; i++) {
                if (args[i].startsWith("trust=") && args[i].length() > 6) {
                    trust = args[i].substring(6);
                } else if (args[i].equals("no-bsp")) {
                    bsp = false;
                } else {
                    throw new IllegalArgumentException("unknown option " + args[i]);
                }
            }
            decrypt(args[1], args[2], args[3], args[4], trust, bsp);
        } else {
            System.err.println("usage: Interop sign FORM KEY.der CERT.der IN.xml OUT.xml | verify CA.der IN.xml"
                + " | encrypt KEYID TRANSPORT CONTENT CERT IN.xml OUT.xml [sign=KEY.der,CERT.der] [header={NS}LOCAL] [embed] [then-sign]"
                + " | decrypt KEY.der CERT.der IN.xml OUT.xml [trust=CA.der] [no-bsp]");
            System.exit(2);
        }
    }

    static X509Certificate certificate(String file) throws Exception {
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        return (X509Certificate) cf.generateCertificate(new ByteArrayInputStream(Files.readAllBytes(new File(file).toPath())));
    }

    static Document parse(String file) throws Exception {
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setNamespaceAware(true);
        f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
        return f.newDocumentBuilder().parse(new File(file));
    }

    static void sign(String form, String keyFile, String certFile, String in, String out) throws Exception {
        Document doc = parse(in);
        WSSecHeader header = new WSSecHeader();
        header.setMustUnderstand(true);
        header.insertSecurityHeader(doc);

        WSSecTimestamp ts = new WSSecTimestamp();
        ts.setTimeToLive(300);
        ts.build(doc, header);

        signBodyAndTimestamp(doc, header, form, keyFile, certFile);
        write(doc, out);
    }

    // signBodyAndTimestamp adds to header a signature over Body and
    // Timestamp with the key and certificate of the files (RSA-SHA256,
    // SHA-256, exclusive C14N), its KeyInfo as form says.
    static void signBodyAndTimestamp(Document doc, WSSecHeader header, String form, String keyFile, String certFile) throws Exception {
        PrivateKey key = KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(Files.readAllBytes(new File(keyFile).toPath())));
        X509Certificate cert = certificate(certFile);
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry(ALIAS, key, PASSWORD.toCharArray(), new Certificate[] {cert});
        Merlin crypto = new Merlin();
        crypto.setKeyStore(ks);

        WSSecSignature sig = new WSSecSignature();
        sig.setUserInfo(ALIAS, PASSWORD);
        switch (form) {
        case "bst":
            sig.setKeyIdentifierType(WSConstants.BST_DIRECT_REFERENCE);
            break;
        case "issuerserial":
            sig.setKeyIdentifierType(WSConstants.ISSUER_SERIAL);
            break;
        case "ski":
            sig.setKeyIdentifierType(WSConstants.SKI_KEY_IDENTIFIER);
            break;
        default:
            throw new IllegalArgumentException("unknown form " + form);
        }
        sig.setSignatureAlgorithm("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256");
        sig.setDigestAlgo("http://www.w3.org/2001/04/xmlenc#sha256");
        sig.setSigCanonicalization(WSConstants.C14N_EXCL_OMIT_COMMENTS);
        String soapNS = doc.getDocumentElement().getNamespaceURI();
        List<WSEncryptionPart> parts = new ArrayList<WSEncryptionPart>();
        parts.add(new WSEncryptionPart(WSConstants.ELEM_BODY, soapNS, ""));
        parts.add(new WSEncryptionPart(WSConstants.TIMESTAMP_TOKEN_LN, WSConstants.WSU_NS, ""));
        sig.setParts(parts);
        sig.build(doc, crypto, header);
    }

    static void write(Document doc, String out) throws Exception {
        Transformer t = TransformerFactory.newInstance().newTransformer();
        t.setOutputProperty(OutputKeys.OMIT_XML_DECLARATION, "yes");
        try (OutputStream os = new FileOutputStream(out)) {
            t.transform(new DOMSource(doc), new StreamResult(os));
        }
    }

    static final String XENC11 = "http://www.w3.org/2009/xmlenc11#";
    static final String RSA_OAEP_11 = XENC11 + "rsa-oaep";

    static void encrypt(String keyID, String transport, String content, String certFile, String in, String out,
            String signKey, String signCert, String headerNS, String headerLocal, boolean embed, boolean thenSign) throws Exception {
        X509Certificate recipient = certificate(certFile);
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setCertificateEntry("recipient", recipient);
        Merlin crypto = new Merlin();
        crypto.setKeyStore(ks);

        Document doc = parse(in);
        WSSecHeader header = new WSSecHeader();
        header.setMustUnderstand(true);
        header.insertSecurityHeader(doc);

        WSSecTimestamp ts = new WSSecTimestamp();
        ts.setTimeToLive(300);
        ts.build(doc, header);
        if (signKey != null && !thenSign) {
            signBodyAndTimestamp(doc, header, "bst", signKey, signCert);
        }

        WSSecEncrypt enc = new WSSecEncrypt();
        enc.setUserInfo("recipient");
        enc.setUseThisCert(recipient);
        switch (keyID) {
        case "issuerserial":
            enc.setKeyIdentifierType(WSConstants.ISSUER_SERIAL);
            break;
        case "ski":
            enc.setKeyIdentifierType(WSConstants.SKI_KEY_IDENTIFIER);
            break;
        case "thumbprint":
            enc.setKeyIdentifierType(WSConstants.THUMBPRINT_IDENTIFIER);
            break;
        case "bst":
            enc.setKeyIdentifierType(WSConstants.BST_DIRECT_REFERENCE);
            break;
        case "x509":
            enc.setKeyIdentifierType(WSConstants.X509_KEY_IDENTIFIER);
            break;
        default:
            throw new IllegalArgumentException("unknown key identifier " + keyID);
        }
        boolean rewrap = false;
        switch (transport) {
        case "oaep":
            enc.setKeyEncAlgo(WSConstants.KEYTRANSPORT_RSAOEP);
            break;
        case "oaep-sha256":
            enc.setKeyEncAlgo(WSConstants.KEYTRANSPORT_RSAOEP);
            enc.setDigestAlgorithm(WSConstants.SHA256);
            break;
        case "oaep11":
            enc.setKeyEncAlgo(RSA_OAEP_11);
            break;
        case "oaep11-sha256":
            // WSS4J 1.6 writes the xenc11 algorithm and the DigestMethod
            // but wraps with the JCE's OAEP defaults (SHA-1, MGF1-SHA1)
            // for anything but rsa-oaep-mgf1p: wrap with mgf1p here, then
            // again as the EncryptionMethod says (rewrapOAEP11).
            enc.setKeyEncAlgo(WSConstants.KEYTRANSPORT_RSAOEP);
            enc.setDigestAlgorithm(WSConstants.SHA256);
            rewrap = true;
            break;
        case "wss4j-oaep11-sha256":
            // As WSS4J 1.6 does it: a SHA-256 DigestMethod, the key
            // wrapped with SHA-1.
            enc.setKeyEncAlgo(RSA_OAEP_11);
            enc.setDigestAlgorithm(WSConstants.SHA256);
            break;
        case "rsa15":
            enc.setKeyEncAlgo(WSConstants.KEYTRANSPORT_RSA15);
            break;
        default:
            throw new IllegalArgumentException("unknown key transport " + transport);
        }
        switch (content) {
        case "aes128-gcm":
            enc.setSymmetricEncAlgorithm(WSConstants.AES_128_GCM);
            break;
        case "aes256-gcm":
            enc.setSymmetricEncAlgorithm(WSConstants.AES_256_GCM);
            break;
        case "aes128-cbc":
            enc.setSymmetricEncAlgorithm(WSConstants.AES_128);
            break;
        case "aes256-cbc":
            enc.setSymmetricEncAlgorithm(WSConstants.AES_256);
            break;
        default:
            throw new IllegalArgumentException("unknown content encryption " + content);
        }
        String soapNS = doc.getDocumentElement().getNamespaceURI();
        List<WSEncryptionPart> parts = new ArrayList<WSEncryptionPart>();
        parts.add(new WSEncryptionPart(WSConstants.ELEM_BODY, soapNS, "Content"));
        if (headerLocal != null) {
            parts.add(new WSEncryptionPart(headerLocal, headerNS, "Header"));
        }
        enc.setParts(parts);
        if (embed) {
            // The EncryptedKey in the EncryptedData's KeyInfo
            // (WSSecEncrypt's embedded key): build's steps, but the
            // EncryptedKey and its ReferenceList are not put into the
            // Security header. The EncryptedData gets a copy of the
            // EncryptedKey, so it is rewrapped before.
            enc.setEmbedEncryptedKey(true);
            enc.prepare(doc, crypto);
            if (rewrap) {
                rewrapOAEP11(enc.getEncryptedKeyElement(), enc.getSymmetricKey().getEncoded(), recipient);
            }
            enc.encryptForRef(null, parts);
            enc.prependBSTElementToHeader(header);
        } else {
            enc.build(doc, crypto, header);
            if (rewrap) {
                rewrapOAEP11(enc.getEncryptedKeyElement(), enc.getSymmetricKey().getEncoded(), recipient);
            }
        }
        if (signKey != null && thenSign) {
            // Encrypt, then sign: the signature covers the Body with its
            // EncryptedData, and comes before the EncryptedKey in the header.
            signBodyAndTimestamp(doc, header, "bst", signKey, signCert);
        }
        fixBSTIds(doc, header.getSecurityHeader());
        write(doc, out);
    }

    // fixBSTIds prefixes "X509-" to the wsu:Id of each BinarySecurityToken
    // of sec that does not start as an xs:ID (an NCName) must, and to the
    // references to it. WSSecEncryptedKey of WSS4J 1.6 names the
    // BinarySecurityToken it adds for BST_DIRECT_REFERENCE with a bare
    // UUIDGenerator hex string, which starts with a digit more often than
    // not: a schema-invalid wsu:Id (WSSecSignature's BST gets "X509-").
    static void fixBSTIds(Document doc, Element sec) {
        for (Node n = sec.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (!(n instanceof Element) || !"BinarySecurityToken".equals(n.getLocalName()) || !WSConstants.WSSE_NS.equals(n.getNamespaceURI())) {
                continue;
            }
            Element bst = (Element) n;
            String id = bst.getAttributeNS(WSConstants.WSU_NS, "Id");
            if (id.isEmpty() || Character.isLetter(id.charAt(0)) || id.charAt(0) == '_') {
                continue;
            }
            bst.setAttributeNS(WSConstants.WSU_NS, "wsu:Id", "X509-" + id);
            NodeList refs = doc.getElementsByTagNameNS(WSConstants.WSSE_NS, "Reference");
            for (int i = 0; i < refs.getLength(); i++) {
                Element r = (Element) refs.item(i);
                if (r.getAttributeNS(null, "URI").equals("#" + id)) {
                    r.setAttributeNS(null, "URI", "#X509-" + id);
                }
            }
        }
    }

    // rewrapOAEP11 makes the EncryptedKey ek xenc11 rsa-oaep with SHA-256
    // and MGF1-SHA256 (XML Encryption 1.1 5.5.2): its EncryptionMethod
    // (WSS4J has written the DigestMethod) gets the algorithm and an
    // xenc11:MGF, its CipherValue the content key wrapped so.
    static void rewrapOAEP11(Element ek, byte[] key, X509Certificate recipient) throws Exception {
        final String xenc = WSConstants.ENC_NS;
        Element em = (Element) ek.getElementsByTagNameNS(xenc, "EncryptionMethod").item(0);
        em.setAttributeNS(null, "Algorithm", RSA_OAEP_11);
        Element mgf = ek.getOwnerDocument().createElementNS(XENC11, "xenc11:MGF");
        mgf.setAttributeNS("http://www.w3.org/2000/xmlns/", "xmlns:xenc11", XENC11);
        mgf.setAttributeNS(null, "Algorithm", XENC11 + "mgf1sha256");
        em.appendChild(mgf);
        Cipher c = Cipher.getInstance("RSA/ECB/OAEPPadding");
        c.init(Cipher.ENCRYPT_MODE, recipient.getPublicKey(),
            new OAEPParameterSpec("SHA-256", "MGF1", MGF1ParameterSpec.SHA256, PSource.PSpecified.DEFAULT));
        Node cv = null;
        for (Node n = ek.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element && "CipherData".equals(n.getLocalName()) && xenc.equals(n.getNamespaceURI())) {
                cv = ((Element) n).getElementsByTagNameNS(xenc, "CipherValue").item(0);
            }
        }
        cv.setTextContent(Base64.encode(c.doFinal(key)));
    }

    // decrypt has WSSecurityEngine process the Security header of in with
    // the key of keyFile and certFile as its decryption crypto, and with
    // caFile (if not null) as the trust store of its signature crypto.
    static void decrypt(String keyFile, String certFile, String in, String out, String caFile, boolean bsp) throws Exception {
        PrivateKey key = KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(Files.readAllBytes(new File(keyFile).toPath())));
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry(ALIAS, key, PASSWORD.toCharArray(), new Certificate[] {certificate(certFile)});
        Merlin decCrypto = new Merlin();
        decCrypto.setKeyStore(ks);
        // Signatures are checked against the CA only: the decryption
        // keystore is no trust anchor.
        Merlin sigCrypto = null;
        if (caFile != null) {
            KeyStore trust = KeyStore.getInstance("PKCS12");
            trust.load(null, null);
            trust.setCertificateEntry("ca", certificate(caFile));
            sigCrypto = new Merlin();
            sigCrypto.setTrustStore(trust);
        }
        // The key's password, for the decryption key only.
        CallbackHandler passwords = (Callback[] callbacks) -> {
            for (Callback c : callbacks) {
                if (c instanceof WSPasswordCallback) {
                    WSPasswordCallback pc = (WSPasswordCallback) c;
                    if (pc.getUsage() != WSPasswordCallback.DECRYPT || !ALIAS.equals(pc.getIdentifier())) {
                        throw new SecurityException("no password for " + pc.getIdentifier() + " (usage " + pc.getUsage() + ")");
                    }
                    pc.setPassword(PASSWORD);
                }
            }
        };
        WSSConfig config = WSSConfig.getNewInstance();
        config.setWsiBSPCompliant(bsp);
        WSSecurityEngine engine = new WSSecurityEngine();
        engine.setWssConfig(config);

        Document doc = parse(in);
        List<WSSecurityEngineResult> results;
        try {
            results = engine.processSecurityHeader(doc, null, passwords, sigCrypto, decCrypto);
        } catch (Exception e) {
            System.err.println("refused: " + e);
            for (Throwable c = e.getCause(); c != null; c = c.getCause()) {
                System.err.println("  caused by: " + c);
            }
            System.exit(1);
            return;
        }
        if (results == null) {
            System.err.println("refused: no Security header");
            System.exit(1);
        }
        boolean decrypted = false, signed = false;
        for (WSSecurityEngineResult r : results) {
            int action = (Integer) r.get(WSSecurityEngineResult.TAG_ACTION);
            @SuppressWarnings("unchecked")
            List<WSDataRef> refs = (List<WSDataRef>) r.get(WSSecurityEngineResult.TAG_DATA_REF_URIS);
            if (action == WSConstants.ENCR) {
                Object transport = r.get(WSSecurityEngineResult.TAG_ENCRYPTED_KEY_TRANSPORT_METHOD);
                if (transport != null) {
                    System.out.println("transport " + transport);
                }
                if (refs != null) {
                    for (WSDataRef ref : refs) {
                        decrypted = true;
                        System.out.println("decrypted {" + ref.getName().getNamespaceURI() + "}" + ref.getName().getLocalPart() + " " + ref.getAlgorithm());
                    }
                }
            } else if (action == WSConstants.SIGN) {
                signed = true;
                for (WSDataRef ref : refs) {
                    System.out.println("signed {" + ref.getName().getNamespaceURI() + "}" + ref.getName().getLocalPart());
                }
                X509Certificate c = (X509Certificate) r.get(WSSecurityEngineResult.TAG_X509_CERTIFICATE);
                System.out.println("signer " + c.getSubjectX500Principal().getName());
            } else if (action == WSConstants.TS) {
                System.out.println("timestamp");
            }
        }
        write(doc, out);
        if (!decrypted) {
            System.err.println("refused: nothing decrypted");
            System.exit(1);
        }
        if (caFile != null && !signed) {
            System.err.println("refused: no signature");
            System.exit(1);
        }
    }

    static void verify(String caFile, String in) throws Exception {
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        trust.setCertificateEntry("ca", certificate(caFile));
        Merlin crypto = new Merlin();
        crypto.setTrustStore(trust);

        Document doc = parse(in);
        CallbackHandler noPasswords = (Callback[] callbacks) -> {
            for (Callback c : callbacks) {
                if (c instanceof WSPasswordCallback) {
                    throw new SecurityException("no passwords here");
                }
            }
        };
        List<WSSecurityEngineResult> results;
        try {
            results = new WSSecurityEngine().processSecurityHeader(doc, null, noPasswords, crypto);
        } catch (Exception e) {
            System.err.println("refused: " + e);
            System.exit(1);
            return;
        }
        if (results == null) {
            System.err.println("refused: no Security header");
            System.exit(1);
        }
        boolean signed = false, timestamp = false;
        for (WSSecurityEngineResult r : results) {
            int action = (Integer) r.get(WSSecurityEngineResult.TAG_ACTION);
            if (action == WSConstants.SIGN) {
                signed = true;
                @SuppressWarnings("unchecked")
                List<WSDataRef> refs = (List<WSDataRef>) r.get(WSSecurityEngineResult.TAG_DATA_REF_URIS);
                for (WSDataRef ref : refs) {
                    System.out.println("signed {" + ref.getName().getNamespaceURI() + "}" + ref.getName().getLocalPart());
                }
                X509Certificate c = (X509Certificate) r.get(WSSecurityEngineResult.TAG_X509_CERTIFICATE);
                System.out.println("signer " + c.getSubjectX500Principal().getName());
            } else if (action == WSConstants.TS) {
                timestamp = true;
                System.out.println("timestamp");
            }
        }
        if (!signed || !timestamp) {
            System.err.println("refused: signature " + signed + ", timestamp " + timestamp);
            System.exit(1);
        }
    }
}
