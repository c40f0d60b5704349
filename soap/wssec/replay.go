package wssec

// MessageIDKey is the replay key of a wsa:MessageID that sender sent: a
// MessageID is unique per sender, and it is remembered for as long as any
// Timestamp or UsernameToken this verifier accepts stays fresh (maximum age
// and skew either way), so that the key always has a positive lifetime, also
// for a verifier with no policy of its own (the STS's, a SAML-only service's).
// Its freshness began with the message's Timestamp, when v has one.
func (vr *Verifier) MessageIDKey(v *Verified, sender, id string) ReplayKey {
	p := vr.Policy
	k := ReplayKey{Kind: "msgid", Value: []byte(sender + "\x00" + id), TTL: p.maxAge() + 2*p.skew()}
	if v != nil && v.Timestamp != nil {
		k.Since = v.Timestamp.Created
	}
	return k
}
