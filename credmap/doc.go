// Package credmap maps a verified principal to the credentials of a legacy
// security domain (a RACF user ID with a PassTicket, a mapped user name and
// password, HTTP Basic) and renders them for the outbound call.
//
// It imports nothing of Gatehouse but small shared types: the gateway hands
// it what was verified, it never reads the inbound message.
//
// Secrets (keys, passwords, PassTickets) never appear in this package's
// errors, nor in what fmt, encoding/json or log/slog print of its types
// (invariant 10).
//
// Mapping: a Map names a Domain, whose UserIDRule (RACFUserID, say) tells
// which user IDs can exist there, and an ordered list of Sources: a SAML
// attribute (AttributeSource), a table file (LoadTable, reloadable), a rule on
// the subject (PatternSource) and, for calls without an end user, a service
// account (ServiceAccountSource). Map.Resolve takes the first source that maps
// the principal. An ambiguous attribute, or a user ID the domain refuses,
// refuses the call instead of trying the next source; no mapping at all is
// ErrNoMapping. A call that carries a subject is never mapped through its
// workload. The resulting Mapping holds no secret and belongs in the audit
// record. credmap takes the Principal as verified and does not authorize:
// authz decides whether a call may proceed, credmap only as whom.
//
// Rendering: a Credential pairs the user ID with its Secret, which prints as
// [REDACTED]; SecretFiles and SecretEnv look up stored passwords. The Render
// functions write a credential onto the outbound request only (a new
// wsse:Security UsernameToken, HTTP Basic, or a configured header) and refuse
// to replace anything already there, since that could only have come from
// the inbound request (invariant 11). They do not see the connection:
// PasswordText, Basic and headers with %p are cleartext and need TLS to the
// backend.
//
// PassTickets: Generator implements RACF's classic (DES) and enhanced
// (HMAC-SHA-512) PassTicket algorithms from IBM's published description
// (z/OS Security Server RACF Macros and Interfaces, "The RACF PassTicket").
// Generator.Verify checks that a ticket is computationally valid within the
// time window; it does not remember tickets, so refusing a second use
// (which RACF does on z/OS) is the caller's job.
package credmap
