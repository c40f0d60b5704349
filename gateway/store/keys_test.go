package store

import (
	"crypto/sha256"
	"strings"
	"testing"
)

// hashTag returns the part of a key Redis Cluster hashes: the text between the first
// '{' and the next '}', if non-empty; else the whole key.
func hashTag(key string) string {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key[i+1 : i+1+j]
		}
	}
	return key
}

func TestReplayKeyName(t *testing.T) {
	value := []byte("nonce-{evil}-value")
	k := replayKeyName("gatehouse:", "nonce", value)
	if want := "gatehouse:replay:nonce:{"; !strings.HasPrefix(k, want) {
		t.Fatalf("key %q does not start with %q", k, want)
	}
	if strings.Contains(k, "evil") {
		t.Fatalf("key %q holds the raw value", k)
	}
	// The same value in a later request is the same key and the same slot.
	if again := replayKeyName("gatehouse:", "nonce", []byte("nonce-{evil}-value")); again != k {
		t.Fatalf("same value gave %q and %q", k, again)
	}
	if other := replayKeyName("gatehouse:", "sig", value); other == k {
		t.Fatal("kind does not separate keys")
	}
	if tag := hashTag(k); len(tag) != 2*sha256.Size {
		t.Fatalf("hash tag %q is not the value hash", tag)
	}
	if hashTag(replayKeyName("gatehouse:", "nonce", []byte("other"))) == hashTag(k) {
		t.Fatal("different values share a hash tag")
	}
}

func TestSubjectKeysShareOneHashTag(t *testing.T) {
	subjects := fastPolicy.subjects(Attempt{User: "alice", Caller: "spiffe://example.org/{x}"})
	if len(subjects) != 2 || subjects[0].caller || !subjects[1].caller {
		t.Fatalf("subjects = %+v, want the user then the caller", subjects)
	}
	for _, s := range subjects {
		fail := subjectKeyName("gatehouse:", "fail", s.sum)
		lock := subjectKeyName("gatehouse:", "lock", s.sum)
		level := subjectKeyName("gatehouse:", "level", s.sum)
		if hashTag(fail) != hashTag(lock) || hashTag(lock) != hashTag(level) || len(hashTag(fail)) != 2*sha256.Size {
			t.Errorf("keys %q, %q, %q do not share one hash tag", fail, lock, level)
		}
		for _, k := range []string{fail, lock, level} {
			if strings.Contains(k, "alice") || strings.Contains(k, "spiffe") {
				t.Errorf("key %q holds the raw subject", k)
			}
		}
	}
	if hashTag(subjectKeyName("p:", "lock", subjects[0].sum)) == hashTag(subjectKeyName("p:", "lock", subjects[1].sum)) {
		t.Error("two subjects share a hash tag")
	}
}

// TestSubjectPolicies: a user has the lockout policy; a caller has its own threshold
// and a fixed backoff; a user and a caller of one name are two subjects.
func TestSubjectPolicies(t *testing.T) {
	subjects := fastPolicy.subjects(Attempt{User: "x", Caller: "x"})
	if len(subjects) != 2 || subjects[0].sum == subjects[1].sum {
		t.Fatalf("subjects = %+v, want two distinct", subjects)
	}
	if u := subjects[0].policy; u != fastPolicy {
		t.Errorf("user policy = %+v, want %+v", u, fastPolicy)
	}
	c := subjects[1].policy
	if c.Threshold != fastPolicy.CallerThreshold || c.BaseBackoff != fastPolicy.CallerBackoff || c.MaxBackoff != fastPolicy.CallerBackoff || c.Window != fastPolicy.Window {
		t.Errorf("caller policy = %+v", c)
	}
	if n := len(fastPolicy.subjects(Attempt{})); n != 0 {
		t.Errorf("%d subjects for an empty attempt", n)
	}
}

func TestLockoutPolicyBackoff(t *testing.T) {
	p := LockoutPolicy{Threshold: 1, Window: 1000, BaseBackoff: 3e6, MaxBackoff: 20e6}
	for level, want := range map[int]int64{1: 3e6, 2: 6e6, 3: 12e6, 4: 20e6, 100: 20e6, 1 << 30: 20e6} {
		if got := p.backoff(level); int64(got) != want {
			t.Errorf("backoff(%d) = %d, want %d", level, got, want)
		}
	}
}
