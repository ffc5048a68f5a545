package identityrpc

import (
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/wrpc/wire"
)

// FuzzDecode feeds arbitrary bytes to what reads wire values here: every
// function's params (the handlers') and both sides of the results (the
// Client's). None may panic, and claims that decode must encode back to
// the same bytes.
func FuzzDecode(f *testing.F) {
	var ok, fail wire.Encoder
	ok.Result(true)
	encodeClaims(&ok, auth.Claims{Subject: "alice", Issuer: "https://issuer.test", Audience: []string{"pc"}, Roles: []string{"pcadmin"}, ExpiresAt: time.Unix(1900000000, 0)})
	encodeError(&fail, auth.TokensInvalid, "expired")
	for _, seed := range [][]byte{ok.Bytes(), fail.Bytes(), {0x05, 'a', 'l', 'i', 'c', 'e'}, {0x01, 0x07}, {0xff, 0xff, 0xff, 0xff, 0x0f}} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, fn := range functions {
			d := wire.NewDecoder(b)
			fn.decode(d)
			_ = d.Finish()
		}
		d := wire.NewDecoder(b)
		if d.Result() {
			c := decodeClaims(d)
			if d.Finish() == nil {
				var e wire.Encoder
				e.Result(true)
				encodeClaims(&e, c)
				if string(e.Bytes()) != string(b) && c.ExpiresAt.Unix() < 1<<40 {
					t.Errorf("claims % x decode to %+v, which encodes to % x", b, c, e.Bytes())
				}
			}
		} else if we := decodeError(d); d.Finish() == nil && we == nil {
			t.Errorf("% x: an error side that decodes to nothing", b)
		}
	})
}
