package kubeapi

import (
	"encoding/base64"
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// KubeconfigContext is the cluster, user and context name of the
// kubeconfig Kubeconfig writes.
const KubeconfigContext = "wasmcanvas"

// Kubeconfig is a kubeconfig for the kube API at server (https URL),
// trusting caPEM and sending token, whose context's namespace is the
// reference canvas's components namespace.
func Kubeconfig(server string, caPEM []byte, token string) ([]byte, error) {
	if server == "" || len(caPEM) == 0 || token == "" {
		return nil, fmt.Errorf("kubeconfig: server URL, CA and token are all needed")
	}
	cfg := map[string]any{
		"apiVersion":      "v1",
		"kind":            "Config",
		"current-context": KubeconfigContext,
		"clusters": []any{map[string]any{"name": KubeconfigContext, "cluster": map[string]any{
			"server": server, "certificate-authority-data": base64.StdEncoding.EncodeToString(caPEM),
		}}},
		"users": []any{map[string]any{"name": KubeconfigContext, "user": map[string]any{"token": token}}},
		"contexts": []any{map[string]any{"name": KubeconfigContext, "context": map[string]any{
			"cluster": KubeconfigContext, "user": KubeconfigContext, "namespace": oda.DefaultNamespace,
		}}},
		"preferences": map[string]any{},
	}
	return yaml.Marshal(cfg)
}
