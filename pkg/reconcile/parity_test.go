package reconcile

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/wasmcanvas/wasmcanvas/internal/testref"
	"github.com/wasmcanvas/wasmcanvas/pkg/deploy"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
)

// The reference canvas's status vocabulary (../shared/reference/oda/NOTES.md
// section b): the keys each part of status may have, and the values its
// enumerations take. wasmcanvas's own additions are listed apart, so a
// new key has to be declared one or the other on purpose.
var (
	refStatusKeys = []string{"coreAPIs", "managementAPIs", "securityAPIs", "coreDependentAPIs", "managementDependentAPIs",
		"securityDependentAPIs", "securitySecretsManagement", "publishedEvents", "subscribedEvents", "identityConfig", oda.StatusSummaryKey}
	extStatusKeys  = []string{"wasmCloud"}
	refAPIKeys     = []string{"name", "uid", "implementation", "path", "port", "ip", "url", "developerUI", "ready"}
	refDepKeys     = []string{"name", "uid", "ready", "url"}
	extDepKeys     = []string{"message"}
	refEventKeys   = []string{"name", "uid", "ready", "url"}
	refIdentity    = []string{"identityProvider", "listenerRegistered"}
	refSecretsKeys = []string{"ready"}
	refSummaryKeys = []string{"coreAPIsummary", "coreDependentAPIsummary", "managementDependentAPIsummary", "securityDependentAPIsummary",
		"securitySecretsManagementSummary", "managementAPIsummary", "securityAPIsummary", "developerUIsummary", "deployment_status"}
	extSummaryKeys = []string{"failureReason", "failedPart"}
	refDeployment  = []string{oda.DeploymentInProgressCompCon, oda.DeploymentInProgressIDConfOp, oda.DeploymentInProgressSecretMan,
		oda.DeploymentInProgressDepAPI, oda.DeploymentComplete}
	extDeployment = []string{oda.DeploymentFailed}
	refSecretsSum = []string{"", "initializing", "ready"}
	uuidShape     = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	entryName     = regexp.MustCompile(`^[a-z0-9-]+$`)
)

// TestStatusParity writes the status of every upstream example, at each
// stage of its life here, and checks it against the reference canvas's
// field names and vocabulary: every key known, every list written (as []
// when empty), entries named <component>-<api>[-v<major>] with UUID
// uids, summaries of space-terminated URLs, states from the reference
// state machine (Failed only with its reason and part).
func TestStatusParity(t *testing.T) {
	t.Parallel()
	files, err := os.ReadDir(testref.Path(t, "oda", "examples"))
	if err != nil {
		t.Fatal(err)
	}
	deployed := deploy.AppStatus{Type: wadm.StatusDeployed, Exists: true, DeployedVersion: "v-1"}
	stages := []struct {
		name string
		in   statusInput
	}{
		{"reconciling", statusInput{version: "v-1", observed: deploy.AppStatus{Type: wadm.StatusReconciling, DeployedVersion: "v-1"}}},
		{"deployed, dependency missing", statusInput{version: "v-1", observed: deployed, identityProvider: DefaultIdentityProvider,
			resolve: func([]string) (string, bool, string) { return "", false, "API x on peer http://b is gone" }}},
		{"deployed", statusInput{version: "v-1", observed: deployed, identityProvider: DefaultIdentityProvider,
			resolve: func([]string) (string, bool, string) {
				return testBaseURL + "/provider/tmf-api/productCatalogManagement/v4", true, ""
			}}},
		{"wadm failed", statusInput{version: "v-1", observed: deploy.AppStatus{Type: wadm.StatusFailed, DeployedVersion: "v-1", Message: "no host"}}},
	}
	n := 0
	for _, f := range files {
		if !strings.HasSuffix(f.Name(), ".yaml") {
			continue
		}
		c := example(t, f.Name(), "ctk-parity")
		for _, stage := range stages {
			in := stage.in
			in.c, in.app, in.baseURL = c, "components-ctk-parity", testBaseURL
			st := computeStatus(in)
			raw, err := json.Marshal(st)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			for _, p := range statusParity(m) {
				t.Errorf("%s (%s): %s", f.Name(), stage.name, p)
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("no upstream examples checked")
	}
}

// statusParity lists how status m departs from the reference canvas's.
func statusParity(m map[string]any) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	keys := func(where string, obj map[string]any, allowed ...[]string) {
		for k := range obj {
			if !slices.ContainsFunc(allowed, func(l []string) bool { return slices.Contains(l, k) }) {
				bad("%s: key %q is neither the reference canvas's nor a declared wasmcanvas extension", where, k)
			}
		}
	}
	keys("status", m, refStatusKeys, extStatusKeys)
	for _, k := range refStatusKeys {
		if _, ok := m[k]; !ok && k != "identityConfig" {
			bad("status: key %q missing (the reference canvas always writes it)", k)
		}
	}
	lists := map[string][]string{"coreAPIs": refAPIKeys, "managementAPIs": refAPIKeys, "securityAPIs": refAPIKeys,
		"coreDependentAPIs": refDepKeys, "managementDependentAPIs": refDepKeys, "securityDependentAPIs": refDepKeys,
		"publishedEvents": refEventKeys, "subscribedEvents": refEventKeys}
	for list, allowed := range lists {
		l, ok := m[list].([]any)
		if !ok {
			bad("status.%s: %T, want a list", list, m[list])
			continue
		}
		for i, e := range l {
			where := fmt.Sprintf("status.%s[%d]", list, i)
			obj, _ := e.(map[string]any)
			ext := []string(nil)
			if strings.HasSuffix(list, "DependentAPIs") {
				ext = extDepKeys
			}
			keys(where, obj, allowed, ext)
			if name, _ := obj["name"].(string); !strings.HasPrefix(name, "ctk-parity-") || !entryName.MatchString(name) {
				bad("%s.name %q: want <component>-<api>[-v<major>], lower case", where, name)
			}
			if uid, _ := obj["uid"].(string); !uuidShape.MatchString(uid) {
				bad("%s.uid %q: want a UUID", where, uid)
			}
			if _, ok := obj["ready"].(bool); !ok {
				bad("%s.ready: %T, want a bool", where, obj["ready"])
			}
			if p, ok := obj["port"]; ok {
				if _, num := p.(float64); !num {
					bad("%s.port: %T, want a number", where, p)
				}
			}
			for _, k := range []string{"url", "developerUI"} {
				if u, ok := obj[k].(string); ok && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
					bad("%s.%s %q: want an absolute URL", where, k, u)
				}
			}
			if _, has := obj["message"]; has && obj["ready"] == true {
				bad("%s: message on a ready entry", where)
			}
		}
	}
	if sm, ok := m["securitySecretsManagement"].(map[string]any); ok {
		keys("status.securitySecretsManagement", sm, refSecretsKeys)
	} else {
		bad("status.securitySecretsManagement: %T, want an object ({} when not requested)", m["securitySecretsManagement"])
	}
	if id, ok := m["identityConfig"]; ok {
		obj, _ := id.(map[string]any)
		keys("status.identityConfig", obj, refIdentity)
		if p, _ := obj["identityProvider"].(string); p == "" {
			bad("status.identityConfig.identityProvider empty")
		}
	}
	sum, _ := m[oda.StatusSummaryKey].(map[string]any)
	keys("status.summary/status", sum, refSummaryKeys, extSummaryKeys)
	for _, k := range refSummaryKeys {
		v, ok := sum[k].(string)
		if !ok {
			bad("status.summary/status.%s: %T, want a string", k, sum[k])
			continue
		}
		if strings.HasSuffix(k, "APIsummary") || k == "developerUIsummary" {
			if v != "" && !strings.HasSuffix(v, " ") {
				bad("status.summary/status.%s %q: want space-terminated URLs", k, v)
			}
			for u := range strings.FieldsSeq(v) {
				if !strings.HasPrefix(u, "http") {
					bad("status.summary/status.%s: %q is not a URL", k, u)
				}
			}
		}
	}
	if v, _ := sum["securitySecretsManagementSummary"].(string); !slices.Contains(refSecretsSum, v) {
		bad("status.summary/status.securitySecretsManagementSummary %q: want one of %q", v, refSecretsSum)
	}
	state, _ := sum["deployment_status"].(string)
	_, reason := sum["failureReason"]
	switch {
	case slices.Contains(refDeployment, state):
		if reason {
			bad("status.summary/status: failureReason with %s", state)
		}
	case slices.Contains(extDeployment, state):
		if !reason {
			bad("status.summary/status: %s without failureReason", state)
		}
	default:
		bad("status.summary/status.deployment_status %q: want one of %q (or %q)", state, refDeployment, extDeployment)
	}
	return out
}
