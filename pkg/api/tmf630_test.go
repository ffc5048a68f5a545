package api

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"
)

// tmfItems are n list items, each with a nested attribute (which a
// filter compares as its JSON) and a few plain ones.
func tmfItems(n int) []map[string]any {
	items := make([]map[string]any, n)
	for i := range items {
		items[i] = map[string]any{
			"id": fmt.Sprint(i), "href": "/r/" + fmt.Sprint(i), "@type": "Resource", "name": fmt.Sprint("r", i), "category": "API",
			"resourceCharacteristic": []any{map[string]any{"name": "url", "value": "http://127.0.0.1/" + fmt.Sprint(i)}},
		}
	}
	return items
}

// serveTMFList runs writeTMFList on items for query.
func serveTMFList(items []map[string]any, query string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/list", nil)
	r.URL.RawQuery = query // as a client sent it, however malformed
	writeTMFList(w, r, items)
	return w
}

// TestTMFListQueries: repeated parameters and too many conditions are
// refused saying so, nothing answered; the limit itself is served.
func TestTMFListQueries(t *testing.T) {
	t.Parallel()
	conds := func(n int) string {
		c := make([]string, n)
		for i := range c {
			c[i] = "@.category=='API'"
		}
		return "filter=" + url.QueryEscape("$[?("+strings.Join(c, " && ")+")]")
	}
	attrs := func(n int) string {
		q := url.Values{}
		for i := range n {
			q.Set(fmt.Sprint("a", i), "")
		}
		return q.Encode()
	}
	tests := []struct {
		name, query string
		code        int
		detail      string
	}{
		{"conditions at the limit", conds(maxTMFConditions), http.StatusOK, ""},
		{"attribute filters at the limit", attrs(maxTMFConditions), http.StatusOK, ""},
		{"too many conditions", conds(maxTMFConditions + 1), http.StatusBadRequest, "more than 64 conditions"},
		{"too many attribute filters", attrs(maxTMFConditions + 1), http.StatusBadRequest, "more than 64 conditions"},
		{"both together", attrs(maxTMFConditions/2) + "&" + conds(maxTMFConditions/2+1), http.StatusBadRequest, "more than 64 conditions"},
		{"repeated filter", "filter=" + url.QueryEscape("$[?(@.category=='API')]") + "&filter=" + url.QueryEscape("$[?(@.name=='r1')]"), http.StatusBadRequest, "?filter= is given 2 times"},
		{"repeated limit", "limit=1&limit=2", http.StatusBadRequest, "?limit= is given 2 times"},
		{"repeated fields", "fields=name&fields=category", http.StatusBadRequest, "?fields= is given 2 times"},
		{"repeated attribute filter means or", "name=r1&name=r2", http.StatusOK, ""},
		{"long bad filter quoted short", "filter=" + strings.Repeat("x", 100_000), http.StatusBadRequest, "…"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := serveTMFList(tmfItems(3), tc.query)
			body := w.Body.String()
			if w.Code != tc.code || !strings.Contains(body, tc.detail) {
				t.Fatalf("%d %.300s, want %d with %q", w.Code, body, tc.code, tc.detail)
			}
			if len(body) > 2000 {
				t.Errorf("a %d-byte reply: a problem quotes the query short", len(body))
			}
		})
	}
}

// allocatedBytes is the least the heap grew by over three runs of f.
func allocatedBytes(f func()) uint64 {
	best := ^uint64(0)
	for range 3 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		best = min(best, after.TotalAlloc-before.TotalAlloc)
	}
	return best
}

// TestTMFListCostGrowth: a long list of alternatives (?attr=a,b,…) or of
// fields (?fields=a,b,…) is read once per request, not once per item:
// 100 times as many cost about as much work on the same items, where
// per item they cost ~100 times as much.
func TestTMFListCostGrowth(t *testing.T) {
	items := tmfItems(200)
	list := func(prefix string, n int) string {
		v := make([]string, n)
		for i := range v {
			v[i] = fmt.Sprint(prefix, i)
		}
		return strings.Join(v, ",")
	}
	for _, param := range []string{"resourceCharacteristic", "fields"} {
		cost := func(n int) uint64 {
			q := url.Values{param: {list("v", n)}}.Encode()
			return allocatedBytes(func() {
				if w := serveTMFList(items, q); w.Code/100 != 2 {
					t.Fatalf("%d %s", w.Code, w.Body)
				}
			})
		}
		small, large := cost(20), cost(2000)
		if ratio := float64(large) / float64(small); ratio > 10 {
			t.Errorf("?%s= with 2000 values allocates %.0f times what 20 do (%d vs %d bytes): the values are handled per item", param, ratio, large, small)
		}
	}
}

// FuzzTMFQuery: any query string of a canvas-info list is answered, a
// page or a short 400 that says what was wrong, never a panic.
func FuzzTMFQuery(f *testing.F) {
	f.Add("category=API,ODAComponent&resourceStatus=available&fields=name&offset=1&limit=2")
	f.Add("filter=" + url.QueryEscape("$[?(@.category=='API' && @.resourceStatus!='available')]"))
	f.Add("offset=9223372036854775807&limit=9223372036854775807")
	items := tmfItems(3)
	f.Fuzz(func(t *testing.T, query string) {
		w := serveTMFList(items, query)
		switch w.Code {
		case http.StatusOK, http.StatusPartialContent:
		case http.StatusBadRequest:
			if !strings.Contains(w.Body.String(), `"detail": "?`) && !strings.Contains(w.Body.String(), `"detail": "more than`) {
				t.Fatalf("a 400 that names no parameter: %s", w.Body)
			}
			if w.Body.Len() > 2000 {
				t.Fatalf("a %d-byte 400: a problem quotes the query short", w.Body.Len())
			}
		default:
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
}
