package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/peer"
)

// Dependent-API discovery, as the reference canvas's use case UC007 has it:
// a Component is not allowed to query the canvas's management API; it asks
// an info service at a fixed URL for its own dependent APIs and gets
// TMF638 Service Inventory entries, each with the url the canvas resolved
// (the same url its ODA status reports).
//
//	GET /canvas-info/tmf-api/serviceInventoryManagement/v5/service?componentName=NAME[&namespace=NS][&dependencyName=D]

// InfoService is one TMF638 Service: a dependent API of a Component.
type InfoService = wire.Service

// InfoCharacteristic is one TMF638 StringCharacteristic.
type InfoCharacteristic = wire.Characteristic

// TMF638 service states the info service reports: resolved (a url the
// component may call) or not yet.
const (
	InfoStateActive   = wire.ServiceActive
	InfoStateInactive = wire.ServiceInactive
)

// InfoHandler serves the info service alone, for mounting where
// components can reach it (the embedded canvas routes it on its ingress).
func (s *Server) InfoHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET "+wire.PathCanvasInfo, s.metrics.instrument("info", checkedQuery(http.HandlerFunc(s.handleInfo))))
	mux.Handle("POST "+wire.PathCanvasInfo, s.metrics.instrument("info-register", checkedQuery(http.HandlerFunc(s.handleRegister))))
	mux.Handle("DELETE "+wire.PathCanvasInfo+"/{id}", s.metrics.instrument("info-withdraw", checkedQuery(http.HandlerFunc(s.handleWithdraw))))
	mux.Handle("GET "+wire.PathResourceInventory, s.metrics.instrument("inventory", checkedQuery(http.HandlerFunc(s.handleInventory))))
	mux.Handle("GET "+wire.PathResourceInventory+"/{id}", s.metrics.instrument("inventory-item", checkedQuery(http.HandlerFunc(s.handleInventoryItem))))
	mux.HandleFunc(wire.PathCanvasInfoRoot+"/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, problem(http.StatusNotFound, wire.ProblemNotFound,
			fmt.Sprintf("no route %s %s: the canvas info service answers GET %s?componentName=NAME and GET %s[/{id}]",
				r.Method, r.URL.Path, wire.PathCanvasInfo, wire.PathResourceInventory)))
	})
	return mux
}

func (s *Server) handleInfo(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name, ns := q.Get("componentName"), q.Get("namespace")
	if ns == "" {
		ns = oda.DefaultNamespace
	}
	if name == "" {
		if s.opts.Registry == nil {
			writeProblem(w, problem(http.StatusBadRequest, wire.ProblemBadInput, "componentName is required: ask for your own Component's dependent APIs, e.g. ?componentName=$COMPONENT_NAME"))
			return
		}
		// Without a component: the APIs peer canvases registered here.
		writeTMFList(w, r, s.opts.Registry.List(), "namespace")
		return
	}
	key, p := requestKey(ns, name, "?componentName=&namespace=:")
	if p != nil {
		writeProblem(w, p)
		return
	}
	c, p := s.get(r.Context(), key)
	if p != nil {
		writeProblem(w, p)
		return
	}
	writeTMFList(w, r, infoServices(c, q.Get("dependencyName")), "componentName", "namespace", "dependencyName")
}

// infoServices lists c's dependent APIs (all functions, in spec order) with
// the urls its status resolved; only the one named dep when dep is set.
func infoServices(c *oda.Component, dep string) []InfoService {
	out := []InfoService{}
	st := c.Status
	if st == nil {
		st = &oda.ComponentStatus{}
	}
	statuses := [3][]oda.DependentAPIStatus{st.CoreDependentAPIs, st.ManagementDependentAPIs, st.SecurityDependentAPIs}
	for f, deps := range c.Spec.DependentAPIsByFunction() {
		for i, d := range deps {
			if dep != "" && d.Name != dep {
				continue
			}
			svc := InfoService{
				ID: c.Metadata.Namespace + "-" + c.Metadata.Name + "-" + d.Name, Name: d.Name,
				ServiceType: "API", State: InfoStateInactive, Type: "Service",
			}
			chars := []InfoCharacteristic{wire.StringCharacteristic("componentName", c.Metadata.Name), wire.StringCharacteristic("dependencyName", d.Name)}
			// reconcile writes one status entry per dependency, in spec order.
			if ds := statuses[f]; i < len(ds) && ds[i].Ready && ds[i].URL != "" {
				svc.State = InfoStateActive
				chars = append(chars, wire.StringCharacteristic("url", ds[i].URL))
			}
			if len(d.Specification) > 0 && d.Specification[0].URL != "" {
				chars = append(chars, wire.StringCharacteristic(wire.CharOASSpecification, d.Specification[0].URL))
			}
			svc.ServiceCharacteristic = chars
			out = append(out, svc)
		}
	}
	return out
}

// Peer registration (pkg/peer): another canvas POSTs each API it exposes
// as a TMF638 Service (characteristics "OAS Specification" and, when
// active, "url"), renews it, and DELETEs it when the API goes away;
// Components here may then depend on it.
//
//	POST   /canvas-info/tmf-api/serviceInventoryManagement/v5/service
//	DELETE /canvas-info/tmf-api/serviceInventoryManagement/v5/service/{id}

func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) {
	if s.opts.Registry == nil {
		writeProblem(w, problem(http.StatusMethodNotAllowed, wire.ProblemBadInput, "this canvas accepts no API registrations from peers"))
		return
	}
	var svc wire.Service
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, peer.MaxServiceBytes))
	if err := dec.Decode(&svc); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeProblem(w, problem(http.StatusRequestEntityTooLarge, wire.ProblemBadInput, fmt.Sprintf("request body: a Service of at most %d bytes", peer.MaxServiceBytes)))
			return
		}
		writeProblem(w, problem(http.StatusBadRequest, wire.ProblemBadInput, fmt.Sprintf("request body: want a TMF638 Service as JSON: %v", err)))
		return
	}
	created, err := s.opts.Registry.Put(svc)
	if errors.Is(err, peer.ErrRegistryFull) {
		w.Header().Set("Retry-After", strconv.Itoa(int(s.opts.Registry.TTL().Seconds())))
		writeProblem(w, problem(http.StatusTooManyRequests, wire.ProblemBadInput, err.Error()))
		return
	}
	if err != nil {
		writeProblem(w, problem(http.StatusUnprocessableEntity, wire.ProblemInvalid, err.Error()))
		return
	}
	svc.Href = wire.PathCanvasInfo + "/" + url.PathEscape(svc.ID)
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	writeJSON(w, code, svc)
}

func (s *Server) handleWithdraw(w http.ResponseWriter, r *http.Request) {
	if s.opts.Registry == nil || !s.opts.Registry.Delete(r.PathValue("id")) {
		writeProblem(w, problem(http.StatusNotFound, wire.ProblemNotFound, fmt.Sprintf("no registered service %q", r.PathValue("id"))))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
