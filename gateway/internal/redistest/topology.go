package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// The replicated topologies: a Sentinel-monitored master with a replica
// and three Sentinels (StartSentinelHA), and a Redis Cluster of several
// masters (StartClusterMasters). Every process listens on 127.0.0.1 only,
// on a free port, and is killed when the test ends; every wait is bounded.

// SentinelHAMaster is the master name StartSentinelHA monitors.
const SentinelHAMaster = "gatehouse-ha"

// Failover settings of StartSentinelHA: a master that does not answer for
// haDownAfter is subjectively down; a failover that stalls is retried
// after twice haFailoverTimeout.
const (
	haDownAfter       = 500 * time.Millisecond
	haFailoverTimeout = 2 * time.Second
	haQuorum          = 2
	haSentinels       = 3
)

// topologyWait bounds every wait for a topology to settle (start-up,
// failover, cluster join).
const topologyWait = 20 * time.Second

// SentinelHA is a master, one replica and three Sentinels (quorum 2)
// monitoring them as SentinelHAMaster. Which of the two data nodes is the
// master changes with Failover and KillMaster; Master asks the Sentinels.
type SentinelHA struct {
	tb        testing.TB
	Nodes     [2]*Server // the data nodes: first the initial master, then its replica
	Sentinels []*Server
	clients   map[*Server]*redis.SentinelClient
}

// StartSentinelHA starts the master, its replica (in sync before the
// Sentinels start) and three Sentinels, each told of the replica and of the
// other two (with fixed Sentinel IDs), with fast failover settings
// (down-after-milliseconds 500, failover-timeout 2000). It returns once
// every Sentinel knows the master, the replica and the two other Sentinels.
// Clients use SentinelAddrs with MasterName SentinelHAMaster.
func StartSentinelHA(tb testing.TB) *SentinelHA {
	tb.Helper()
	// Both data nodes can become master: a full sync starts at once
	// instead of after the default 5s of diskless-sync delay.
	dataArgs := []string{"--repl-diskless-sync-delay", "0"}
	h := &SentinelHA{tb: tb, clients: map[*Server]*redis.SentinelClient{}}
	h.Nodes[0] = Start(tb, dataArgs...)
	h.Nodes[1] = Start(tb, append([]string{"--replicaof", "127.0.0.1", strconv.Itoa(h.Nodes[0].Port)}, dataArgs...)...)
	h.waitInSync(h.Nodes[1])

	bin, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Fatalf("redis-server is not installed: %v", err)
	}
	ids := make([]string, haSentinels)
	for i := range ids {
		ids[i] = sentinelID()
	}
	h.Sentinels = make([]*Server, haSentinels)
	for i := range h.Sentinels {
		s := &Server{tb: tb, bin: bin, dir: tb.TempDir(), extra: []string{"--sentinel"}}
		s.conf = filepath.Join(s.dir, "sentinel.conf")
		s.Port = freePort(tb)
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port))
		tb.Cleanup(s.Stop)
		h.Sentinels[i] = s
	}
	for i, s := range h.Sentinels {
		var lastErr error
		for range 3 { // the free port can be taken between probing and binding
			if lastErr = os.WriteFile(s.conf, []byte(h.sentinelConf(ids, i)), 0o600); lastErr != nil {
				tb.Fatal(lastErr)
			}
			if lastErr = s.tryStart(); lastErr == nil {
				break
			}
			// The others were told the old port; Sentinel's hello messages
			// correct them (same ID, new address).
			s.Port = freePort(tb)
			s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port))
		}
		if lastErr != nil {
			tb.Fatal(lastErr)
		}
	}
	h.waitSentinels(h.Nodes[0], true)
	return h
}

// sentinelID is a Sentinel run ID: 40 hex digits.
func sentinelID() string {
	var b [20]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (h *SentinelHA) sentinelConf(ids []string, i int) string {
	var b strings.Builder
	m := SentinelHAMaster
	fmt.Fprintf(&b, "sentinel myid %s\n", ids[i])
	fmt.Fprintf(&b, "sentinel monitor %s 127.0.0.1 %d %d\n", m, h.Nodes[0].Port, haQuorum)
	fmt.Fprintf(&b, "sentinel down-after-milliseconds %s %d\n", m, haDownAfter.Milliseconds())
	fmt.Fprintf(&b, "sentinel failover-timeout %s %d\n", m, haFailoverTimeout.Milliseconds())
	fmt.Fprintf(&b, "sentinel parallel-syncs %s 1\n", m)
	fmt.Fprintf(&b, "sentinel known-replica %s 127.0.0.1 %d\n", m, h.Nodes[1].Port)
	for j, o := range h.Sentinels {
		if j != i {
			fmt.Fprintf(&b, "sentinel known-sentinel %s 127.0.0.1 %d %s\n", m, o.Port, ids[j])
		}
	}
	return b.String()
}

// SentinelAddrs are the three Sentinels' addresses.
func (h *SentinelHA) SentinelAddrs() []string {
	addrs := make([]string, len(h.Sentinels))
	for i, s := range h.Sentinels {
		addrs[i] = s.Addr
	}
	return addrs
}

// sentinelClient is a client of Sentinel s, made once.
func (h *SentinelHA) sentinelClient(s *Server) *redis.SentinelClient {
	if c := h.clients[s]; c != nil {
		return c
	}
	c := redis.NewSentinelClient(&redis.Options{
		Addr:                     s.Addr,
		DialTimeout:              time.Second,
		ReadTimeout:              time.Second,
		WriteTimeout:             time.Second,
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	h.tb.Cleanup(func() { c.Close() })
	h.clients[s] = c
	return c
}

// Master is the data node the first Sentinel names as master now.
func (h *SentinelHA) Master() *Server {
	h.tb.Helper()
	addr, err := h.sentinelClient(h.Sentinels[0]).GetMasterAddrByName(context.Background(), SentinelHAMaster).Result()
	if err != nil || len(addr) != 2 {
		h.tb.Fatalf("sentinel master address: %v %v", addr, err)
	}
	for _, n := range h.Nodes {
		if strconv.Itoa(n.Port) == addr[1] {
			return n
		}
	}
	h.tb.Fatalf("the sentinels name %v as master, not one of the data nodes", addr)
	return nil
}

// other is the data node that is not n.
func (h *SentinelHA) other(n *Server) *Server {
	if n == h.Nodes[0] {
		return h.Nodes[1]
	}
	return h.Nodes[0]
}

// Failover asks a Sentinel for a failover (SENTINEL FAILOVER, which needs
// no agreement that the master is down) and waits until every Sentinel
// names the replica as master and the replica says it is one. It returns
// the new master. The old master is not stopped: it stays a writable
// master until the Sentinels turn it into a replica, which they do only
// after a quiet period and their next INFO of it (10s apart), so tens of
// seconds later (not waited for). A client that has not switched yet
// still writes there, and those writes are lost when it becomes a replica.
func (h *SentinelHA) Failover() *Server {
	h.tb.Helper()
	old := h.Master()
	next := h.other(old)
	h.waitSentinels(old, true)
	ctx := context.Background()
	deadline := time.Now().Add(topologyWait)
	for {
		// A Sentinel that has just seen the replica may not deem it good
		// yet (NOGOODSLAVE); INPROG cannot happen before the first call.
		err := h.sentinelClient(h.Sentinels[0]).Failover(ctx, SentinelHAMaster).Err()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			h.tb.Fatalf("SENTINEL FAILOVER: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	h.waitMaster(next, deadline)
	return next
}

// KillMaster kills the master (SIGKILL, as a crash) and waits until every
// Sentinel names the replica as master and the replica says it is one.
// The killed node stays stopped (Restart it to bring it back: the
// Sentinels then make it a replica). It returns the new master.
func (h *SentinelHA) KillMaster() *Server {
	h.tb.Helper()
	old := h.Master()
	next := h.other(old)
	h.waitSentinels(old, true)
	old.Stop()
	h.waitMaster(next, time.Now().Add(topologyWait))
	return next
}

// waitMaster waits until every Sentinel names n as master and n reports
// role:master.
func (h *SentinelHA) waitMaster(n *Server, deadline time.Time) {
	h.tb.Helper()
	ctx := context.Background()
	admin := n.Admin()
	for {
		agreed, why := true, ""
		for _, s := range h.Sentinels {
			addr, err := h.sentinelClient(s).GetMasterAddrByName(ctx, SentinelHAMaster).Result()
			if err != nil || len(addr) != 2 || addr[1] != strconv.Itoa(n.Port) {
				agreed, why = false, fmt.Sprintf("sentinel %s names %v (%v)", s.Addr, addr, err)
				break
			}
		}
		if agreed {
			info, err := admin.Info(ctx, "replication").Result()
			if err == nil && strings.Contains(info, "role:master") {
				return
			}
			agreed, why = false, fmt.Sprintf("%s is not master yet: %v", n.Addr, err)
		}
		if time.Now().After(deadline) {
			h.tb.Fatalf("no failover to %s within %s: %s", n.Addr, topologyWait, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitSentinels waits until every Sentinel sees master as master (not
// down), the other two Sentinels and, with replica, the other data node
// as a connected replica whose link to the master is up.
func (h *SentinelHA) waitSentinels(master *Server, replica bool) {
	h.tb.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(topologyWait)
	for {
		why := ""
		for _, s := range h.Sentinels {
			c := h.sentinelClient(s)
			m, err := c.Master(ctx, SentinelHAMaster).Result()
			switch {
			case err != nil:
				why = err.Error()
			case m["port"] != strconv.Itoa(master.Port) || m["flags"] != "master":
				why = fmt.Sprintf("master %s:%s flags %s", m["ip"], m["port"], m["flags"])
			case m["num-other-sentinels"] != strconv.Itoa(haSentinels-1):
				why = "other sentinels: " + m["num-other-sentinels"]
			case replica:
				rs, err := c.Replicas(ctx, SentinelHAMaster).Result()
				good := false
				for _, r := range rs {
					if r["port"] == strconv.Itoa(h.other(master).Port) && r["flags"] == "slave" && r["master-link-status"] == "ok" {
						good = true
					}
				}
				if !good {
					why = fmt.Sprintf("replicas %v %v", rs, err)
				}
			}
			if why != "" {
				why = "sentinel " + s.Addr + ": " + why
				break
			}
		}
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			h.tb.Fatalf("sentinels not ready within %s: %s", topologyWait, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitInSync waits until the replica's link to its master is up.
func (h *SentinelHA) waitInSync(replica *Server) {
	h.tb.Helper()
	ctx := context.Background()
	admin := replica.Admin()
	deadline := time.Now().Add(topologyWait)
	for {
		info, err := admin.Info(ctx, "replication").Result()
		if err == nil && strings.Contains(info, "master_link_status:up") {
			return
		}
		if time.Now().After(deadline) {
			h.tb.Fatalf("replica %s not in sync within %s: %v\n%s", replica.Addr, topologyWait, err, info)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Cluster is a Redis Cluster of several masters without replicas, the
// slots split evenly between them.
type Cluster struct {
	tb     testing.TB
	Nodes  []*Server
	admins map[*Server]*redis.Client
}

// admin is an Admin client of node, made once.
func (c *Cluster) admin(node *Server) *redis.Client {
	if a := c.admins[node]; a != nil {
		return a
	}
	a := node.Admin()
	c.admins[node] = a
	return a
}

// clusterArgs make a server a Cluster node that announces 127.0.0.1; its
// cluster configuration (nodes.conf) lives in its directory, so a
// Restart keeps its place and its slots (but, without persistence, none
// of its data). A node that found itself in a minority while the nodes
// were meeting waits the node timeout (at most 5s) before it says ok:
// 1.5s keeps the start short and is still far above a loopback ping.
var clusterArgs = []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-announce-ip", "127.0.0.1",
	"--cluster-node-timeout", "1500"}

// StartClusterMasters starts n masters (n ≥ 3, as redis-cli requires) and
// joins them into one Cluster with redis-cli --cluster create, or, when
// redis-cli is not installed, with CLUSTER ADDSLOTSRANGE and CLUSTER MEET.
// It returns once every node reports cluster_state:ok and knows all n.
// Clients use Addrs as the seed list.
func StartClusterMasters(tb testing.TB, n int) *Cluster {
	tb.Helper()
	_, err := exec.LookPath("redis-cli")
	return startClusterMasters(tb, n, err == nil)
}

func startClusterMasters(tb testing.TB, n int, useCLI bool) *Cluster {
	tb.Helper()
	if n < 3 {
		tb.Fatalf("a Cluster of %d masters: at least 3 (StartCluster is the one-node Cluster)", n)
	}
	c := &Cluster{tb: tb, admins: map[*Server]*redis.Client{}}
	for range n {
		c.Nodes = append(c.Nodes, Start(tb, clusterArgs...))
	}
	if useCLI {
		c.createWithCLI()
	} else {
		c.createByHand()
	}
	c.WaitOK()
	return c
}

func (c *Cluster) createWithCLI() {
	c.tb.Helper()
	args := []string{"--cluster", "create"}
	args = append(args, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), topologyWait)
	defer cancel()
	out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput()
	if err != nil {
		c.tb.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
}

// createByHand does what redis-cli --cluster create does: split the slots,
// give each node its own config epoch (no collisions to resolve), and
// introduce the nodes to the first.
func (c *Cluster) createByHand() {
	c.tb.Helper()
	ctx := context.Background()
	n := len(c.Nodes)
	for i, node := range c.Nodes {
		a := c.admin(node)
		lo, hi := i*16384/n, (i+1)*16384/n-1
		if err := a.ClusterAddSlotsRange(ctx, lo, hi).Err(); err != nil {
			c.tb.Fatalf("CLUSTER ADDSLOTSRANGE %d %d on %s: %v", lo, hi, node.Addr, err)
		}
		if err := a.Do(ctx, "CLUSTER", "SET-CONFIG-EPOCH", i+1).Err(); err != nil {
			c.tb.Fatalf("CLUSTER SET-CONFIG-EPOCH on %s: %v", node.Addr, err)
		}
	}
	first := c.admin(c.Nodes[0])
	for _, node := range c.Nodes[1:] {
		if err := first.ClusterMeet(ctx, "127.0.0.1", strconv.Itoa(node.Port)).Err(); err != nil {
			c.tb.Fatalf("CLUSTER MEET %s: %v", node.Addr, err)
		}
	}
}

// WaitOK waits until every node reports cluster_state:ok, all 16384 slots
// assigned and every node known: after a start, or after a node's Restart
// (a restarted master waits a moment before it accepts writes again).
func (c *Cluster) WaitOK() {
	c.tb.Helper()
	ctx := context.Background()
	want := []string{"cluster_state:ok", "cluster_slots_assigned:16384", "cluster_slots_ok:16384", fmt.Sprintf("cluster_known_nodes:%d", len(c.Nodes))}
	deadline := time.Now().Add(topologyWait)
	for {
		why := ""
		for _, node := range c.Nodes {
			info, err := c.admin(node).ClusterInfo(ctx).Result()
			if err != nil {
				why = fmt.Sprintf("%s: %v", node.Addr, err)
				break
			}
			for _, w := range want {
				if !strings.Contains(info, w+"\r\n") {
					why = fmt.Sprintf("%s: no %s in\n%s", node.Addr, w, info)
					break
				}
			}
			if why != "" {
				break
			}
		}
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			c.tb.Fatalf("cluster not ok within %s: %s", topologyWait, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Addrs are the nodes' addresses, a seed list that makes
// NewUniversalClient choose its Cluster client.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr
	}
	return addrs
}

// NodeFor is the node that owns key's slot, as the first node's CLUSTER
// SLOTS says.
func (c *Cluster) NodeFor(key string) *Server {
	c.tb.Helper()
	ctx := context.Background()
	a := c.admin(c.Nodes[0])
	slot, err := a.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		c.tb.Fatalf("CLUSTER KEYSLOT: %v", err)
	}
	ranges, err := a.ClusterSlots(ctx).Result()
	if err != nil {
		c.tb.Fatalf("CLUSTER SLOTS: %v", err)
	}
	for _, r := range ranges {
		if int64(r.Start) <= slot && slot <= int64(r.End) && len(r.Nodes) > 0 {
			for _, n := range c.Nodes {
				if r.Nodes[0].Addr == n.Addr {
					return n
				}
			}
		}
	}
	c.tb.Fatalf("no node owns slot %d: %+v", slot, ranges)
	return nil
}

// RestartNode kills node (SIGKILL, as a crash), starts it again on its
// port with its directory (its cluster configuration, but no data: there
// is no persistence) and waits until the Cluster is ok again.
func (c *Cluster) RestartNode(node *Server) {
	c.tb.Helper()
	node.Stop()
	node.Restart()
	c.WaitOK()
}
