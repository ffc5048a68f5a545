package lattice

import (
	"strings"
	"testing"
)

// FuzzConfigURLs: Validate never panics on any URL list, and neither its
// errors nor the redacted URLs show a password given in a URL.
func FuzzConfigURLs(f *testing.F) {
	for _, s := range []string{"nats://a:4222", "a:1,b:2", "nats://u:secretpw@h:1", "tls://[::1]:4222", "http://x", ",,", "nats://:1", "u:secretpw@h", "%zz://u:secretpw@h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, urls string) {
		c := Config{URLs: urls}.WithDefaults()
		err := c.Validate()
		for _, u := range c.ServerURLs() {
			r := redactURL(u)
			if strings.Contains(u, ":secretpw@") && strings.Contains(r, "secretpw") {
				t.Fatalf("redactURL(%q) = %q keeps the password", u, r)
			}
		}
		if err != nil && strings.Contains(urls, ":secretpw@") && strings.Contains(err.Error(), "secretpw") {
			t.Fatalf("Validate(%q) error leaks the password: %v", urls, err)
		}
	})
}
