package redistest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestSentinelHA: the Sentinels fail over on request and after the master
// is killed, each time to the other data node.
func TestSentinelHA(t *testing.T) {
	start := time.Now()
	h := StartSentinelHA(t)
	t.Logf("started in %s", time.Since(start).Round(time.Millisecond))
	first := h.Master()
	if first != h.Nodes[0] {
		t.Fatalf("master %s, want the first node %s", first.Addr, h.Nodes[0].Addr)
	}
	start = time.Now()
	next := h.Failover()
	t.Logf("forced failover in %s", time.Since(start).Round(time.Millisecond))
	if next != h.Nodes[1] || h.Master() != next {
		t.Fatalf("after the failover the master is %s, want %s", h.Master().Addr, h.Nodes[1].Addr)
	}
	// The old master stays a master until the Sentinels convert it (some
	// seconds); a crash is tried on a set of its own.
	h = StartSentinelHA(t)
	start = time.Now()
	next = h.KillMaster()
	t.Logf("failover after SIGKILL in %s", time.Since(start).Round(time.Millisecond))
	if next != h.Nodes[1] || h.Master() != next {
		t.Fatalf("after the kill the master is %s, want %s", h.Master().Addr, h.Nodes[1].Addr)
	}
}

// TestClusterMasters: the nodes are joined with redis-cli, or without it
// by the helper itself; either way each of the three owns a third of the
// slots.
func TestClusterMasters(t *testing.T) {
	for _, cli := range []bool{false, true} {
		t.Run(fmt.Sprint("redis-cli=", cli), func(t *testing.T) {
			start := time.Now()
			c := startClusterMasters(t, 3, cli)
			t.Logf("joined in %s", time.Since(start).Round(time.Millisecond))
			nodes, err := c.admin(c.Nodes[0]).ClusterNodes(context.Background()).Result()
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(nodes, "master"); n != 3 {
				t.Errorf("%d masters in\n%s", n, nodes)
			}
			owners := map[*Server]bool{}
			for i := range 30 {
				owners[c.NodeFor(fmt.Sprint("key-", i))] = true
			}
			if len(owners) != 3 {
				t.Errorf("30 keys on %d nodes, want 3", len(owners))
			}
		})
	}
}
