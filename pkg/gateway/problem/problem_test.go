package problem

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

func TestWrite(t *testing.T) {
	t.Parallel()
	tests := []struct {
		method string
		status int
		detail string
	}{
		{http.MethodGet, http.StatusBadGateway, "the API implementation failed"},
		{http.MethodPost, http.StatusServiceUnavailable, ""},
		{http.MethodHead, http.StatusGatewayTimeout, "too slow"},
	}
	for _, tc := range tests {
		t.Run(tc.method, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			Write(rec, httptest.NewRequest(tc.method, "/a/b?q=1", nil), tc.status, tc.detail)
			want := Details{Type: "about:blank", Title: http.StatusText(tc.status), Status: tc.status, Detail: tc.detail, Instance: "/a/b"}
			wantBody, _ := json.Marshal(want)
			h := rec.Result().Header
			if rec.Code != tc.status || h.Get("Content-Type") != ContentType || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Content-Length") != strconv.Itoa(len(wantBody)) {
				t.Errorf("%d %v, want %d with the problem headers", rec.Code, h, tc.status)
			}
			if tc.method == http.MethodHead {
				wantBody = nil
			}
			if got := rec.Body.String(); got != string(wantBody) {
				t.Errorf("body %q, want %q", got, wantBody)
			}
		})
	}
}
