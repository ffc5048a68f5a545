package wadm_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
)

// replyTypes are the replies and status messages wadm sends a client, each
// decoded from wadm's JSON as pkg/wadm/wadmclient decodes it.
var replyTypes = []func() any{
	func() any { return new(wadm.PutModelResponse) },
	func() any { return new(wadm.GetModelResponse) },
	func() any { return new(wadm.ListModelsResponse) },
	func() any { return new(wadm.VersionResponse) },
	func() any { return new(wadm.DeployModelResponse) },
	func() any { return new(wadm.DeleteModelResponse) },
	func() any { return new(wadm.StatusResponse) },
	func() any { return new(wadm.Status) },
}

// FuzzDecodeReply decodes arbitrary bytes as one of wadm's replies (the
// first byte picks it), as the client does with whatever answers on
// wadm's subjects: decoding must not panic, and whatever decodes must
// marshal to JSON that decodes to the same reply.
func FuzzDecodeReply(f *testing.F) {
	f.Add(append([]byte{0}, `{"result":"created","total_versions":1,"current_version":"v1","message":"ok","name":"a"}`...))
	f.Add(append([]byte{2}, `{"result":"success","message":"","models":[{"name":"a","version":"v1","description":null,"deployed_version":"v1","detailed_status":{"status":{"type":"deployed"},"version":"","components":[]},"status":"deployed","status_message":null}]}`...))
	f.Add(append([]byte{6}, `{"result":"ok","message":"","status":{"status":{"type":"compensating","message":"m"},"scalers":[{"id":"i","kind":"SpreadScaler","name":"n","status":{"type":"failed"}}],"version":"","components":[]}}`...))
	f.Add(append([]byte{7}, `{"status":{"type":"ready"},"version":"","components":[{"name":"c","type":"t","status":{"type":"waiting"},"traits":[{"type":"x","status":{"type":"unhealthy"}}]}]}`...))
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		newReply := replyTypes[int(in[0])%len(replyTypes)]
		v := newReply()
		if err := json.Unmarshal(in[1:], v); err != nil {
			return
		}
		j, err := json.Marshal(v)
		if err != nil {
			// Custom trait values such as YAML's .inf have no JSON form.
			return
		}
		if bytes.Contains(j, []byte(`"type":""`)) || bytes.Contains(j, []byte(`"status":""`)) {
			// A status object or a model's status left out decodes as
			// "", which does not decode back (wadm always writes both;
			// a status object without its type is refused).
			return
		}
		v2 := newReply()
		if err := json.Unmarshal(j, v2); err != nil {
			t.Fatalf("%T: own JSON does not decode: %v\n%s", v, err, j)
		}
		j2, err := json.Marshal(v2)
		if err != nil || !bytes.Equal(j, j2) {
			t.Fatalf("%T: JSON round trip unstable (%v):\n%s\n%s", v, err, j, j2)
		}
	})
}
