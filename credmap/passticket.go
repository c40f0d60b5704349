package credmap

// PassTicket generation for RACF (z/OS): one-time passwords derived from a
// secured signon key, a user ID, an application name and the time.
//
// Sources, IBM's published descriptions of the two algorithms:
//
//   - Legacy ("classic") algorithm: z/OS Security Server RACF Macros and
//     Interfaces (SA23-2288), chapter "The RACF PassTicket", section
//     "Incorporating the PassTicket generator algorithm into your program":
//     "Input data for the algorithm", "How the generator algorithm works"
//     (steps 1 to 6), "How the time-coder algorithm works" (steps A to I),
//     "The permutation tables" and "The translation table". The same text is
//     in OS/390 Security Server (RACF) Macros and Interfaces (SC28-1914) and
//     in z/VM RACF Security Server Macros and Interfaces (topics "How the
//     Time-Coder Algorithm Works", "The Permutation Tables").
//   - Enhanced algorithm: z/OS 2.4 and later, same book, "The enhanced
//     PassTicket algorithm", as implemented by IBM's sample program
//     EnhancedPassTicketGenerator ("implements the enhanced PassTicket
//     generation algorithm as documented in z/OS Security Server RACF Macros
//     and Interfaces", Copyright IBM Corp. 2020, 2021). Key sizes: z/OS
//     Security Server RACF Security Administrator's Guide (SA23-2289),
//     "Storing PassTicket keys encrypted in ICSF": "The supported HMAC key
//     size range is from 32 to 256 bytes. The recommended minimum key size
//     is 64 bytes."
//   - Validity: "A PassTicket is considered to be within the valid time range
//     when the time of generation, with respect to the clock on the
//     generating computer, is within plus or minus 10 minutes of the time of
//     evaluation" (CICS TS, "Implementing PassTickets for secure sign-on";
//     RACF Security Administrator's Guide, "The RACF PassTicket").
//
// The code below is written from those descriptions; it is not derived from
// any other implementation.

import (
	"crypto/cipher"
	"crypto/des"
	"crypto/hmac"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"time"
)

// Algorithm selects the PassTicket generator algorithm. The zero value is
// not an algorithm: a Generator must say which one it uses.
type Algorithm int

const (
	// Classic is RACF's original ("legacy") PassTicket algorithm: DES with
	// the 8-byte secured signon key, a 32-bit time field and an output of
	// A–Z and 0–9.
	Classic Algorithm = iota + 1
	// Enhanced is RACF's enhanced PassTicket algorithm with upper-case
	// output (RACF's "UPPER" enhanced PassTicket type): HMAC-SHA-512 with a
	// 32- to 256-byte key, a 48-bit time field and an output of 0–9 and A–Z.
	Enhanced
	// EnhancedMixed is the enhanced algorithm with mixed-case output (RACF's
	// "MIXED" type): 0–9, A–Z, a–z, '-' and '_'. Only for applications whose
	// PTKTDATA profile asks for mixed-case enhanced PassTickets.
	EnhancedMixed
)

func (a Algorithm) String() string {
	switch a {
	case Classic:
		return "classic"
	case Enhanced:
		return "enhanced"
	case EnhancedMixed:
		return "enhanced-mixed"
	}
	return fmt.Sprintf("Algorithm(%d)", int(a))
}

// ParseAlgorithm reads an algorithm name as written in configuration:
// "classic" (or "legacy"), "enhanced" (or "enhanced-upper") and
// "enhanced-mixed". Case matters: names are lower case.
func ParseAlgorithm(name string) (Algorithm, error) {
	switch name {
	case "classic", "legacy":
		return Classic, nil
	case "enhanced", "enhanced-upper":
		return Enhanced, nil
	case "enhanced-mixed":
		return EnhancedMixed, nil
	}
	return 0, fmt.Errorf("passticket: unknown algorithm %q (want classic, enhanced or enhanced-mixed)", name)
}

// Key sizes, in bytes.
const (
	ClassicKeySize             = 8   // a DES key: 16 hex digits in RACF's SSIGNON(KEYMASKED(...))
	EnhancedMinKeySize         = 32  // ICSF HMAC key, RACF's lower bound
	EnhancedMaxKeySize         = 256 // ICSF HMAC key, RACF's upper bound
	EnhancedRecommendedKeySize = 64  // IBM's recommended minimum
)

// DefaultWindow is RACF's validity window: a PassTicket is accepted when it
// was generated no more than 10 minutes before or after the evaluation time.
const DefaultWindow = 10 * time.Minute

// maxWindow bounds the work of one Verify call: every second in the window
// costs six DES encryptions or seven HMAC-SHA-512 computations.
const maxWindow = time.Hour

// Errors returned (wrapped) by Generate. None of them, nor their wrapped
// text, ever contains the key or the input values.
var (
	ErrPassTicketUser        = errors.New("passticket: invalid user ID")
	ErrPassTicketApplication = errors.New("passticket: invalid application name")
	ErrPassTicketKey         = errors.New("passticket: invalid key")
	ErrPassTicketAlgorithm   = errors.New("passticket: unknown algorithm")
	ErrPassTicketTime        = errors.New("passticket: time out of range")
)

// Generator generates and verifies RACF PassTickets with one key, following
// IBM's description in z/OS Security Server RACF Macros and Interfaces
// (SA23-2288), "The RACF PassTicket": the legacy generator and time-coder
// algorithms (Classic) and the enhanced PassTicket algorithm (Enhanced,
// EnhancedMixed). The comment at the top of this file lists the sections.
// It is a value: safe for concurrent use as long as nobody writes to Key.
//
// Generator never prints Key: String, Format (every fmt verb), MarshalText
// (encoding/json) and LogValue (log/slog) name the algorithm only.
type Generator struct {
	Algorithm Algorithm
	// Key is the secured signon key of the application's PTKTDATA profile:
	// for Classic the 8-byte DES key (RACF ignores the parity bits, and so
	// does DES); for Enhanced and EnhancedMixed the ICSF HMAC key, 32 to 256
	// bytes (64 or more recommended by IBM).
	Key []byte
}

// String names the algorithm, never the key.
func (g Generator) String() string {
	return "passticket generator (" + g.Algorithm.String() + ", key redacted)"
}

// Format prints String for every verb, so that no verb (%+v, %#v, %x, %d)
// walks the struct and prints the key.
func (g Generator) Format(f fmt.State, verb rune) { fmt.Fprint(f, g.String()) }

// MarshalText returns String, so that encoding/json does not write the key
// either.
func (g Generator) MarshalText() ([]byte, error) { return []byte(g.String()), nil }

// LogValue returns String, for log/slog.
func (g Generator) LogValue() slog.Value { return slog.StringValue(g.String()) }

// Generate returns the 8-character PassTicket for user at application at
// time t, as RACF would compute it at the same second (UTC; t's location
// does not matter, fractions of a second are dropped).
//
// user is a RACF user ID and application a PTKTDATA application name: 1 to
// 8 characters from A–Z, 0–9, #, $ and @, upper case. Anything else is an
// error, never a ticket: RACF keeps user IDs and profile names in upper
// case, and Generate does not guess; the caller (the mapping) upper-cases
// where that is wanted.
//
// The classic algorithm's time field is 32 bits of seconds since
// 1970-01-01 00:00 UTC, so it works until 2106-02-07 06:28:15 UTC; the
// enhanced algorithm's is 48 bits.
func (g Generator) Generate(user, application string, t time.Time) (string, error) {
	p, err := g.prepare(user, application)
	if err != nil {
		return "", err
	}
	secs := t.Unix()
	if secs < 0 || secs > p.maxTime() {
		return "", fmt.Errorf("%w: the %s algorithm covers 1970-01-01 to %s UTC",
			ErrPassTicketTime, g.Algorithm, time.Unix(p.maxTime(), 0).UTC().Format(time.DateTime))
	}
	out := p.ticket(uint64(secs))
	return string(out[:]), nil
}

// Verify reports whether ticket is the PassTicket of user at application
// for some second within window of at (window <= 0 means DefaultWindow;
// windows above one hour are cut to one hour). It returns that second, the
// one nearest to at when several match.
//
// Verify checks only that the ticket is computationally valid, as RACF's
// PassTicket evaluation does. It does not remember tickets: RACF refuses a
// second use of the same PassTicket for the same user and application, and
// a backend that relies on Verify must do the same (store the ticket, user
// and application for twice the window, refuse when already there).
//
// Invalid inputs (a ticket that is not 8 characters, a user or application
// Generate would refuse, a bad key) verify as false.
func (g Generator) Verify(ticket, user, application string, at time.Time, window time.Duration) (time.Time, bool) {
	if len(ticket) != 8 {
		return time.Time{}, false
	}
	p, err := g.prepare(user, application)
	if err != nil {
		return time.Time{}, false
	}
	if window <= 0 {
		window = DefaultWindow
	}
	window = min(window, maxWindow)
	span := int64(window / time.Second)
	center := at.Unix()
	want := []byte(ticket)
	// Nearest first: at, at-1s, at+1s, at-2s, ...
	for d := int64(0); d <= span; d++ {
		for _, s := range [2]int64{center - d, center + d} {
			if s < 0 || s > p.maxTime() {
				continue
			}
			got := p.ticket(uint64(s))
			if subtle.ConstantTimeCompare(got[:], want) == 1 {
				return time.Unix(s, 0).UTC(), true
			}
			if d == 0 {
				break // center - 0 == center + 0
			}
		}
	}
	return time.Time{}, false
}

// prepared holds everything that does not depend on the time, so that
// Verify pays for it once per call, not once per second.
type prepared struct {
	alg  Algorithm
	user [8]byte // EBCDIC, blank padded
	appl [8]byte // EBCDIC, blank padded

	// classic
	block   cipher.Block
	result3 uint32   // generator step 3: the left 4 bytes of Result-2
	pad     [12]byte // time-coder padding: the unpadded user ID, then X'55's

	// enhanced
	mac    hash.Hash
	digest uint64 // generator step 2: the left 6 bytes of HMAC(user || application)
}

func (g Generator) prepare(user, application string) (*prepared, error) {
	p := &prepared{alg: g.Algorithm}
	userLen, err := ptEncode(&p.user, user)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPassTicketUser, err)
	}
	if _, err := ptEncode(&p.appl, application); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPassTicketApplication, err)
	}
	if err := g.checkKey(); err != nil {
		return nil, err
	}
	switch g.Algorithm {
	case Classic:
		block, err := des.NewCipher(g.Key)
		if err != nil {
			// des reports only the key size; FIPS 140-only mode refuses DES.
			return nil, fmt.Errorf("%w: DES unavailable: %v", ErrPassTicketKey, err)
		}
		p.block = block
		p.result3 = p.classicResult3()
		copy(p.pad[:], p.user[:userLen])
		for i := userLen; i < len(p.pad); i++ {
			p.pad[i] = 0x55
		}
	case Enhanced, EnhancedMixed:
		p.mac = hmac.New(sha512.New, g.Key)
		p.mac.Write(p.user[:])
		p.mac.Write(p.appl[:])
		var sum [sha512.Size]byte
		d := p.mac.Sum(sum[:0])
		p.digest = uint64(d[0])<<40 | uint64(d[1])<<32 | uint64(binary.BigEndian.Uint32(d[2:6]))
	}
	return p, nil
}

func (g Generator) checkKey() error {
	switch g.Algorithm {
	case Classic:
		if len(g.Key) != ClassicKeySize {
			return fmt.Errorf("%w: the classic algorithm needs an %d-byte DES key, got %d bytes", ErrPassTicketKey, ClassicKeySize, len(g.Key))
		}
	case Enhanced, EnhancedMixed:
		if len(g.Key) < EnhancedMinKeySize || len(g.Key) > EnhancedMaxKeySize {
			return fmt.Errorf("%w: the enhanced algorithm needs a %d- to %d-byte HMAC key, got %d bytes", ErrPassTicketKey, EnhancedMinKeySize, EnhancedMaxKeySize, len(g.Key))
		}
	default:
		return fmt.Errorf("%w: %s", ErrPassTicketAlgorithm, g.Algorithm)
	}
	zero := byte(0)
	for _, b := range g.Key {
		zero |= b
	}
	if zero == 0 {
		// Not a RACF rule: an all-zero key is an unset secret, not a key.
		return fmt.Errorf("%w: key is all zero bytes", ErrPassTicketKey)
	}
	return nil
}

func (p *prepared) maxTime() int64 {
	if p.alg == Classic {
		return 1<<32 - 1
	}
	return 1<<48 - 1
}

func (p *prepared) ticket(secs uint64) [8]byte {
	if p.alg == Classic {
		return p.classic(uint32(secs))
	}
	return p.enhanced(secs)
}

// ptEBCDIC is code page 037 for the characters RACF allows in user IDs and
// application names, and the blank that pads them. For these characters
// code pages 037, 500 and 1047 agree. 0 marks a character that is not
// allowed.
var ptEBCDIC = [256]byte{
	' ': 0x40,
	'$': 0x5B, '#': 0x7B, '@': 0x7C,
	'A': 0xC1, 'B': 0xC2, 'C': 0xC3, 'D': 0xC4, 'E': 0xC5, 'F': 0xC6, 'G': 0xC7, 'H': 0xC8, 'I': 0xC9,
	'J': 0xD1, 'K': 0xD2, 'L': 0xD3, 'M': 0xD4, 'N': 0xD5, 'O': 0xD6, 'P': 0xD7, 'Q': 0xD8, 'R': 0xD9,
	'S': 0xE2, 'T': 0xE3, 'U': 0xE4, 'V': 0xE5, 'W': 0xE6, 'X': 0xE7, 'Y': 0xE8, 'Z': 0xE9,
	'0': 0xF0, '1': 0xF1, '2': 0xF2, '3': 0xF3, '4': 0xF4, '5': 0xF5, '6': 0xF6, '7': 0xF7, '8': 0xF8, '9': 0xF9,
}

// ptEncode writes s into dst in EBCDIC, "left-justified and padded with
// blanks on the right to a length of 8 bytes", and returns len(s). Errors
// name positions, never the value: a mistyped field may hold a password.
func ptEncode(dst *[8]byte, s string) (int, error) {
	if s == "" {
		return 0, errors.New("empty")
	}
	if len(s) > len(dst) {
		return 0, fmt.Errorf("%d bytes, at most %d allowed", len(s), len(dst))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		e := ptEBCDIC[c]
		if e == 0 || c == ' ' {
			if 'a' <= c && c <= 'z' {
				return 0, fmt.Errorf("character %d is lower case (upper case only)", i+1)
			}
			return 0, fmt.Errorf("character %d is not A-Z, 0-9, #, $ or @", i+1)
		}
		dst[i] = e
	}
	for i := len(s); i < len(dst); i++ {
		dst[i] = ptEBCDIC[' ']
	}
	return len(s), nil
}

// classicResult3 is steps 1 to 3 of the generator: "The RACF user ID is
// encrypted using the RACF secured signon application key as the
// encryption key to produce Result-1"; "Result-1 ... is XORed with the
// application name. The result (Result-2A) is encrypted using the
// application key value as the encryption key to produce Result-2"; "The
// left 4 bytes from Result-2 ... are selected as input to the next step".
func (p *prepared) classicResult3() uint32 {
	var b [8]byte
	p.block.Encrypt(b[:], p.user[:])
	subtle.XORBytes(b[:], b[:], p.appl[:])
	p.block.Encrypt(b[:], b[:])
	return binary.BigEndian.Uint32(b[:4])
}

// classic is steps 4 to 6 of the generator for one second: "The resulting
// 4 bytes (Result-3) are XORed with the time and date information ... the
// number of seconds that have elapsed since January 1, 1970 at 0000 GMT in
// the form of a binary integer", the time-coder (step 5) and the
// translation (step 6).
func (p *prepared) classic(secs uint32) [8]byte {
	return ptTranslateClassic(p.timeCoder(p.result3 ^ secs))
}

// timeCoder is the time-coder, steps A to I: a 6-round Feistel network over
// the two halves L2B and R2B of Result-4.
func (p *prepared) timeCoder(result4 uint32) uint32 {
	l2b, r2b := uint16(result4>>16), uint16(result4) // step A
	var b [8]byte
	for round := 0; round < 6; round++ {
		// Step B: R2B followed by PAD1 (rounds 1, 3, 5) or PAD2 (rounds 2, 4, 6).
		binary.BigEndian.PutUint16(b[:2], r2b)
		copy(b[2:], p.pad[6*(round%2):])
		p.block.Encrypt(b[:], b[:])                          // step C
		e := binary.BigEndian.Uint16(b[:2]) ^ l2b            // steps D, E
		l2b, r2b = r2b, ptPermute(e, &ptPermutations[round]) // steps F, G
	}
	return uint32(l2b)<<16 | uint32(r2b) // step I
}

// ptPermutations are the six permutation tables of the time-coder, one per
// round. Entry i is the input bit (1 = leftmost of 16) that becomes output
// bit i+1: "Output-bit position 1 consists of the bit (on or off) in
// input-bit position 10".
var ptPermutations = [6][16]uint8{
	{10, 2, 12, 4, 14, 6, 16, 8, 9, 1, 11, 3, 13, 5, 15, 7},
	{1, 10, 3, 12, 13, 16, 7, 15, 9, 2, 11, 4, 5, 14, 8, 6},
	{3, 10, 1, 12, 13, 16, 9, 15, 7, 2, 14, 4, 5, 11, 8, 6},
	{10, 4, 12, 2, 14, 8, 16, 6, 9, 1, 13, 3, 11, 5, 15, 7},
	{4, 10, 12, 1, 8, 16, 14, 5, 9, 2, 13, 3, 11, 7, 15, 6},
	{1, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2},
}

func ptPermute(in uint16, table *[16]uint8) uint16 {
	var out uint16
	for i, src := range table {
		out |= (in >> (16 - src) & 1) << (15 - i)
	}
	return out
}

// ptClassicAlphabet is the legacy translation table: "The first 26 slots
// are occupied by the letters of the alphabet: A-Z. The last ten slots are
// occupied by the numerics 0-9."
const ptClassicAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// ptTranslateClassic is generator step 6: "Bits 31, 32, 1, 2, 3, and 4 are
// translated to PassTicket character position 1", then bits 3–8, 7–12, ...,
// 27–32 to positions 2 to 8; each 6-bit number "is divided by decimal 36"
// and "the remainder is used as an index into the translation table".
func ptTranslateClassic(result5 uint32) [8]byte {
	var out [8]byte
	for k := range out {
		first := (30 + 4*k) % 32 // zero-based, from the left: 30 is bit 31
		six := (result5<<first | result5>>(32-first)) >> 26
		out[k] = ptClassicAlphabet[six%36]
	}
	return out
}

// enhanced is the enhanced generator for one second. Steps 1 and 2 (the
// EBCDIC user ID and application name, 8 bytes each, blank padded, and
// their HMAC-SHA-512) are in prepare; here: step 3, the time as a 6-byte
// binary number of seconds since 1970-01-01 00:00 GMT, XORed with the left
// 6 bytes of that HMAC (step 4); the time-coder (step 5); the translation
// (step 6).
func (p *prepared) enhanced(secs uint64) [8]byte {
	x := (secs ^ p.digest) & (1<<48 - 1)
	upper := p.alg == Enhanced
	// Time-coder step A: left 3 bytes (L3B) and right 3 bytes (R3B).
	l3b, r3b := uint32(x>>24), uint32(x&0xFFFFFF)
	// Step B: the HMAC input is R3B, the round number (1 byte) and the
	// 16 bytes of user ID and application name from step 1.
	var in [20]byte
	copy(in[4:12], p.user[:])
	copy(in[12:], p.appl[:])
	var sum [sha512.Size]byte
	for round := 1; round <= 6; round++ {
		in[0], in[1], in[2], in[3] = byte(r3b>>16), byte(r3b>>8), byte(r3b), byte(round)
		p.mac.Reset()
		p.mac.Write(in[:])
		h := p.mac.Sum(sum[:0]) // step C
		// Steps D, E: XOR L3B with the left 3 bytes of the HMAC.
		e := (uint32(h[0])<<16 | uint32(h[1])<<8 | uint32(h[2])) ^ l3b
		// Step F: for upper-case tickets, odd rounds keep only the lowest
		// bit of the left byte. The final value then has 41 bits, fewer
		// than 36^8 values, so the translation below loses nothing.
		if upper && round%2 == 1 {
			e &= 0x01FFFF
		}
		l3b, r3b = r3b, e // step G
	}
	return ptTranslateEnhanced(uint64(l3b)<<24|uint64(r3b), upper) // step I, then step 6
}

// ptEnhancedAlphabet is the enhanced PassTicket character set: the first 36
// characters for upper-case tickets, all 64 for mixed-case ones.
const ptEnhancedAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_"

// ptTranslateEnhanced writes the 48-bit time-coder result in base 36
// (upper) or 64 (mixed), most significant digit first, 8 digits.
func ptTranslateEnhanced(v uint64, upper bool) [8]byte {
	n := uint64(64)
	if upper {
		n = 36
	}
	var out [8]byte
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = ptEnhancedAlphabet[v%n]
		v /= n
	}
	return out
}

// PassTicketAlphabet returns the characters a PassTicket of algorithm a is
// made of, "" for an unknown algorithm.
func PassTicketAlphabet(a Algorithm) string {
	switch a {
	case Classic:
		return ptClassicAlphabet
	case Enhanced:
		return ptEnhancedAlphabet[:36]
	case EnhancedMixed:
		return ptEnhancedAlphabet
	}
	return ""
}
