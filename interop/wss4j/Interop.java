// Apache WSS4J 1.6 (Debian libwss4j-java) against Gatehouse, driven by the
// Go tests in interop/ (wss4j_test.go), which compile this file with javac.
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
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.List;

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
import org.apache.ws.security.message.WSSecHeader;
import org.apache.ws.security.message.WSSecSignature;
import org.apache.ws.security.message.WSSecTimestamp;
import org.w3c.dom.Document;

public class Interop {
    static final String PASSWORD = "interop";
    static final String ALIAS = "signer";

    public static void main(String[] args) throws Exception {
        WSSConfig.init();
        if (args.length == 6 && args[0].equals("sign")) {
            sign(args[1], args[2], args[3], args[4], args[5]);
        } else if (args.length == 3 && args[0].equals("verify")) {
            verify(args[1], args[2]);
        } else {
            System.err.println("usage: Interop sign FORM KEY.der CERT.der IN.xml OUT.xml | verify CA.der IN.xml");
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
        PrivateKey key = KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(Files.readAllBytes(new File(keyFile).toPath())));
        X509Certificate cert = certificate(certFile);
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry(ALIAS, key, PASSWORD.toCharArray(), new Certificate[] {cert});
        Merlin crypto = new Merlin();
        crypto.setKeyStore(ks);

        Document doc = parse(in);
        WSSecHeader header = new WSSecHeader();
        header.setMustUnderstand(true);
        header.insertSecurityHeader(doc);

        WSSecTimestamp ts = new WSSecTimestamp();
        ts.setTimeToLive(300);
        ts.build(doc, header);

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

        Transformer t = TransformerFactory.newInstance().newTransformer();
        t.setOutputProperty(OutputKeys.OMIT_XML_DECLARATION, "yes");
        try (OutputStream os = new FileOutputStream(out)) {
            t.transform(new DOMSource(doc), new StreamResult(os));
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
