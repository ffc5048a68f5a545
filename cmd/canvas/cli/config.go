package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

// Config is the CLI's config file ($XDG_CONFIG_HOME/wasmcanvas/config.yaml):
//
//	current-context: local
//	contexts:
//	- name: local
//	  server: http://127.0.0.1:7443
//	- name: lab
//	  nats: nats://nats.lab:4222
//	  nats-creds: /home/me/lab.creds
type Config struct {
	CurrentContext string    `yaml:"current-context,omitempty" json:"current-context,omitempty"`
	Contexts       []Context `yaml:"contexts" json:"contexts"`
}

// Context names one canvasd: by its HTTP API (Server) or by the NATS it
// serves its micro API on (NATS, with NATSCreds when that NATS needs them).
type Context struct {
	Name      string `yaml:"name" json:"name"`
	Server    string `yaml:"server,omitempty" json:"server,omitempty"`
	NATS      string `yaml:"nats,omitempty" json:"nats,omitempty"`
	NATSCreds string `yaml:"nats-creds,omitempty" json:"nats-creds,omitempty"`
}

func (c *Config) find(name string) *Context {
	for i := range c.Contexts {
		if c.Contexts[i].Name == name {
			return &c.Contexts[i]
		}
	}
	return nil
}

func addConfigFlag(cmd *cobra.Command, target *string) {
	cmd.Flags().StringVar(target, "config", "", "config file (default $XDG_CONFIG_HOME/wasmcanvas/config.yaml)")
}

// configFile is the --config value or the default path.
func configFile(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no XDG_CONFIG_HOME and no home directory: pass --config FILE: %w", err)
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "wasmcanvas", "config.yaml"), nil
}

// loadConfig reads path; a missing file is an empty config.
func loadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Config{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("config file %s: %w (fields: current-context, contexts[].name/server/nats/nats-creds)", path, err)
	}
	seen := map[string]bool{}
	for i, c := range cfg.Contexts {
		if c.Name == "" {
			return nil, fmt.Errorf("config file %s: contexts[%d]: name is empty", path, i)
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("config file %s: contexts[%d]: context %q appears twice: keep one", path, i, c.Name)
		}
		seen[c.Name] = true
	}
	return &cfg, nil
}

// saveConfig writes cfg atomically (temp file, then rename), private to
// the user since contexts name credential files.
func saveConfig(path string, cfg *Config) error {
	data, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".config-*.yaml")
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("writing config file %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("writing config file %s: %w", path, err)
	}
	return nil
}

func newConfigCmd() *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Manage contexts: which canvasd the CLI talks to",
		Long: `config edits the CLI's config file, $XDG_CONFIG_HOME/wasmcanvas/config.yaml
(~/.config/wasmcanvas/config.yaml when XDG_CONFIG_HOME is unset):

  current-context: local
  contexts:
  - name: local
    server: http://127.0.0.1:7443
  - name: lab
    nats: nats://nats.lab:4222
    nats-creds: /home/me/lab.creds

A context names a canvasd by its HTTP API (server) or by the NATS it serves
its micro API on (nats). Commands use current-context unless --context,
--server or --nats say otherwise.`,
		Example: `  canvas config set-context local --server http://127.0.0.1:7443 --current
  canvas config set-context lab --nats nats://nats.lab:4222 --nats-creds lab.creds
  canvas config use-context lab
  canvas config get-contexts`,
	}
	cmd.PersistentFlags().StringVar(&configPath, "config", "", "config file (default $XDG_CONFIG_HOME/wasmcanvas/config.yaml)")

	var output string
	get := &cobra.Command{
		Use:   "get-contexts",
		Short: "List the contexts; * marks the current one",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "table", "yaml", "json"); err != nil {
				return err
			}
			path, err := configFile(configPath)
			if err != nil {
				return err
			}
			cfg, err := loadConfig(path)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch output {
			case "json":
				return writeJSON(out, cfg)
			case "yaml":
				return writeYAML(out, cfg)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
			fmt.Fprintln(tw, "CURRENT\tNAME\tSERVER\tNATS")
			for _, c := range cfg.Contexts {
				mark := ""
				if c.Name == cfg.CurrentContext {
					mark = "*"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", mark, c.Name, c.Server, c.NATS)
			}
			return tw.Flush()
		},
	}
	outputFlag(get, &output, "table", "yaml", "json")

	use := &cobra.Command{
		Use:   "use-context NAME",
		Short: "Make NAME the current context",
		Args:  exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := configFile(configPath)
			if err != nil {
				return err
			}
			cfg, err := loadConfig(path)
			if err != nil {
				return err
			}
			if cfg.find(args[0]) == nil {
				return usageErrorf("context %q is not in %s: create it with `canvas config set-context %s --server URL`", args[0], path, args[0])
			}
			cfg.CurrentContext = args[0]
			if err := saveConfig(path, cfg); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "current context is now %q\n", args[0])
			return nil
		},
	}

	var (
		setCtx  Context
		current bool
	)
	set := &cobra.Command{
		Use:   "set-context NAME [--server URL | --nats URL [--nats-creds FILE]] [--current]",
		Short: "Create or change a context",
		Args:  exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if setCtx.Server != "" && setCtx.NATS != "" {
				return usageErrorf("--server and --nats exclude each other: a context talks HTTP or NATS")
			}
			path, err := configFile(configPath)
			if err != nil {
				return err
			}
			cfg, err := loadConfig(path)
			if err != nil {
				return err
			}
			c := cfg.find(args[0])
			if c == nil {
				if setCtx.Server == "" && setCtx.NATS == "" {
					return usageErrorf("new context %q needs --server URL or --nats URL", args[0])
				}
				cfg.Contexts = append(cfg.Contexts, Context{Name: args[0]})
				c = &cfg.Contexts[len(cfg.Contexts)-1]
			}
			switch {
			case setCtx.Server != "":
				c.Server, c.NATS, c.NATSCreds = setCtx.Server, "", ""
			case setCtx.NATS != "":
				c.Server, c.NATS = "", setCtx.NATS
			}
			if setCtx.NATSCreds != "" {
				if c.NATS == "" {
					return usageErrorf("--nats-creds needs a NATS context: give --nats URL too")
				}
				abs, err := filepath.Abs(setCtx.NATSCreds)
				if err != nil {
					return err
				}
				c.NATSCreds = abs
			}
			if current || cfg.CurrentContext == "" {
				cfg.CurrentContext = args[0]
			}
			if err := saveConfig(path, cfg); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "context %q saved in %s\n", args[0], path)
			return nil
		},
	}
	set.Flags().StringVar(&setCtx.Server, "server", "", "canvasd API URL, e.g. "+DefaultServer)
	set.Flags().StringVar(&setCtx.NATS, "nats", "", "NATS URL where canvasd serves its micro API")
	set.Flags().StringVar(&setCtx.NATSCreds, "nats-creds", "", "NATS credentials file for --nats")
	set.Flags().BoolVar(&current, "current", false, "also make it the current context")

	cmd.AddCommand(get, use, set)
	return cmd
}

// exactArgs is cobra.ExactArgs with a usage error naming what is missing.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErrorf("%s takes %s, got %d argument(s)", cmd.CommandPath(), what, len(args))
		}
		return nil
	}
}
