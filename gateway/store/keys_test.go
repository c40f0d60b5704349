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
	sums, err := hashSubjects([]string{"user:alice", "caller:spiffe://example.org/{x}"})
	if err != nil {
		t.Fatal(err)
	}
	for _, sum := range sums {
		fail := subjectKeyName("gatehouse:", "fail", sum)
		lock := subjectKeyName("gatehouse:", "lock", sum)
		level := subjectKeyName("gatehouse:", "level", sum)
		if hashTag(fail) != hashTag(lock) || hashTag(lock) != hashTag(level) || len(hashTag(fail)) != 2*sha256.Size {
			t.Errorf("keys %q, %q, %q do not share one hash tag", fail, lock, level)
		}
		for _, k := range []string{fail, lock, level} {
			if strings.Contains(k, "alice") || strings.Contains(k, "spiffe") {
				t.Errorf("key %q holds the raw subject", k)
			}
		}
	}
	if hashTag(subjectKeyName("p:", "lock", sums[0])) == hashTag(subjectKeyName("p:", "lock", sums[1])) {
		t.Error("two subjects share a hash tag")
	}
}

func TestHashSubjectsDeduplicates(t *testing.T) {
	sums, err := hashSubjects([]string{"a", "b", "a"})
	if err != nil || len(sums) != 2 {
		t.Fatalf("hashSubjects = %d sums, %v; want 2", len(sums), err)
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
