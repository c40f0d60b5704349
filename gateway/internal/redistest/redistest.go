// Package redistest runs real redis-server processes for tests: a private
// server on a free loopback port (stopped when the test ends, and stoppable
// and restartable in between), a one-node Redis Cluster, a master with one
// Sentinel, the replicated topologies of topology.go (a master, a replica
// and three Sentinels that fail over; a Cluster of several masters), or the
// shared server ./build.sh test starts (GATEHOUSE_TEST_REDIS_ADDR). There is
// no mock: the store is tested against Redis itself.
package redistest

import (
	"bufio"
	"context"
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

// Server is a real redis-server process owned by one test.
type Server struct {
	tb     testing.TB
	bin    string
	Port   int
	Addr   string
	dir    string
	extra  []string
	conf   string // a config file given first (Sentinel needs one it can rewrite)
	cmd    *exec.Cmd
	exited chan struct{}
}

// Start starts a private redis-server on a free loopback port and stops it when
// the test ends. There is no skip: without redis-server the store is untested.
func Start(tb testing.TB, extra ...string) *Server {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Fatalf("redis-server is not installed (%v): the store tests need a real Redis; run ./build.sh test, which provides it", err)
	}
	s := &Server{tb: tb, bin: bin, dir: tb.TempDir(), extra: extra}
	tb.Cleanup(s.Stop)
	var lastErr error
	for range 3 { // the free port can be taken between probing and binding
		s.Port = freePort(tb)
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port))
		if lastErr = s.tryStart(); lastErr == nil {
			return s
		}
	}
	tb.Fatal(lastErr)
	return nil
}

func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Restart starts the stopped server again on its port, keeping its directory.
func (s *Server) Restart() {
	s.tb.Helper()
	if err := s.tryStart(); err != nil {
		s.tb.Fatal(err)
	}
}

func (s *Server) tryStart() error {
	logFile := filepath.Join(s.dir, "redis.log")
	var args []string
	if s.conf != "" {
		args = []string{s.conf}
	}
	args = append(args,
		"--bind", "127.0.0.1",
		"--port", strconv.Itoa(s.Port),
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--logfile", logFile,
	)
	args = append(args, s.extra...)
	s.cmd = exec.Command(s.bin, args...)
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	exited := make(chan struct{})
	s.exited = exited
	go func(cmd *exec.Cmd) {
		_ = cmd.Wait()
		close(exited)
	}(s.cmd)

	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			log, _ := os.ReadFile(logFile)
			return fmt.Errorf("redis-server on port %d exited at start-up; log:\n%s", s.Port, log)
		default:
		}
		if PingRaw(s.Addr) == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Stop()
	return fmt.Errorf("redis-server on %s did not answer PING within 10s", s.Addr)
}

// Stop kills the server, as a crash would, and waits for it to exit.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// PingRaw speaks RESP directly, so that readiness does not depend on the client under test.
func PingRaw(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// Admin is a plain go-redis client for inspecting the server.
func (s *Server) Admin() *redis.Client {
	c := redis.NewClient(&redis.Options{
		Addr:                     s.Addr,
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	s.tb.Cleanup(func() { c.Close() })
	return c
}

// StartCluster starts a one-node Redis Cluster that owns every slot. One node is
// enough to make the server refuse scripts whose keys span slots (CROSSSLOT).
func StartCluster(tb testing.TB) *Server {
	tb.Helper()
	s := Start(tb, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-announce-ip", "127.0.0.1")
	ctx := context.Background()
	c := s.Admin()
	if err := c.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", 0, 16383).Err(); err != nil {
		tb.Fatalf("CLUSTER ADDSLOTSRANGE: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := c.ClusterInfo(ctx).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			return s
		}
		if time.Now().After(deadline) {
			tb.Fatalf("cluster not ok after 10s: %v %s", err, info)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// SentinelMaster is the master name StartSentinel monitors.
const SentinelMaster = "gatehouse-test"

// StartSentinel starts a master and one Sentinel monitoring it as
// SentinelMaster (quorum 1), and returns them once the Sentinel knows the
// master. Clients use the Sentinel's address with MasterName SentinelMaster.
func StartSentinel(tb testing.TB) (master, sentinel *Server) {
	tb.Helper()
	master = Start(tb)
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Fatalf("redis-server is not installed: %v", err)
	}
	sentinel = &Server{tb: tb, bin: bin, dir: tb.TempDir(), extra: []string{"--sentinel"}}
	sentinel.conf = filepath.Join(sentinel.dir, "sentinel.conf")
	conf := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 1\nsentinel down-after-milliseconds %s 60000\n", SentinelMaster, master.Port, SentinelMaster)
	if err := os.WriteFile(sentinel.conf, []byte(conf), 0o600); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(sentinel.Stop)
	var lastErr error
	for range 3 {
		sentinel.Port = freePort(tb)
		sentinel.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(sentinel.Port))
		if lastErr = sentinel.tryStart(); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		tb.Fatal(lastErr)
	}
	c := sentinel.Admin()
	deadline := time.Now().Add(10 * time.Second)
	for {
		addr, err := c.Do(context.Background(), "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SentinelMaster).StringSlice()
		if err == nil && len(addr) == 2 && addr[1] == strconv.Itoa(master.Port) {
			return master, sentinel
		}
		if time.Now().After(deadline) {
			tb.Fatalf("sentinel does not know the master after 10s: %v %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ClusterAddrs is a seed list of two addresses of the one node, which makes
// NewUniversalClient choose its Cluster client.
func (s *Server) ClusterAddrs() []string {
	return []string{s.Addr, net.JoinHostPort("localhost", strconv.Itoa(s.Port))}
}

// SharedAddr is GATEHOUSE_TEST_REDIS_ADDR when set, else a private server.
func SharedAddr(tb testing.TB) string {
	if addr := os.Getenv("GATEHOUSE_TEST_REDIS_ADDR"); addr != "" {
		return addr
	}
	return Start(tb).Addr
}

// Client returns a go-redis client configured like the gateway's own
// (per-operation timeouts, one dial attempt, no CLIENT SETINFO or
// maintenance-notification handshakes that Redis 7.0 refuses), closed when
// the test ends.
func Client(tb testing.TB, addrs []string, timeout time.Duration) redis.UniversalClient {
	tb.Helper()
	c := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:                    addrs,
		ClientName:               "gatehouse-test",
		ContextTimeoutEnabled:    true,
		DialTimeout:              timeout,
		ReadTimeout:              timeout,
		WriteTimeout:             timeout,
		PoolTimeout:              timeout,
		DialerRetries:            1,
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	tb.Cleanup(func() { c.Close() })
	return c
}
