package kubeapi

import (
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
	timeout := maxWatchTimeout
	if n, err := strconv.Atoi(q.Get("timeoutSeconds")); err == nil && n > 0 {
		timeout = min(timeout, time.Duration(n)*time.Second)
	}
	table := asTable(r)
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	write := func(typ string, obj []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(watchWriteWait))
		if _, err := fmt.Fprintf(w, `{"type":%q,"object":%s}`+"\n", typ, obj); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
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
	_ = rc.Flush()
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
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-timer.C:
			return nil
		case ev, ok := <-wt.ch:
			if !ok || !send(ev) {
				return nil
			}
		}
	}
}
