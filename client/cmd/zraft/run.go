package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/zraft/zraft/client"
	"github.com/zraft/zraft/client/kv"
)

// Exit codes.
const (
	exitOK          = 0
	exitUsage       = 1
	exitUnavailable = 2
	exitRejected    = 3
	exitInterrupted = 130
)

const usage = `usage: zraft [flags] COMMAND [ARGS]

commands:
  set KEY VALUE   store VALUE under KEY
  get KEY         print KEY's value (nothing if absent)
  del KEY         delete KEY
  watch KEY...    print every change of the KEYs until interrupted
  status          show the leader, the members and this session

flags (before or after the command):
`

type cli struct {
	endpoints string
	timeout   time.Duration
	json      bool
	stdout    io.Writer
	stderr    io.Writer
}

// usageError is a command line that cannot be run.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	c := &cli{stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("zraft", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := getenv("ZRAFT_ENDPOINTS")
	if def == "" {
		def = client.DefaultEndpoints
	}
	fs.StringVar(&c.endpoints, "endpoints", def, "cluster members, id=tcp://host:port,... (env ZRAFT_ENDPOINTS)")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "bound on connecting and the operation")
	fs.BoolVar(&c.json, "json", false, "print JSON")
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	// Flags may come before and after the command.
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return exitUsage
	}
	cmd, cmdArgs := rest[0], []string{}
	if err := fs.Parse(rest[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	cmdArgs = append(cmdArgs, fs.Args()...)
	if c.timeout <= 0 {
		return c.fail(usageError{"--timeout must be positive"})
	}
	err := c.dispatch(ctx, cmd, cmdArgs)
	if err != nil && ctx.Err() != nil {
		return exitInterrupted
	}
	return c.fail(err)
}

func (c *cli) dispatch(ctx context.Context, cmd string, args []string) error {
	need := func(n int, names string) error {
		if len(args) != n {
			return usageError{fmt.Sprintf("%s takes %s", cmd, names)}
		}
		return nil
	}
	switch cmd {
	case "set":
		if err := need(2, "KEY VALUE"); err != nil {
			return err
		}
		return c.withClient(ctx, func(ctx context.Context, cl *client.Client) error {
			if err := kv.New(cl).Set(ctx, args[0], args[1]); err != nil {
				return err
			}
			return c.print(map[string]any{"key": args[0], "ok": true}, "OK")
		})
	case "get":
		if err := need(1, "KEY"); err != nil {
			return err
		}
		return c.withClient(ctx, func(ctx context.Context, cl *client.Client) error {
			v, found, err := kv.New(cl).Get(ctx, args[0])
			if err != nil {
				return err
			}
			if c.json {
				return c.print(map[string]any{"key": args[0], "found": found, "value": v}, "")
			}
			if found {
				_, err = fmt.Fprintln(c.stdout, v)
			}
			return err
		})
	case "del", "delete":
		if err := need(1, "KEY"); err != nil {
			return err
		}
		return c.withClient(ctx, func(ctx context.Context, cl *client.Client) error {
			if err := kv.New(cl).Delete(ctx, args[0]); err != nil {
				return err
			}
			return c.print(map[string]any{"key": args[0], "ok": true}, "OK")
		})
	case "watch":
		if len(args) == 0 {
			return usageError{"watch takes KEY..."}
		}
		return c.watch(ctx, args)
	case "status":
		if err := need(0, "no arguments"); err != nil {
			return err
		}
		return c.withClient(ctx, c.status)
	}
	return usageError{fmt.Sprintf("unknown command %q", cmd)}
}

// withClient dials, runs f within the timeout, and closes the session.
func (c *cli) withClient(ctx context.Context, f func(context.Context, *client.Client) error) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cl, err := client.Dial(ctx, c.endpoints)
	if err != nil {
		return err
	}
	defer closeClient(cl)
	return f(ctx, cl)
}

func closeClient(cl *client.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = cl.Close(ctx)
}

func (c *cli) watch(ctx context.Context, keys []string) error {
	setup, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cl, err := client.Dial(setup, c.endpoints)
	if err != nil {
		return err
	}
	defer closeClient(cl)
	store := kv.New(cl)
	for _, k := range keys {
		if err := store.Watch(setup, k); err != nil {
			return err
		}
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-cl.Events():
			if !ok {
				return client.ErrClosed
			}
			if ev.Kind == client.EventSessionExpired {
				return ev.Err
			}
		case r, ok := <-cl.ServerRequests():
			if !ok {
				return client.ErrClosed
			}
			n, err := kv.ParseNotification(r)
			if err != nil {
				return err
			}
			if err := c.print(map[string]any{"id": n.ID, "key": n.Key, "value": n.Value}, n.Key+"\t"+n.Value); err != nil {
				return err
			}
		}
	}
}

func (c *cli) status(ctx context.Context, cl *client.Client) error {
	st, err := cl.Status(ctx)
	if err != nil {
		return err
	}
	leader := ""
	if st.Connected {
		leader = st.Member
	}
	if c.json {
		members := make([]map[string]string, len(st.Members))
		for i, m := range st.Members {
			members[i] = map[string]string{"id": m.ID, "endpoint": m.Endpoint}
		}
		return c.print(map[string]any{"leader": leader, "members": members, "session": st.SessionID,
			"state": st.State, "extensions": st.Extensions}, "")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "leader:     %s\n", leader)
	fmt.Fprintf(&b, "session:    %s (%s)\n", st.SessionID, st.State)
	fmt.Fprintf(&b, "extensions: %d\n", st.Extensions)
	b.WriteString("members:\n")
	for _, m := range st.Members {
		mark := ""
		if m.ID == leader {
			mark = "  (leader)"
		}
		fmt.Fprintf(&b, "  %s=%s%s\n", m.ID, m.Endpoint, mark)
	}
	_, err = io.WriteString(c.stdout, b.String())
	return err
}

// print writes v as one JSON line with --json, else text (if any) as a line.
func (c *cli) print(v any, text string) error {
	if c.json {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(c.stdout, string(b))
		return err
	}
	if text == "" {
		return nil
	}
	_, err := fmt.Fprintln(c.stdout, text)
	return err
}

// fail prints err as one line and returns its exit code.
func (c *cli) fail(err error) int {
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	msg := err.Error()
	switch {
	case code == exitUnavailable && errors.Is(err, context.DeadlineExceeded):
		msg = fmt.Sprintf("timed out after %v: %v", c.timeout, err)
	case code == exitUsage:
		msg += " (zraft -h for help)"
	}
	fmt.Fprintln(c.stderr, "zraft: "+strings.ReplaceAll(msg, "\n", " "))
	return code
}

func exitCode(err error) int {
	var appErr *kv.ApplicationError
	var use usageError
	switch {
	case errors.As(err, &use), errors.Is(err, client.ErrInvalidEndpoints):
		return exitUsage
	case errors.As(err, &appErr),
		errors.Is(err, client.ErrInvalidCapabilities),
		errors.Is(err, client.ErrPayloadTooLarge),
		errors.Is(err, client.ErrRequestFailed),
		errors.Is(err, client.ErrResponseEvicted),
		errors.Is(err, client.ErrInvalidRequest),
		errors.Is(err, kv.ErrUnexpectedResult):
		return exitRejected
	}
	return exitUnavailable
}
