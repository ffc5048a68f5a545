package kubeapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Timing of watch streams.
const (
	watchWriteWait  = 10 * time.Second
	maxWatchTimeout = 30 * time.Minute
)

// serveWatch streams {"type","object"} lines as the Kubernetes API does:
// the objects the client has not seen (all, or those newer than its
// resourceVersion), then every change. sendInitialEvents=true (client-go's
// watch list) gets all objects and a BOOKMARK marking their end. A stream
// cut off (a slow reader, a resync of the store watch, shutdown) ends the
// response: the client lists again.
func (s *Server) serveWatch(w http.ResponseWriter, r *http.Request, req request, f filter) *statusError {
	q := r.URL.Query()
	since := revision(q.Get("resourceVersion"))
	initialEnd := q.Get("sendInitialEvents") == "true"
	if initialEnd {
		since = 0
	}
	wt, initial, err := s.idx.watch(f, since)
	if errors.As(err, new(errExpired)) {
		return failure(http.StatusGone, req.res, "", err.Error())
	}
	if err != nil {
		return failure(http.StatusServiceUnavailable, req.res, "", err.Error())
	}
	defer s.idx.unwatch(wt)
	table := asTable(r)
	write, timeout := watchResponse(w, r)
	send := func(ev event) bool {
		var raw []byte
		var err error
		if table {
			raw, err = json.Marshal(s.table([]*object{ev.obj}, req.res, ev.obj.rv, q.Get("includeObject"), req.version))
		} else {
			raw, err = ev.obj.render(req.version)
		}
		if err != nil {
			st, _ := json.Marshal(conversionFailure(req, ev.obj, err).st)
			return write("ERROR", st)
		}
		return write(ev.typ, raw)
	}
	for _, ev := range initial {
		if !send(ev) {
			return nil
		}
	}
	if initialEnd {
		rv := s.idx.revision()
		bm, _ := json.Marshal(map[string]any{"apiVersion": "oda.tmforum.org/" + req.version, "kind": req.res.kind,
			"metadata": map[string]any{"resourceVersion": strconv.FormatUint(rv, 10), "annotations": map[string]string{"k8s.io/initial-events-end": "true"}}})
		if !write("BOOKMARK", bm) {
			return nil
		}
	}
	follow(r.Context(), timeout, wt.ch, send)
	return nil
}

// watchResponse starts a watch's response (200, a JSON line per event,
// flushed) and returns how to write one {"type","object"} line (false:
// the stream is broken or stalled past watchWriteWait) and how long the
// watch may last (timeoutSeconds, at most maxWatchTimeout).
func watchResponse(w http.ResponseWriter, r *http.Request) (write func(typ string, obj []byte) bool, timeout time.Duration) {
	timeout = maxWatchTimeout
	if n, err := strconv.Atoi(r.URL.Query().Get("timeoutSeconds")); err == nil && n > 0 {
		timeout = min(timeout, time.Duration(n)*time.Second)
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	return func(typ string, obj []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(watchWriteWait))
		if _, err := fmt.Fprintf(w, `{"type":%q,"object":%s}`+"\n", typ, obj); err != nil {
			return false
		}
		return rc.Flush() == nil
	}, timeout
}

// follow sends what ch delivers until ch closes, send fails, ctx ends or
// timeout passes.
func follow[T any](ctx context.Context, timeout time.Duration, ch <-chan T, send func(T) bool) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
			return
		case v, ok := <-ch:
			if !ok || !send(v) {
				return
			}
		}
	}
}
