package wadmtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
)

// Messages below are wadm 0.21's (crates/wadm/src/server/{mod,handlers}.rs).
const (
	msgStorage   = "Internal storage error"
	msgNoHosts   = "Waiting for status: Lattice contains no hosts, deployment not started."
	msgHistory   = "Model deployment history is not currently supported. It may be added in a future version"
	msgExtraToks = "Found extra components of subject, ensure your manifest name consists of only alphanumeric characters, dashes, and underscores."
)

func (s *Server) serve(m *nats.Msg) {
	ctx, cancel := context.WithTimeout(s.ctx, opTimeout)
	defer cancel()
	reply := s.handle(ctx, m)
	if m.Reply != "" {
		// A lost reply looks to the client like a timeout, as with wadm.
		_ = m.Respond(reply)
	}
}

func (s *Server) handle(ctx context.Context, m *nats.Msg) []byte {
	rest := strings.TrimPrefix(strings.TrimPrefix(m.Subject, s.prefix), ".")
	parts := strings.Split(rest, ".")
	switch {
	case len(parts) < 2:
		return errorReply("Invalid subject: Expected to find API category")
	case len(parts) < 3:
		return errorReply("Invalid subject: Expected to find operation")
	case len(parts) > 4:
		return errorReply("Invalid subject: " + msgExtraToks)
	}
	category, op, name := parts[1], parts[2], ""
	if len(parts) == 4 {
		name = parts[3]
	}
	if category == "model" {
		switch {
		case op == subject.WadmList && name == "":
			return s.listDeprecated(ctx)
		case op == subject.WadmGet && name != "":
			return s.get(ctx, m, name)
		case op == subject.WadmGet:
			return s.list(ctx)
		case op == subject.WadmPut && name == "":
			return s.put(ctx, m)
		case op == subject.WadmDelete && name != "":
			return s.del(ctx, m, name)
		case op == subject.WadmVersions && name != "":
			return s.versions(ctx, name)
		case op == subject.WadmDeploy && name != "":
			return s.deploy(ctx, m, name)
		case op == subject.WadmUndeploy && name != "":
			return s.undeploy(ctx, m, name)
		case op == subject.WadmStatus && name != "":
			return s.status(ctx, name)
		case op == subject.WadmHistory && name != "":
			return errorReply(msgHistory)
		}
	}
	return errorReply("Unsupported subject: " + m.Subject)
}

// errorReply is wadm's generic error reply. wadm builds it with
// serde_json's json! macro, whose map sorts keys (serde_json without
// preserve_order), so "message" comes before "result".
func errorReply(message string) []byte {
	b, _ := encodeJSON(map[string]string{"result": wadm.ResultError, "message": message})
	return b
}

func jsonReply(v any) []byte {
	b, err := encodeJSON(v)
	if err != nil {
		return errorReply(msgStorage)
	}
	return b
}

// encodeJSON writes JSON as serde_json does: no HTML escaping.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func (s *Server) put(ctx context.Context, msg *nats.Msg) []byte {
	m, err := parsePut(msg)
	if err != nil {
		return errorReply("Unable to parse manifest: " + err.Error())
	}
	m = m.Normalized()
	if v := m.Version(); v == wadm.LatestVersion {
		return errorReply(fmt.Sprintf("invalid manifest version, errors: %q", wadm.LatestVersion+" is not allowed in wadm"))
	}
	name := strings.TrimSpace(m.Metadata.Name)
	if subject.ValidateAppName(name) != nil {
		return errorReply(fmt.Sprintf("Manifest name %s contains invalid characters. Manifest names can only contain alphanumeric characters, dashes, and underscores.", name))
	}
	rec, rev, err := s.store.get(ctx, name)
	if err != nil {
		return errorReply(msgStorage)
	}
	if err := m.Validate(); err != nil {
		var me *wadm.ManifestError
		if errors.As(err, &me) && len(me.Errors) > 0 {
			return errorReply(me.Errors[0].Msg)
		}
		return errorReply(err.Error())
	}
	s.mu.Lock()
	hook := s.putHook
	s.mu.Unlock()
	if hook != nil {
		if err := hook(m); err != nil {
			return errorReply(err.Error())
		}
	}
	if rec == nil {
		rec = &record{Lattice: s.lattice, Name: name}
	}
	// wadm builds the message from the current version *before* adding the
	// new one, so a first put names no version and later puts name the
	// previous one (handlers.rs put_model).
	prev := ""
	if c := rec.current(); c != nil {
		prev = c.Version
	}
	message := fmt.Sprintf("Successfully put manifest %s %s", name, prev)
	version := m.Version()
	if _, ok := m.Metadata.Annotations[wadm.AnnotationVersion]; !ok {
		version = newULID(time.Now())
		m.SetVersion(version)
	}
	if rec.find(version) != nil {
		return errorReply(fmt.Sprintf("Manifest version %s already exists", version))
	}
	rec.Versions = append(rec.Versions, storedVersion{Version: version, Manifest: m})
	resp := wadm.PutModelResponse{
		Result: wadm.PutResultNewVersion, TotalVersions: len(rec.Versions),
		CurrentVersion: version, Message: message, Name: name,
	}
	if len(rec.Versions) == 1 {
		resp.Result = wadm.PutResultCreated
	}
	if err := s.store.set(ctx, rec, rev); err != nil {
		return errorReply(msgStorage)
	}
	s.puts.Add(1)
	return jsonReply(resp)
}

func parsePut(msg *nats.Msg) (*wadm.Manifest, error) {
	ct := ""
	if msg.Header != nil {
		ct = msg.Header.Get(wadm.ContentTypeHeader)
	}
	switch ct {
	case "", wadm.ContentTypeYAML:
		return wadm.ParseManifest(msg.Data)
	case wadm.ContentTypeJSON:
		if t := bytes.TrimLeft(msg.Data, " \t\r\n"); len(t) == 0 || t[0] != '{' {
			return nil, errors.New("JSON parsing failed: expected a JSON object")
		}
		return wadm.ParseManifest(msg.Data)
	default:
		return nil, fmt.Errorf("Unsupported content type %s given. Wadm supports YAML and JSON", ct)
	}
}

// versionRequest decodes {"version": ...} leniently (serde ignores unknown
// fields); an empty body means no version.
func versionRequest(data []byte) (*string, error) {
	if len(data) == 0 {
		return nil, nil
	}
	var req struct {
		Version *string `json:"version"`
	}
	if err := json.Unmarshal(data, &req); err != nil {
		return nil, err
	}
	return req.Version, nil
}

func (s *Server) get(ctx context.Context, msg *nats.Msg, name string) []byte {
	version, err := versionRequest(msg.Data)
	if err != nil {
		return errorReply("Unable to parse get application request: " + err.Error())
	}
	rec, _, err := s.store.get(ctx, name)
	if err != nil {
		return errorReply(msgStorage)
	}
	if rec == nil {
		return jsonReply(wadm.GetModelResponse{Result: wadm.GetResultNotFound, Message: fmt.Sprintf("Application with the name %s not found", name)})
	}
	if version == nil {
		return jsonReply(wadm.GetModelResponse{Result: wadm.GetResultSuccess, Message: "Successfully fetched application " + name, Manifest: rec.current().Manifest})
	}
	v := rec.find(*version)
	if v == nil {
		return jsonReply(wadm.GetModelResponse{Result: wadm.GetResultNotFound, Message: fmt.Sprintf("Application %s with version %s doesn't exist", name, *version)})
	}
	return jsonReply(wadm.GetModelResponse{Result: wadm.GetResultSuccess, Message: fmt.Sprintf("Successfully fetched application %s %s", name, *version), Manifest: v.Manifest})
}

func (s *Server) summaries(ctx context.Context) ([]wadm.ModelSummary, error) {
	recs, err := s.store.list(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]wadm.ModelSummary, 0, len(recs))
	for _, r := range recs {
		st, ok := s.lastStatus(ctx, r.Name)
		if !ok {
			st = wadm.NewStatus(wadm.StatusInfo{Type: wadm.StatusWaiting, Message: msgNoHosts}, nil)
		}
		cur := r.current().Manifest
		sum := wadm.ModelSummary{Name: r.Name, Version: r.current().Version, DetailedStatus: st, Status: st.Info.Type}
		if d, ok := cur.Metadata.Annotations[wadm.AnnotationDescription]; ok {
			sum.Description = &d
		}
		if r.Deployed != "" {
			d := r.Deployed
			sum.DeployedVersion = &d
		}
		// Old clients do not know waiting; wadm shows it as undeployed.
		if sum.Status == wadm.StatusWaiting {
			sum.Status = wadm.StatusUndeployed
		}
		msg := st.Info.Message
		sum.StatusMessage = &msg
		out = append(out, sum)
	}
	return out, nil
}

func (s *Server) list(ctx context.Context) []byte {
	models, err := s.summaries(ctx)
	if err != nil {
		return errorReply(msgStorage)
	}
	return jsonReply(wadm.ListModelsResponse{Result: wadm.GetResultSuccess, Message: "Successfully fetched list of applications", Models: models})
}

func (s *Server) listDeprecated(ctx context.Context) []byte {
	models, err := s.summaries(ctx)
	if err != nil {
		return errorReply(msgStorage)
	}
	return jsonReply(models)
}

func (s *Server) versions(ctx context.Context, name string) []byte {
	rec, _, err := s.store.get(ctx, name)
	if err != nil {
		return errorReply(msgStorage)
	}
	if rec == nil {
		return jsonReply(wadm.VersionResponse{Result: wadm.GetResultNotFound, Message: fmt.Sprintf("Application with the name %s not found", name)})
	}
	vs := make([]wadm.VersionInfo, 0, len(rec.Versions))
	for _, v := range rec.Versions {
		vs = append(vs, wadm.VersionInfo{Version: v.Version, Deployed: v.Version == rec.Deployed})
	}
	return jsonReply(wadm.VersionResponse{Result: wadm.GetResultSuccess, Message: "Successfully fetched versions for application " + name, Versions: vs})
}

func (s *Server) deploy(ctx context.Context, msg *nats.Msg, name string) []byte {
	version, err := versionRequest(msg.Data)
	if err != nil {
		return errorReply("Unable to parse deploy application request: " + err.Error())
	}
	rec, rev, err := s.store.get(ctx, name)
	if err != nil {
		return errorReply(msgStorage)
	}
	if rec == nil {
		return jsonReply(wadm.DeployModelResponse{Result: wadm.DeployResultNotFound, Message: fmt.Sprintf("Application with the name %s not found", name), Name: name, Version: version})
	}
	staged := rec.current()
	if version != nil && *version != wadm.LatestVersion {
		if staged = rec.find(*version); staged == nil {
			return jsonReply(wadm.DeployModelResponse{Result: wadm.DeployResultError,
				Message: fmt.Sprintf("Application with the name '%s' does not have a version '%s' to deploy", name, *version),
				Name:    name, Version: version})
		}
	}
	all, err := s.store.list(ctx)
	if err != nil {
		return errorReply(msgStorage)
	}
	for _, other := range all {
		dm := other.deployedManifest()
		if other.Name == name || dm == nil {
			continue
		}
		taken := map[string]bool{}
		for _, c := range dm.Spec.Components {
			if c.Properties.ID != "" {
				taken[c.Properties.ID] = true
			}
		}
		for _, c := range staged.Manifest.Spec.Components {
			if id := c.Properties.ID; id != "" && taken[id] {
				return errorReply(fmt.Sprintf("Component identifier '%s' is already deployed in a different application '%s'.", id, other.Name))
			}
		}
	}
	rec.Deployed = staged.Version
	if err := s.store.set(ctx, rec, rev); err != nil {
		v := staged.Version
		return jsonReply(wadm.DeployModelResponse{Result: wadm.DeployResultError, Message: msgStorage, Name: name, Version: &v})
	}
	if err := s.publishEvent(wadm.EventManifestPublished, "manifest_published", map[string]any{"manifest": sortedJSON(staged.Manifest)}); err != nil {
		v := staged.Version
		return jsonReply(wadm.DeployModelResponse{Result: wadm.DeployResultError,
			Message: "Error notifying processors of newly deployed manifest. This is likely a transient error, so please retry the request",
			Name:    name, Version: &v})
	}
	s.deploys.Add(1)
	s.startReconcile(name, staged.Manifest)
	v := staged.Version
	return jsonReply(wadm.DeployModelResponse{Result: wadm.DeployResultAcknowledged, Message: fmt.Sprintf("Successfully deployed application %s %s", name, v), Name: name, Version: &v})
}

func (s *Server) undeploy(ctx context.Context, msg *nats.Msg, name string) []byte {
	if len(msg.Data) > 0 {
		var req struct{}
		if err := json.Unmarshal(msg.Data, &req); err != nil {
			return errorReply("Unable to parse undeploy application request: " + err.Error())
		}
	}
	rec, rev, err := s.store.get(ctx, name)
	if err != nil {
		return errorReply(msgStorage)
	}
	if rec == nil {
		return jsonReply(wadm.DeployModelResponse{Result: wadm.DeployResultNotFound, Message: fmt.Sprintf("Application with the name %s not found", name), Name: name})
	}
	reply := wadm.DeployModelResponse{Result: wadm.DeployResultAcknowledged, Message: fmt.Sprintf("Application %s was already undeployed", name), Name: name}
	if rec.Deployed != "" {
		rec.Deployed = ""
		if err := s.store.set(ctx, rec, rev); err != nil {
			return jsonReply(wadm.DeployModelResponse{Result: wadm.DeployResultError, Message: msgStorage, Name: name})
		}
		reply.Message = "Successfully undeployed application " + name
		s.undeploys.Add(1)
		s.stopReconcile(name)
	}
	// wadm always re-sends the undeploy notification, in case the last one
	// was lost.
	if err := s.publishEvent(wadm.EventManifestUnpublished, "manifest_unpublished", map[string]any{"name": name}); err != nil {
		return jsonReply(wadm.DeployModelResponse{Result: wadm.DeployResultError,
			Message: "Error notifying processors of undeployed manifest. This is likely a transient error, so please retry the request", Name: name})
	}
	return jsonReply(reply)
}

func (s *Server) del(ctx context.Context, msg *nats.Msg, name string) []byte {
	version, err := versionRequest(msg.Data)
	if err != nil {
		return errorReply("Unable to parse delete application request: " + err.Error())
	}
	rec, rev, err := s.store.get(ctx, name)
	if err != nil {
		return jsonReply(wadm.DeleteModelResponse{Result: wadm.DeleteResultError, Message: "Internal storage error while fetching manifest data for application " + name})
	}
	var reply wadm.DeleteModelResponse
	switch {
	case rec == nil:
		reply = wadm.DeleteModelResponse{Result: wadm.DeleteResultNoop, Message: fmt.Sprintf("Application %s doesn't exist or was already deleted", name)}
	case version == nil:
		if err := s.store.del(ctx, name); err != nil {
			reply = wadm.DeleteModelResponse{Result: wadm.DeleteResultError, Message: "Internal storage error when deleting application " + name}
			break
		}
		reply = wadm.DeleteModelResponse{Result: wadm.DeleteResultDeleted, Message: "Successfully deleted application " + name, Undeploy: true}
	case rec.find(*version) == nil:
		reply = wadm.DeleteModelResponse{Result: wadm.DeleteResultNoop, Message: fmt.Sprintf("Application version %s doesn't exist", *version)}
	default:
		kept := rec.Versions[:0:0]
		for _, v := range rec.Versions {
			if v.Version != *version {
				kept = append(kept, v)
			}
		}
		rec.Versions = kept
		if len(kept) == 0 {
			if err := s.store.del(ctx, name); err != nil {
				reply = wadm.DeleteModelResponse{Result: wadm.DeleteResultDeleted, Message: fmt.Sprintf("Internal storage error when deleting %s of application %s", *version, name)}
				break
			}
			reply = wadm.DeleteModelResponse{Result: wadm.DeleteResultDeleted, Message: "Successfully deleted last version of application " + name, Undeploy: true}
			break
		}
		undeploy := rec.Deployed == *version
		if undeploy {
			rec.Deployed = ""
		}
		if err := s.store.set(ctx, rec, rev); err != nil {
			reply = wadm.DeleteModelResponse{Result: wadm.DeleteResultError, Message: fmt.Sprintf("Internal storage error when deleting %s of application %s", *version, name)}
			break
		}
		reply = wadm.DeleteModelResponse{Result: wadm.DeleteResultDeleted, Message: fmt.Sprintf("Successfully deleted version %s of application %s", *version, name), Undeploy: undeploy}
	}
	if reply.Result == wadm.DeleteResultDeleted {
		s.deletes.Add(1)
	}
	if reply.Undeploy || reply.Result == wadm.DeleteResultNoop {
		if reply.Undeploy {
			s.stopReconcile(name)
		}
		if err := s.publishEvent(wadm.EventManifestUnpublished, "manifest_unpublished", map[string]any{"name": name}); err != nil {
			return jsonReply(wadm.DeleteModelResponse{Result: wadm.DeleteResultError,
				Message: "Error notifying processors of newly undeployed manifest on delete. This is likely a transient error, so please retry the request. Please note that the response will say it is a noop, but will notify the processors"})
		}
	}
	return jsonReply(reply)
}

func (s *Server) status(ctx context.Context, name string) []byte {
	st, ok := s.lastStatus(ctx, name)
	if !ok {
		st = wadm.NewStatus(wadm.StatusInfo{Type: wadm.StatusUndeployed}, nil)
	}
	return jsonReply(wadm.StatusResponse{Result: wadm.StatusResultOK, Message: "Successfully fetched status for application " + name, Status: &st})
}

// cloudEvent is the CloudEvents 1.0 JSON envelope in the order the Rust
// cloudevents crate writes it.
type cloudEvent struct {
	SpecVersion     string `json:"specversion"`
	ID              string `json:"id"`
	Type            string `json:"type"`
	Source          string `json:"source"`
	DataContentType string `json:"datacontenttype"`
	Time            string `json:"time"`
	Data            any    `json:"data"`
}

// publishEvent publishes one of wadm's own events on
// wadm.evt.{lattice}.{key}.
func (s *Server) publishEvent(typ, key string, data any) error {
	ev := cloudEvent{
		SpecVersion: "1.0", ID: newUUID(), Type: typ, Source: "wadm",
		DataContentType: wadm.ContentTypeJSON, Time: time.Now().UTC().Format(time.RFC3339Nano), Data: data,
	}
	return s.nc.Publish(subject.WadmEvent(s.lattice, key), jsonReply(ev))
}

// sortedJSON turns a value into plain JSON values, so it serializes with
// sorted keys as wadm's serde_json::Value does.
func sortedJSON(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil
	}
	return out
}
