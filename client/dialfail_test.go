package client

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/zraft/zraft/client/internal/testserver"
)

// A member that refuses connections costs one failed attempt, not the connect timeout:
// with a connect timeout far longer than the wait, the session still comes up on the
// next member.
func TestDeadFirstMemberSkippedAtOnce(t *testing.T) {
	checkLeaks(t)
	cl := startCluster(t, testserver.Config{Extensions: true})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "dead=tcp://" + ln.Addr().String()
	_ = ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	c, err := Dial(ctx, dead+","+cl.Endpoints(), testOptions(WithConnectTimeout(5*time.Minute))...)
	t.Logf("Dial with a dead first member took %v", time.Since(start))
	if err != nil {
		t.Fatalf("dial with a dead first member: %v", err)
	}
	defer func() { _ = c.Close(context.Background()) }()
	if st := status(t, c); st.Member != cl.Member(0).ID() {
		t.Fatalf("connected to %q", st.Member)
	}
}
