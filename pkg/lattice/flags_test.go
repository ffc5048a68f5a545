package lattice

import (
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestAddFlags(t *testing.T) {
	t.Parallel()
	var c Config
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	c.AddFlags(fs)
	for _, name := range []string{FlagURL, FlagName, FlagCreds, FlagNKey, FlagJWT, FlagSeed, FlagToken, FlagUser, FlagPassword,
		FlagTLSCA, FlagTLSCert, FlagTLSKey, FlagTLSInsecure, FlagConnectTimeout, FlagReconnectWait, FlagMaxReconnectWait} {
		if fs.Lookup(name) == nil {
			t.Errorf("flag --%s not registered", name)
		}
	}
	err := fs.Parse([]string{"--nats-url", "nats://a:1,nats://b:2", "--nats-token", "t", "--nats-tls-ca", "ca.pem",
		"--nats-tls-insecure-skip-verify=false", "--nats-reconnect-wait", "1s", "--nats-max-reconnect-wait", "30s"})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{URLs: "nats://a:1,nats://b:2", Token: "t", TLS: TLSConfig{CAFile: "ca.pem"}, ReconnectWait: time.Second, MaxReconnectWait: 30 * time.Second}
	if c != want {
		t.Fatalf("parsed config %+v, want %+v", c, want)
	}
	if err := c.WithDefaults().Validate(); err != nil {
		t.Fatal(err)
	}
}
