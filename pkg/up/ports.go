package up

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"syscall"

	"github.com/wasmcanvas/wasmcanvas/pkg/daemon"
)

// portUse is one address canvas up listens on and the flag that sets it.
type portUse struct {
	flag, value string // as the user would write it: --listen 127.0.0.1:7443
	addr        string // what is bound
	hint        string // how to ask for a free port instead
}

// listenAddrs are the fixed addresses opts ask for; port 0 (or a NATS port
// of -1) picks a free one and cannot clash, so it is left out.
func (o Options) listenAddrs() []portUse {
	listen, ingress, natsPort := o.Listen, o.Ingress, o.NATSPort
	if listen == "" {
		listen = DefaultListen
	}
	if ingress == "" {
		ingress = DefaultIngress
	}
	if natsPort == 0 {
		natsPort = DefaultNATSPort
	}
	var out []portUse
	for _, u := range []portUse{
		{flag: "--listen", value: listen, addr: listen, hint: "127.0.0.1:0 picks a free one"},
		{flag: "--ingress", value: ingress, addr: ingress, hint: "127.0.0.1:0 picks a free one"},
		{flag: "--nats-port", value: strconv.Itoa(natsPort), addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(natsPort)), hint: "-1 picks a free one"},
	} {
		host, port, err := net.SplitHostPort(u.addr)
		if err != nil || port == "0" || natsPort < 0 && u.flag == "--nats-port" {
			continue // a malformed address is reported by the part that binds it
		}
		if host == "" {
			u.addr = net.JoinHostPort("127.0.0.1", port)
		}
		out = append(out, u)
	}
	return out
}

// CheckPorts fails, before anything starts, when an address canvas up
// would listen on is taken or asked for twice. The error is one line: the
// port, the flag that moves it and, when another canvas holds the port, its
// state directory and how to stop it.
func CheckPorts(opts Options) error {
	uses := opts.listenAddrs()
	for i, u := range uses {
		_, port, _ := net.SplitHostPort(u.addr)
		for _, prev := range uses[:i] {
			if _, p, _ := net.SplitHostPort(prev.addr); p == port {
				return fmt.Errorf("port %s is given to both %s and %s: move one of them", port, prev.flag, u.flag)
			}
		}
		ln, err := net.Listen("tcp", u.addr)
		if err == nil {
			ln.Close()
			continue
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("cannot listen on %s (%s %s): %v", u.addr, u.flag, u.value, errors.Unwrap(err))
		}
		owner, stop := portOwner(port)
		return fmt.Errorf("port %s (%s %s) is taken by %s: %spick another port with %s (%s)", port, u.flag, u.value, owner, stop, u.flag, u.hint)
	}
	return nil
}

// portOwner names the canvas (or canvasd) on this machine that serves on
// port, as far as the state directories it knows of say, and how to stop
// it ("" when the owner is unknown).
func portOwner(port string) (owner, stop string) {
	for _, info := range Known() {
		for _, addr := range []string{info.API, info.Ingress, info.NATS} {
			if urlPort(addr) == port {
				return "the canvas with state directory " + info.StateDir, fmt.Sprintf("stop it with `canvas down --state-dir %s`, or ", info.StateDir)
			}
		}
	}
	if dir, err := daemon.DefaultStateDir(); err == nil {
		if ri, err := daemon.ReadRuntimeInfo(dir); err == nil && processAlive(ri.PID) && (urlPort(ri.API) == port || urlPort(ri.NATS) == port) {
			return fmt.Sprintf("canvasd (pid %d, state directory %s)", ri.PID, dir), ""
		}
	}
	return "another process", ""
}

func urlPort(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Port()
}

func processAlive(pid int) bool {
	return pid > 0 && syscall.Kill(pid, 0) == nil
}
