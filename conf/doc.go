// Package conf loads the Gatehouse XML configuration (namespace
// urn:gatehouse:config:1, root element gatehouse) and the files it may
// name: the user store (namespace urn:gatehouse:users:1, root element
// users) and the STS's directory (namespace urn:gatehouse:directory:1,
// root element directory).
//
// Load works in three steps, and `gatehouse check-config` and `gatehouse
// serve` share all of them:
//
//  1. The file is validated against schemas/std/gatehouse-config.xsd with
//     libxml2: unknown elements and attributes, missing required ones, and
//     malformed values (durations, counts, names, enumerations) are
//     refused here, each with its line.
//  2. The document is decoded into the exported model, which mirrors the
//     XML; every element remembers its file and line (Pos).
//  3. The meaning is checked, and every problem is collected: names are
//     unique and references resolve, paths and addresses are well formed,
//     files exist and are readable, certificates and keys parse and belong
//     together, CA bundles hold certificates, backend URLs are absolute
//     http or https (http only with insecurePlaintext="true" when the
//     calls carry mapped credentials or, for a SAML service, a hop's bearer
//     assertion), durations are positive, limits are within sane
//     bounds, the admin listener stays on loopback, and payload schemas
//     compile with imports confined to the configuration's directory tree.
//
// The sections for WS-Security are checked the same way:
//
//   - store/redis (Config.Store; nil means in memory, one instance only):
//     addresses are host:port, a Cluster (several addresses, no
//     masterName) uses db 0, the key prefix has no "{" or "}", and the
//     password is read at load from passwordFile or the environment
//     variable passwordEnv (never written inline; Redis.Password).
//   - lockout (Config.Lockout, defaults filled in): positive durations,
//     maxBackoff not below baseBackoff, callerThreshold (default 10 times
//     threshold) not below threshold: users are locked out, callers only
//     throttled.
//   - trust (Config.Trust, Config.TrustStore): names are unique; every ca
//     file holds only CA certificates (Trust.Roots); pinned certificate
//     files (Trust.Pinned) hold no expired certificate. A trusted
//     certificate that expires within 30 days, or an expired CA, is a
//     warning.
//   - users (Config.Users): the user store file is validated against
//     schemas/std/gatehouse-users.xsd and checked: user names are unique,
//     each user has exactly one of passwordHash (argon2id in PHC form with
//     bounded parameters, or bcrypt of cost 10 to 16) and secretFile (read
//     at load, relative to the user store). Its problems carry the user
//     store's file name and lines, and never quote a hash or a secret
//     (Users.Entries).
//   - service/security (Service.Security): the trust store named exists;
//     signature requires a trust store, signedParts require signature,
//     usernameToken requires a user store; signedParts name Body,
//     Timestamp or a header as {absolute-URI}NCName.
//
// The sections for SAML and the STS:
//
//   - samlIssuer (Config.SAMLIssuers, Config.SAMLIssuer): entity IDs are
//     absolute URIs and unique; the trust store named exists and pins at
//     least one certificate. A ca alone is refused: an issuer is trusted
//     by its pinned signing certificates (several during a key rollover),
//     never because a CA issued the signer's certificate.
//   - sts (Config.STS; nil when absent): path and metadataPath (default
//     path + "/metadata") are clean absolute URL paths that no service
//     uses on the STS's listener (required when there are several
//     listeners); entityID is an absolute URI; the signing key
//     (STS.Signer) matches the signing certificate (STS.Certificate), is
//     RSA of at least 2048 bits or ECDSA P-256 or P-384, and the
//     certificate has not expired (one that expires within 30 days is a
//     warning); when a samlIssuer has the STS's entityID, its trust store
//     pins that certificate; 0 < lifetime <= maxLifetime <= 24h (defaults
//     5m and 1h); authentication allows at least one of usernameToken
//     (which needs a user store) and certificate; each delegation names a
//     non-empty actor and the audience of some service's saml element,
//     once, and its tokenAudiences (required) are audiences of services'
//     saml elements, each once: the audiences the subject's token that
//     the actor presents may have been issued for (STS.MayDelegate).
//   - sts/directory (STS.Directory): the file is validated against
//     schemas/std/gatehouse-directory.xsd and checked: nameIDs are unique,
//     no username or workload is claimed by two subjects, a format is an
//     absolute URI, a subject lists a role once. A username the user store
//     does not know is a warning. Its problems carry the directory's file
//     name and lines (Directory.Entries returns a deep copy).
//   - service/saml (Service.SAML): the audience is an absolute URI unique
//     among the services, so that an assertion issued for one service is
//     refused by every other; every issuer is a samlIssuer, listed once;
//     confirmation (default bearer and holderOfKey; SAML.Allows) lists a
//     method once, and senderVouches needs at least one attestingEntity
//     (an attestingEntity without it is a warning); 0 < maxClockSkew <=
//     10m (default 2m); required defaults to true; recipient (SAML.Recipients;
//     nil when absent, and the gateway then uses the service's own URL)
//     lists absolute http or https URLs without a fragment, each once;
//     requireRecipient (default false) without bearer among the
//     confirmation methods is a warning.
//
// The sections that protect the gateway, its backends and the audit trail:
//
//   - rateLimits (Config.RateLimits; nil when absent: no rate limit): at
//     least one of caller (per caller workload id) and subject (per
//     authenticated subject). Each limit passes the checks of
//     gateway/throttle's Limit.Validate, made here without importing it:
//     rate and burst (default: rate) at least 1, 0 < per <= 366 days, at
//     most one request per microsecond (per/rate), and a full burst earned
//     back within 366 days (burst × per/rate).
//   - tracing (Config.Tracing; nil when absent: tracing off): endpoint an
//     http or https URL with a host and without user information, query or
//     fragment (plain http to a host other than loopback is a warning);
//     0 <= sampling <= 1 (default 1); serviceName default "gatehouse";
//     resource names unique and not service.name.
//   - listener/connections (Listener.Connections): max, perClient and
//     pendingHandshakes 1 to 1000000, perClient and pendingHandshakes at
//     most a written max; 0 < handshakeTimeout <= 1m (default 5s). Counts
//     left out stay 0: the gateway derives max from the descriptor limit
//     at start, and takes DefaultPerClient and DefaultPendingHandshakes,
//     each at most max.
//   - backend bulkhead and breaker (Backend.MaxConcurrent, Backend.Breaker;
//     defaults filled in, so every backend has both): maxConcurrent 1 to
//     100000 (default 64); breaker failures 1 to 1000 (default 5), openFor
//     1s to 1h (default 30s), halfOpenRequests 1 to 100 (default 1),
//     slowCall above 0 and below the backend's timeout (default half of
//     it), failureRatio 1 to 100 percent (default 50), minCalls 1 to
//     100000 (default 20); Window, not written, is the larger of 1m and
//     twice the timeout.
//   - audit (Config.Audit): file paths are unique, their directories
//     exist, and none is named like a backup (PATH.N) of a file that
//     rotates; maxBytes (rotation, at least 1 MiB) needs maxBackups of 1
//     to 1000, since rotation without a backup would delete records
//     (maxBackups without maxBytes is a warning); syncEvery 1 to 100000
//     (default 100), 0 < syncInterval <= 1m (default 1s). A redisStream
//     (at most one) needs a store with redis, to which it writes; its
//     stream defaults to the store's prefix followed by "audit", and
//     maxLen, required, is at least 1000. As the only sink it is a
//     warning: records written while Redis does not answer are lost.
//
// The policy section (Config.Policy; nil when absent, which authorizes no
// service call) is checked the same way; package gateway/authz compiles
// it:
//
//   - consumers, composites and services share one set of names; a
//     consumer has exactly one of workload and prefix, not empty, and no
//     two consumers share a workload or a prefix.
//   - a workload id (consumer, caller, directory subject, attesting
//     entity, delegation actor) that starts with spiffe: is a valid SPIFFE
//     ID (go-spiffe's spiffeid), and one with "=" is an RFC 4514
//     distinguished name: the subject of a certificate without a SPIFFE
//     ID, as openssl x509 -noout -subject -nameopt RFC2253 prints it. DNs
//     are compared as DNs (attribute types by name or OID, values without
//     regard to case or repeated spaces, the certificate's RDN order, a
//     multi-valued RDN as a set), so two spellings of one DN are one
//     workload; prefixes compare the id as the gateway renders it.
//   - a flow leads from a consumer or a composite to a service or a
//     composite, once, and never from a composite to itself.
//   - rule ids are unique; a rule names a service, and an operation that
//     is "*" or {absolute-URI}NCName (whether the service has that
//     operation is not known here); an allow rule has at least one
//     caller, subject, role or attribute condition, so that none allows
//     everyone; a caller has exactly one of workload and prefix, not
//     empty; an attribute condition has exactly one of equals, oneOf (at
//     least one value) and prefix; an authentication method is x509,
//     usernameToken, mtls or an absolute URI; a delegation names a
//     non-empty actor; a position is direct="true" or names a declared
//     composite; nothing is listed twice. Delegation and position
//     conditions restrict a rule but do not count as the identity
//     condition an allow rule needs. An allow rule that no flow can reach
//     (no flow leads to its service, or its position's composite has no
//     flow to it) is a warning, and so is a delegation actor
//     "composite:NAME" for a composite of this configuration (its hops are
//     authorized here before the composite joins the chain).
//
// A secret file (passwordFile, secretFile) that group or others may read
// loads with a warning; its trailing line ends are trimmed. A PassTicket
// keyFile on which group or others have any permission is refused, as
// credmap refuses mapped users' password files: it makes PassTickets for
// every user.
//
// A failed Load returns Errors: all problems, each as
// "FILE:LINE: element name="x": message", the configuration's by line,
// then those of the files it names (user store, directory), by file name
// and line. Schema problems stop Load before decoding, so semantic
// problems are reported once the file has the right form; schema problems
// in the user store or the directory stop only that file's checks.
//
// A successful Load returns a Config whose relative paths are absolute
// (relative to the configuration file's directory, or for secretFile to
// the user store's), whose defaults are filled in, and whose run-time
// values are built and cannot fail later: Listener.ServerTLSConfig (TLS
// 1.2 or later, client certificates required and verified unless
// clientAuth="insecure-none"), Backend.ClientTLSConfig,
// Service.PayloadSchema, the resolved Service.Limits, the trust stores'
// pools, the Redis password, the users' secrets, the STS's signing key and
// certificate and its directory. Settings that weaken a
// check are named insecure… (clientAuth="insecure-none",
// insecureNonLoopback, insecureAllowSHA1, insecureNoTimestamp,
// insecureAllowNonBSP, insecurePlaintext) and produce Config.Warnings
// rather than errors, for the caller to log at start-up; so do a few
// settings that are probably mistakes (a certificate close to its expiry,
// an unused attestingEntity, a directory username without a user, an
// audit file's maxBackups without maxBytes, a Redis stream as the only
// audit sink).
// Printing a Redis, a Users, a UserEntry or an STS (fmt, encoding/json,
// log/slog) shows neither a password, a hash, a secret nor a private key.
//
// What Load does not do: it opens no sockets (an address in use, or a
// Redis that does not answer, is found only when serving), does not
// verify certificate chains (only the expiry of trust store and STS
// certificates), does not create audit files (only their directory must
// exist), does not check that a directory's workloads are callers the
// listeners' CAs could authenticate, and reads files once: a changed file
// takes effect on the next Load.
package conf
