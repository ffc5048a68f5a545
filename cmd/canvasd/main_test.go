package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestFromEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    map[string]string
		wantErr string
	}{
		{"env fills unset flags", nil, map[string]string{"CANVASD_LISTEN": "127.0.0.1:9", "CANVASD_NATS_CREDS": "/c.creds", "CANVASD_EMBEDDED_NATS": "true"},
			map[string]string{"listen": "127.0.0.1:9", "nats-creds": "/c.creds", "embedded-nats": "true"}, ""},
		{"command line wins", []string{"--listen", "127.0.0.1:1"}, map[string]string{"CANVASD_LISTEN": "127.0.0.1:9"},
			map[string]string{"listen": "127.0.0.1:1"}, ""},
		{"an alias given on the command line wins", []string{"--nats-url", "nats://a:1"}, map[string]string{"CANVASD_NATS": "nats://b:2"},
			map[string]string{"nats": "nats://a:1", "nats-url": "nats://a:1"}, ""},
		{"bad value names the variable", nil, map[string]string{"CANVASD_RESYNC": "often"}, nil, `CANVASD_RESYNC="often"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var urls, listen, creds string
			var embedded bool
			var resync time.Duration
			fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
			fs.StringVar(&urls, "nats-url", "", "")
			fs.StringVar(&urls, "nats", "", "")
			fs.StringVar(&listen, "listen", "127.0.0.1:7443", "")
			fs.StringVar(&creds, "nats-creds", "", "")
			fs.BoolVar(&embedded, "embedded-nats", false, "")
			fs.DurationVar(&resync, "resync", 0, "")
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			err := fromEnv(fs, func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for name, want := range tc.want {
				if got := fs.Lookup(name).Value.String(); got != want {
					t.Errorf("--%s = %q, want %q", name, got, want)
				}
			}
		})
	}
}

func TestRunUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--help"}, 0, "CANVASD_NATS_CREDS"},
		{[]string{"--no-such-flag"}, 2, "unknown flag"},
		{[]string{"extra"}, 2, "unexpected arguments"},
		{[]string{"--log-level", "loud"}, 2, "--log-level"},
		{[]string{"--embedded-nats", "--nats-url", "nats://x:1"}, 2, "exclude each other"},
		// Earlier spellings still work, say what replaced them, and reach
		// the same option (its validation names the flag of today).
		{[]string{"--embedded-nats", "--nats", "nats://x:1"}, 2, "use --nats-url"},
		{[]string{"--embedded-nats", "--embedded-nats-port", "70000"}, 2, "--nats-port 70000: use 1-65535"},
		{[]string{"--embedded-nats", "--embedded-nats-port", "70000"}, 2, "use --nats-port"},
	}
	for _, tc := range tests {
		var errb bytes.Buffer
		if code := run(tc.args, &errb); code != tc.code || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("canvasd %v: exit %d (want %d), stderr lacks %q:\n%s", tc.args, code, tc.code, tc.want, errb.String())
		}
	}
}

// TestHelpShowsOneSpelling checks that --help lists each flag once, under
// the name canvas up uses too, and hides the deprecated spellings.
func TestHelpShowsOneSpelling(t *testing.T) {
	t.Parallel()
	var errb bytes.Buffer
	if code := run([]string{"--help"}, &errb); code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	help := errb.String()
	for _, want := range []string{"--nats-url ", "--nats-port ", "--nats-creds ", "canvasd.creds"} {
		if !strings.Contains(help, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
	for _, gone := range []string{"--embedded-nats-port", "--nats string", "--nats ", "canvas.creds"} {
		if strings.Contains(help, gone) {
			t.Errorf("--help still shows %q:\n%s", gone, help)
		}
	}
}
