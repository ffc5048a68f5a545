package wasihttp

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/cm"
)

// rawExchange sends req verbatim on a fresh connection and reads one
// response: Go's client refuses some bytes a real peer may send.
func rawExchange(t *testing.T, url, req string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// TestHeaderValuesReachTheGuestByteExact: wasi:http field values are
// list<u8>, so repeated fields keep their order and count and bytes that
// are not UTF-8 (obs-text) pass through the guest unchanged.
func TestHeaderValuesReachTheGuestByteExact(t *testing.T) {
	t.Parallel()
	s := startEcho(t, 5*time.Second, 64<<20)
	tests := []struct {
		name   string
		values []string
	}{
		{"one value", []string{"a"}},
		{"eight repeats keep order", []string{"8", "7", "6", "5", "4", "3", "2", "1"}},
		{"equal repeats keep count", []string{"same", "same", "same"}},
		{"latin-1 byte", []string{"caf\xe9"}},
		{"invalid UTF-8 among valid", []string{"ok", "\xff\xfe\x80 raw", "ümlaut"}},
		{"comma inside one value", []string{"a, b", "c"}},
	}
	for _, tc := range tests {
		var req strings.Builder
		req.WriteString("GET /raw HTTP/1.1\r\nHost: echo\r\n")
		for _, v := range tc.values {
			req.WriteString("X-Echo: " + v + "\r\n")
		}
		req.WriteString("Connection: close\r\n\r\n")
		resp, _ := rawExchange(t, s.url, req.String())
		if resp.StatusCode != 200 {
			t.Errorf("%s: status %d", tc.name, resp.StatusCode)
			continue
		}
		if got := resp.Header.Values("X-Echo"); strings.Join(got, "\n") != strings.Join(tc.values, "\n") {
			t.Errorf("%s: x-echo = %q, want %q", tc.name, got, tc.values)
		}
	}
}

// TestForbiddenFields: the guest cannot set the fields the host manages
// (header-error.forbidden, as wasmtime-wasi-http answers), and those
// fields of an incoming message never reach it, so cloning the request's
// fields into a response cannot pass them on.
func TestForbiddenFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		want cm.Value
	}{
		{"Connection", headerError("forbidden")},
		{"keep-alive", headerError("forbidden")},
		{"Transfer-Encoding", headerError("forbidden")},
		{"UPGRADE", headerError("forbidden")},
		{"Proxy-Connection", headerError("forbidden")},
		{"Proxy-Authorization", headerError("forbidden")},
		{"Proxy-Authenticate", headerError("forbidden")},
		{"Host", headerError("forbidden")},
		{"HTTP2-Settings", headerError("forbidden")},
		{"X-Fine", nil},
		{"Set-Cookie", nil},
		{"bad name", headerError("invalid-syntax")},
	}
	for _, tc := range tests {
		f := &fields{}
		if got := f.check(tc.name, []byte("v")); !equalValue(got, tc.want) {
			t.Errorf("check(%q) = %#v, want %#v", tc.name, got, tc.want)
		}
	}
	if got := (&fields{}).check("X-Fine", []byte("a\r\nInjected: 1")); !equalValue(got, headerError("invalid-syntax")) {
		t.Errorf("a value with CRLF: %#v, want invalid-syntax", got)
	}
	if got := (&fields{immutable: true}).check("X-Fine", []byte("v")); !equalValue(got, headerError("immutable")) {
		t.Errorf("an immutable fields: %#v, want immutable", got)
	}

	in := http.Header{}
	for _, tc := range tests[:9] {
		in.Add(tc.name, "v")
	}
	in.Add("X-Kept", "1")
	in.Add("X-Kept", "2")
	f := fromHeader(in)
	if len(f.entries) != 2 || string(f.get("x-kept")[0]) != "1" || string(f.get("x-kept")[1]) != "2" {
		t.Fatalf("fields from an incoming message = %+v, want only x-kept 1 and 2", f.entries)
	}
	out := http.Header{}
	f.clone().copyTo(out, "")
	if len(out) != 1 {
		t.Fatalf("a cloned incoming fields set %v on the response", out)
	}
}

func equalValue(a, b cm.Value) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	ra, aok := a.(cm.Result)
	rb, bok := b.(cm.Result)
	return aok && bok && ra.Err == rb.Err && ra.Value.(cm.Variant).Case == rb.Value.(cm.Variant).Case
}

// TestTenMiBStreamsBothWays: the response starts flowing before the
// request body is finished, so the host holds neither body whole.
func TestTenMiBStreamsBothWays(t *testing.T) {
	t.Parallel()
	s := startEcho(t, 30*time.Second, 64<<20)
	const size, tail = 10 << 20, 1 << 20
	src := make([]byte, size)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range src {
		src[i] = byte(r.Uint32())
	}
	pr, pw := io.Pipe()
	echoed := make(chan struct{})
	writeErr := make(chan error, 1)
	go func() {
		if _, err := pw.Write(src[:size-tail]); err != nil {
			writeErr <- err
			return
		}
		// The last MiB is held back until most of the body came back.
		select {
		case <-echoed:
		case <-time.After(20 * time.Second):
			pw.CloseWithError(io.ErrUnexpectedEOF)
			writeErr <- io.ErrUnexpectedEOF
			return
		}
		_, err := pw.Write(src[size-tail:])
		pw.CloseWithError(err)
		writeErr <- err
	}()
	req, _ := http.NewRequest("POST", s.url+"/big", pr)
	resp, err := client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got bytes.Buffer
	if _, err := io.CopyN(&got, resp.Body, size-2*tail); err != nil {
		t.Fatalf("reading the first %d echoed bytes while the request is open: %v", size-2*tail, err)
	}
	close(echoed)
	if _, err := io.Copy(&got, resp.Body); err != nil {
		t.Fatal(err)
	}
	if err := <-writeErr; err != nil {
		t.Fatalf("request body: %v (the echo did not stream before the request ended)", err)
	}
	if got.Len() != size || sha256.Sum256(got.Bytes()) != sha256.Sum256(src) {
		t.Fatalf("echoed %d bytes that differ from the %d sent", got.Len(), size)
	}
}

func TestMethodsAndBodilessResponses(t *testing.T) {
	t.Parallel()
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Upstream-Seen", "yes")
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(upstream.Close)
	up := upstream.Listener.Addr().String()
	s := startEchoOutbound(t, 5*time.Second, 64<<20, &Outbound{
		Client:  &http.Client{Timeout: 5 * time.Second},
		Allowed: []string{up},
	})
	tests := []struct {
		name, method, path string
		header             http.Header
		status             int
		body               string
	}{
		{"HEAD answers headers only", "HEAD", "/h", nil, 200, ""},
		{"OPTIONS with a body", "OPTIONS", "/o", nil, 200, "options body"},
		{"OPTIONS *-like path", "OPTIONS", "/", nil, 200, "options body"},
		{"204 relayed from upstream has no body", "GET", "/fetch", http.Header{"X-Upstream": {up}}, 204, ""},
	}
	for _, tc := range tests {
		var body io.Reader
		if tc.method == "OPTIONS" {
			body = strings.NewReader(tc.body)
		}
		req, _ := http.NewRequest(tc.method, s.url+tc.path, body)
		for k, v := range tc.header {
			req.Header[k] = v
		}
		resp, err := client().Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s: body: %v", tc.name, err)
		}
		if resp.StatusCode != tc.status || string(got) != tc.body {
			t.Errorf("%s: %d %q, want %d %q", tc.name, resp.StatusCode, got, tc.status, tc.body)
		}
		if tc.status == 200 && resp.Header.Get("X-Method") != tc.method {
			t.Errorf("%s: x-method %q", tc.name, resp.Header.Get("X-Method"))
		}
		if tc.status == 204 && (resp.ContentLength > 0 || len(resp.TransferEncoding) > 0) {
			t.Errorf("%s: a 204 framed a body (content-length %d, transfer-encoding %v)", tc.name, resp.ContentLength, resp.TransferEncoding)
		}
		// The kept-alive connection still serves the next request.
		next, err := client().Get(s.url + "/after")
		if err != nil || next.StatusCode != 200 {
			t.Fatalf("%s: request after: %v %v", tc.name, next, err)
		}
		next.Body.Close()
	}
}
