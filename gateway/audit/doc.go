// Package audit writes one record per invocation and per hop (AU-02): who
// called what, what was decided, how it ended and why.
//
// # What a record holds
//
// A [Record] is encoded as one JSON object per line. Its keys are exactly:
//
//	time correlationId hop compensation messageId listener remote caller subject issuer authn roles
//	audience tokenId delegation legacyDomain legacyUser mapping service operation
//	soapVersion decision rule outcome
//	status faultCode reason backendStatus bytesIn bytesOut durationMs
//
// There is no field for message bodies, headers, tokens, passwords,
// PassTickets or keys, so invariant 10 (secrets never appear in audit
// records) holds by construction: a caller cannot put a secret in a record
// except through Reason, which the gateway fills with redacted internal
// reasons. authn says how the subject authenticated (x509, usernameToken,
// mtls or a SAML authentication context class). delegation holds the names of the actors of an assertion's
// delegation chain (composite:NAME for a hop), tokenId an assertion's ID,
// never the assertion. A test pins the key set, so adding a field is a
// deliberate change.
// Record.Durable is a write instruction, not data, and is never encoded.
//
// # Delivery
//
// [Log.Write] encodes the record once and hands it to every sink, even when
// one of them fails; the errors are joined, returned and passed to
// Log.OnError (the gateway counts them in gatehouse_audit_write_errors_total
// and logs them). A record is therefore never dropped silently: either a
// sink has it or an error says which sink does not.
//
// # Durability
//
// A record with Durable set (the gateway sets it for denied and faulted
// requests) is on stable storage in every sink that implements [Syncer]
// before Write returns: the file sink writes it and fsyncs. Other records
// are written at once (readable by tail -f and log shippers) and fsynced in
// batches by a background flusher, after [FileOptions.SyncEvery] records or
// [FileOptions.SyncInterval], whichever comes first; a crash of the machine
// can lose at most that window of non-durable records. Concurrent durable
// writers share fsyncs (group commit). Close syncs.
//
// Sinks without Syncer have nothing more to do once WriteRecord returns:
// standard output and writers hand each record to the writer at once, and
// for the Redis stream durability is the server's (appendonly, appendfsync,
// replicas).
//
// # Files and rotation
//
// [FileWithOptions] rotates before a record would make the file larger than
// MaxBytes: path becomes path.1, path.1 becomes path.2 and so on up to
// path.MaxBackups, whose previous content is dropped. Records are never split
// across files, and rotation happens under the same lock as writes, so it is
// safe with any number of concurrent writers. If rotation fails the sink keeps
// appending to the current file, which then grows past MaxBytes, and reports
// the error with that write (the record itself is kept); it tries again on the
// next write.
//
// Errors the flusher meets in the background are reported by the next
// WriteRecord or by Close, so they also reach Log.OnError. An error from a
// file sink therefore does not always mean the record of that call is
// missing: only errors wrapping the write itself do.
//
// # Redis stream
//
// [RedisStream] adds each record to a Redis stream (XADD stream MAXLEN ~ n *
// record <json>) for central collection. When Redis is down or slow, the
// write fails within the sink's timeout and the error surfaces through
// Log.Write and OnError; the other sinks still get the record, and nothing is
// queued for a later retry: the file sink stays the record of truth. A retry
// inside the client after a lost reply can add the same record twice
// (at-least-once); consumers should expect duplicates.
//
// What the package does not do: it does not ship, sign or encrypt files, and
// it does not redact; what goes into Reason is the caller's responsibility.
package audit
