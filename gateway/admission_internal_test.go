package gateway

import (
	"fmt"
	"testing"
	"time"
)

// TestRefusalMemo: a refusal is remembered until its end and no longer; when
// full, expired entries make room, and without room a new refusal is simply not
// remembered (the store still answers for it).
func TestRefusalMemo(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	m := newRefusalMemo()
	m.max = 2
	m.refuse("a", now.Add(time.Second), now)
	if u, ok := m.refusedUntil("a", now.Add(999*time.Millisecond)); !ok || !u.Equal(now.Add(time.Second)) {
		t.Fatalf("a: %v %v", u, ok)
	}
	if _, ok := m.refusedUntil("a", now.Add(time.Second)); ok {
		t.Fatal("a still refused at its end")
	}
	m.refuse("past", now, now) // already over: not remembered
	if _, ok := m.refusedUntil("past", now.Add(-time.Second)); ok {
		t.Fatal("an expired refusal was remembered")
	}
	m.refuse("b", now.Add(time.Minute), now)
	m.refuse("c", now.Add(time.Second), now)
	m.refuse("d", now.Add(time.Minute), now) // full, nothing expired
	if _, ok := m.refusedUntil("d", now); ok {
		t.Fatal("memo grew past its bound")
	}
	later := now.Add(2 * time.Second) // c has expired
	m.refuse("d", later.Add(time.Minute), later)
	if _, ok := m.refusedUntil("d", later); !ok {
		t.Fatal("an expired entry did not make room")
	}
	m.refuse("b", now.Add(time.Second), now) // never shortened
	if u, _ := m.refusedUntil("b", now); !u.Equal(now.Add(time.Minute)) {
		t.Fatalf("b shortened to %v", u)
	}
	if len(m.until) > m.max {
		t.Fatal(fmt.Sprint("size ", len(m.until)))
	}
}
