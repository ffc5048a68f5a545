package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/client"
	"github.com/wasmcanvas/wasmcanvas/pkg/client/natsclient"
	"github.com/wasmcanvas/wasmcanvas/pkg/daemon"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice"
	"github.com/wasmcanvas/wasmcanvas/pkg/up"
)

// DefaultServer is the canvasd API a command talks to when neither a flag
// nor the config file names one.
const DefaultServer = "http://127.0.0.1:7443"

// remoteFlags are the connection flags of every command that talks to
// canvasd: --server, --nats, --context, --config.
type remoteFlags struct {
	server      string
	nats        string
	natsCreds   string
	contextName string
	configPath  string
	token       string
}

func (f *remoteFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.server, "server", "", "canvasd API URL (default "+DefaultServer+", or the current context's)")
	cmd.Flags().StringVar(&f.nats, "nats", "", "talk to canvasd over its NATS micro API at this NATS URL instead of HTTP")
	cmd.Flags().StringVar(&f.natsCreds, "nats-creds", "", "NATS credentials file for --nats")
	cmd.Flags().StringVar(&f.contextName, "context", "", "use this context of the config file instead of its current-context")
	cmd.Flags().StringVar(&f.token, "token", "", "bearer token for the API (default $"+envToken+", else the local admin credential of the canvas on this machine serving --server)")
	addConfigFlag(cmd, &f.configPath)
}

// endpoint is where a command's requests go, and why (for error messages).
type endpoint struct {
	server    string
	nats      string
	natsCreds string
	from      string
}

// resolve picks the endpoint: --server/--nats, else the context named by
// --context or current-context, else DefaultServer.
func (f *remoteFlags) resolve() (endpoint, error) {
	if f.server != "" && f.nats != "" {
		return endpoint{}, usageErrorf("--server and --nats exclude each other: pick HTTP or NATS")
	}
	if f.server != "" {
		return endpoint{server: f.server, from: "--server"}, nil
	}
	if f.natsCreds != "" && f.nats == "" {
		return endpoint{}, usageErrorf("--nats-creds goes with --nats URL (a context keeps its own nats-creds)")
	}
	if f.nats != "" {
		return endpoint{nats: f.nats, natsCreds: f.natsCreds, from: "--nats"}, nil
	}
	path, err := configFile(f.configPath)
	if err != nil {
		return endpoint{}, err
	}
	cfg, err := loadConfig(path)
	if err != nil {
		return endpoint{}, err
	}
	name := f.contextName
	if name == "" {
		name = cfg.CurrentContext
	}
	if name == "" {
		return endpoint{server: DefaultServer, from: "default"}, nil
	}
	ctx := cfg.find(name)
	if ctx == nil {
		return endpoint{}, usageErrorf("context %q is not in %s (see `canvas config get-contexts`)", name, path)
	}
	if ctx.Server == "" && ctx.NATS == "" {
		return endpoint{}, usageErrorf("context %q in %s has neither server nor nats: set one with `canvas config set-context %s --server URL`", name, path, name)
	}
	return endpoint{server: ctx.Server, nats: ctx.NATS, natsCreds: ctx.NATSCreds, from: fmt.Sprintf("context %q", name)}, nil
}

// connectTimeout bounds the NATS connect of a CLI command.
const connectTimeout = 5 * time.Second

// dial opens the client for the endpoint.
func (f *remoteFlags) dial(ctx context.Context) (client.Client, error) {
	ep, err := f.resolve()
	if err != nil {
		return nil, err
	}
	if ep.nats != "" {
		nc, err := lattice.Connect(ctx, lattice.Config{URLs: ep.nats, CredsFile: ep.natsCreds, Name: "canvas-cli", ConnectTimeout: connectTimeout}, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ep.from, err)
		}
		return natsclient.New(nc, true), nil
	}
	c, err := client.NewHTTP(ep.server, client.WithToken(f.credential(ep.server)))
	if err != nil {
		return nil, usageErrorf("%s: %v", ep.from, err)
	}
	return c, nil
}

// envToken names the environment variable holding an API token.
const envToken = "CANVAS_TOKEN"

// credential is the bearer token for server: --token, $CANVAS_TOKEN, or
// the admin credential of a canvas of this user's whose API is server
// (a canvas up, or canvasd on the default state directory). The local
// credential is never sent to another server.
func (f *remoteFlags) credential(server string) string {
	if f.token != "" {
		return f.token
	}
	if t := os.Getenv(envToken); t != "" {
		return t
	}
	return localCredential(server)
}

// localCredential finds the admin credential of the canvas serving server.
func localCredential(server string) string {
	var dirs []string
	for _, info := range up.Known() {
		dirs = append(dirs, info.StateDir)
	}
	if d, err := daemon.DefaultStateDir(); err == nil {
		dirs = append(dirs, d)
	}
	server = strings.TrimRight(server, "/")
	for _, dir := range dirs {
		ri, err := daemon.ReadRuntimeInfo(dir)
		if err != nil || strings.TrimRight(ri.API, "/") != server {
			continue
		}
		if tok, err := auth.ReadAdminToken(dir); err == nil {
			return tok
		}
	}
	return ""
}

// apiError prints an API error with every field error on its own line
// (file: path: message; fix) and returns it as reported, so Main does not
// print it again.
func apiError(cmd *cobra.Command, err error) error {
	var p *wire.Problem
	if !errors.As(err, &p) {
		return err
	}
	w := cmd.ErrOrStderr()
	fmt.Fprintln(w, "error:", problemSummary(p))
	for _, fe := range p.Errors {
		fmt.Fprintln(w, "  "+fe.Error())
	}
	return reported(err)
}

func problemSummary(p *wire.Problem) string {
	if p.Detail != "" {
		return p.Detail
	}
	return fmt.Sprintf("%d %s", p.Status, p.Title)
}

// stdoutIsTerminal reports whether w is a terminal (a character device),
// for the single updating progress line of --wait.
func isTerminal(w any) bool {
	if _, ok := w.(*terminalWriter); ok {
		return true
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
