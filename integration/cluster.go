package integration

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	dnetwork "github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	tc "github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/network"
)

// Ports inside a member's container.
const (
	clientPort = "7001"
	raftPort   = "7101"
	adminPort  = "7201"
)

// Options configure a cluster. Zero values take the documented defaults.
type Options struct {
	// Members is the cluster size. Default 3.
	Members int
	// Flags are passed to every zraftd after the harness's own (for example
	// "--session-timeout=10s").
	Flags []string
}

// Cluster is a running set of zraftd containers. Members reach each other by alias
// (node-1, node-2, …) on an internal network used for Raft only; clients and the tests
// reach them on 127.0.0.1 through ports published from a second network, so cutting a
// member off the Raft network partitions it from its peers while the tests can still
// watch it.
type Cluster struct {
	t       testing.TB
	docker  *tc.DockerClient
	image   string
	clients *tc.DockerNetwork
	raft    *tc.DockerNetwork
	// Members in id order (node-1 first).
	Members []*Member
}

// Member is one zraftd container with its published ports and its data volume.
type Member struct {
	ID         string
	ClientPort int // on 127.0.0.1
	AdminPort  int // on 127.0.0.1
	cluster    *Cluster
	ctr        *tc.DockerContainer
	volume     string
}

// StartCluster starts opts.Members members of a new cluster from image and waits until
// every one is ready. Everything it creates is removed by t.Cleanup, also on failure;
// on failure the members' logs are written under artifacts/ first.
func StartCluster(ctx context.Context, t testing.TB, dc *tc.DockerClient, image string, opts Options) *Cluster {
	t.Helper()
	if opts.Members == 0 {
		opts.Members = 3
	}
	c := &Cluster{t: t, docker: dc, image: image}
	var err error
	if c.clients, err = network.New(ctx); err != nil {
		t.Fatalf("integration: client network: %v", err)
	}
	t.Cleanup(func() { _ = c.clients.Remove(context.Background()) })
	if c.raft, err = network.New(ctx, network.WithInternal()); err != nil {
		t.Fatalf("integration: raft network: %v", err)
	}
	t.Cleanup(func() { _ = c.raft.Remove(context.Background()) })

	for i := range opts.Members {
		m := &Member{ID: fmt.Sprintf("node-%d", i+1), cluster: c, ClientPort: freePort(t), AdminPort: freePort(t)}
		c.Members = append(c.Members, m)
	}
	var boot []string
	for _, m := range c.Members {
		boot = append(boot, fmt.Sprintf("%s=%s:%s|%s", m.ID, m.ID, raftPort, m.ClientEndpoint()))
	}
	for _, m := range c.Members {
		c.create(ctx, m, strings.Join(boot, ","), opts.Flags)
	}
	t.Cleanup(c.saveLogsOnFailure)
	if err := c.WaitReady(ctx, c.Members...); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *Cluster) create(ctx context.Context, m *Member, bootstrap string, flags []string) {
	t := c.t
	m.volume = "zraft-it-" + randomHex(6) + "-" + m.ID
	if _, err := c.docker.VolumeCreate(ctx, client.VolumeCreateOptions{Name: m.volume}); err != nil {
		t.Fatalf("integration: volume: %v", err)
	}
	t.Cleanup(func() {
		_, _ = c.docker.VolumeRemove(context.Background(), m.volume, client.VolumeRemoveOptions{Force: true})
	})
	args := append([]string{
		"--id=" + m.ID,
		"--client-addr=tcp://0.0.0.0:" + clientPort,
		"--advertise-client=" + m.ClientEndpoint(),
		"--raft-addr=" + m.ID + ":" + raftPort,
		"--admin-addr=0.0.0.0:" + adminPort,
		"--data=/data",
		"--bootstrap=" + bootstrap,
	}, flags...)
	local := netip.MustParseAddr("127.0.0.1")
	ctr, err := tc.Run(ctx, c.image,
		tc.WithLogger(tclog.TestLogger(t)),
		tc.WithCmd(args...),
		tc.WithExposedPorts(clientPort+"/tcp", adminPort+"/tcp"),
		tc.WithHostConfigModifier(func(hc *container.HostConfig) {
			// Fixed host ports, chosen free by the harness, so a restarted member is
			// found where its clients and peers' hints expect it.
			hc.PortBindings = dnetwork.PortMap{
				dnetwork.MustParsePort(clientPort + "/tcp"): {{HostIP: local, HostPort: strconv.Itoa(m.ClientPort)}},
				dnetwork.MustParsePort(adminPort + "/tcp"):  {{HostIP: local, HostPort: strconv.Itoa(m.AdminPort)}},
			}
			hc.Mounts = []mount.Mount{{Type: mount.TypeVolume, Source: m.volume, Target: "/data"}}
		}),
		network.WithNetwork(nil, c.clients),
		network.WithNetwork([]string{m.ID}, c.raft),
	)
	if ctr != nil {
		t.Cleanup(func() {
			ctx := context.Background()
			_, _ = c.docker.ContainerUnpause(ctx, ctr.GetContainerID(), client.ContainerUnpauseOptions{})
			_ = ctr.Terminate(ctx)
		})
	}
	if err != nil {
		t.Fatalf("integration: start %s: %v", m.ID, err)
	}
	m.ctr = ctr
}

// freePort returns a port that was free on 127.0.0.1 a moment ago.
func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("integration: free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// ClientEndpoint is the member's client endpoint as seen from the tests.
func (m *Member) ClientEndpoint() string {
	return "tcp://127.0.0.1:" + strconv.Itoa(m.ClientPort)
}

// Endpoints is the members list for client.Dial, first listed first.
func (c *Cluster) Endpoints(first ...*Member) string {
	var out []string
	seen := map[string]bool{}
	for _, m := range append(append([]*Member{}, first...), c.Members...) {
		if !seen[m.ID] {
			seen[m.ID] = true
			out = append(out, m.ID+"="+m.ClientEndpoint())
		}
	}
	return strings.Join(out, ",")
}

// Member returns the member with id, or nil.
func (c *Cluster) Member(id string) *Member {
	for _, m := range c.Members {
		if m.ID == id {
			return m
		}
	}
	return nil
}

// Others returns every member but m.
func (c *Cluster) Others(m *Member) []*Member {
	var out []*Member
	for _, o := range c.Members {
		if o != m {
			out = append(out, o)
		}
	}
	return out
}

// Kill sends SIGKILL: the member dies at once, with whatever it had not synced.
func (m *Member) Kill(ctx context.Context) error {
	_, err := m.cluster.docker.ContainerKill(ctx, m.ctr.GetContainerID(), client.ContainerKillOptions{Signal: "KILL"})
	return wrap("kill", m, err)
}

// Stop sends SIGTERM and waits for the member to exit (SIGKILL after 20 s).
func (m *Member) Stop(ctx context.Context) error {
	timeout := 20
	_, err := m.cluster.docker.ContainerStop(ctx, m.ctr.GetContainerID(), client.ContainerStopOptions{Timeout: &timeout})
	return wrap("stop", m, err)
}

// Start starts a stopped or killed member again: same container, same volume, same
// ports. It does not wait for readiness (WaitReady).
func (m *Member) Start(ctx context.Context) error {
	_, err := m.cluster.docker.ContainerStart(ctx, m.ctr.GetContainerID(), client.ContainerStartOptions{})
	return wrap("start", m, err)
}

// Pause freezes every process of the member (cgroup freezer): its connections stay open
// and silent. The freezer gives up on a process stuck in the kernel (an fsync, say), so a
// failed freeze is tried again a few times.
func (m *Member) Pause(ctx context.Context) error {
	var err error
	for range 5 {
		if _, err = m.cluster.docker.ContainerPause(ctx, m.ctr.GetContainerID(), client.ContainerPauseOptions{}); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return wrap("pause", m, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
	return wrap("pause", m, err)
}

// Unpause resumes a paused member.
func (m *Member) Unpause(ctx context.Context) error {
	_, err := m.cluster.docker.ContainerUnpause(ctx, m.ctr.GetContainerID(), client.ContainerUnpauseOptions{})
	return wrap("unpause", m, err)
}

// Disconnect cuts the member off the Raft network: its peers can no longer reach it
// nor it them. Its client and admin ports stay reachable from the tests.
func (m *Member) Disconnect(ctx context.Context) error {
	_, err := m.cluster.docker.NetworkDisconnect(ctx, m.cluster.raft.ID, client.NetworkDisconnectOptions{Container: m.ctr.GetContainerID(), Force: true})
	return wrap("disconnect", m, err)
}

// Reconnect attaches the member to the Raft network again under its alias.
func (m *Member) Reconnect(ctx context.Context) error {
	_, err := m.cluster.docker.NetworkConnect(ctx, m.cluster.raft.ID, client.NetworkConnectOptions{
		Container:      m.ctr.GetContainerID(),
		EndpointConfig: &dnetwork.EndpointSettings{Aliases: []string{m.ID}},
	})
	return wrap("reconnect", m, err)
}

func wrap(op string, m *Member, err error) error {
	if err != nil {
		return fmt.Errorf("integration: %s %s: %w", op, m.ID, err)
	}
	return nil
}

// saveLogsOnFailure writes every member's output under artifacts/<test>/ when the test
// failed, and logs the paths.
func (c *Cluster) saveLogsOnFailure() {
	if !c.t.Failed() {
		return
	}
	dir, err := ArtifactDir(c.t)
	if err != nil {
		c.t.Logf("integration: no artifacts dir: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, m := range c.Members {
		if m.ctr == nil {
			continue
		}
		rc, err := m.ctr.Logs(ctx)
		if err != nil {
			c.t.Logf("integration: logs of %s: %v", m.ID, err)
			continue
		}
		path := filepath.Join(dir, m.ID+".log")
		f, err := os.Create(path)
		if err == nil {
			_, _ = f.ReadFrom(rc)
			_ = f.Close()
			c.t.Logf("integration: %s's log: %s", m.ID, path)
		}
		_ = rc.Close()
	}
}

// ArtifactDir returns (creating it) artifacts/<test name> in the package directory.
func ArtifactDir(t testing.TB) (string, error) {
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	dir, err := filepath.Abs(filepath.Join("artifacts", name))
	if err != nil {
		return "", err
	}
	return dir, os.MkdirAll(dir, 0o755)
}
