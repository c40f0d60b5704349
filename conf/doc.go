// Package conf loads the Gatehouse XML configuration (namespace
// urn:gatehouse:config:1, root element gatehouse) and the user store it
// may name (namespace urn:gatehouse:users:1, root element users).
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
//     http or https, durations are positive, limits are within sane
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
//     maxBackoff not below baseBackoff.
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
// A secret file (passwordFile, secretFile) that group or others may read
// loads with a warning; its trailing line ends are trimmed.
//
// A failed Load returns Errors: all problems, each as
// "FILE:LINE: element name="x": message", the configuration's by line,
// then the user store's by line. Schema problems stop Load before
// decoding, so semantic problems are reported once the file has the right
// form; schema problems in the user store stop only the user store's
// checks.
//
// A successful Load returns a Config whose relative paths are absolute
// (relative to the configuration file's directory, or for secretFile to
// the user store's), whose defaults are filled in, and whose run-time
// values are built and cannot fail later: Listener.ServerTLSConfig (TLS
// 1.2 or later, client certificates required and verified unless
// clientAuth="insecure-none"), Backend.ClientTLSConfig,
// Service.PayloadSchema, the resolved Service.Limits, the trust stores'
// pools, the Redis password and the users' secrets. Settings that weaken a
// check are named insecure… (clientAuth="insecure-none",
// insecureNonLoopback, insecureAllowSHA1) and produce Config.Warnings
// rather than errors, for the caller to log at start-up. Printing a Redis,
// a Users or a UserEntry (fmt, encoding/json, log/slog) shows neither a
// password, a hash nor a secret.
//
// What Load does not do: it opens no sockets (an address in use, or a
// Redis that does not answer, is found only when serving), does not
// verify certificate chains (only the expiry of trust store
// certificates), does not create audit files (only their directory must
// exist), and reads files once: a changed file takes effect on the next
// Load.
package conf
