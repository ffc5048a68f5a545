package migrate

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// ComponentVersions are the Component versions read from a Kubernetes
// canvas, in the order tried: the first the API server serves wins.
var ComponentVersions = []string{"v1", "v1beta4", "v1beta3"}

// Kube reads (and, for tests and the reverse direction, writes)
// Components on a Kubernetes API server.
type Kube struct {
	client dynamic.Interface
}

// KubeConfig loads a kubeconfig file (the default loading rules when
// path is empty: $KUBECONFIG, ~/.kube/config) with an optional context.
func KubeConfig(path, context string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if path != "" {
		rules.ExplicitPath = path
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	return cfg, nil
}

// NewKube makes a Kube from a rest config.
func NewKube(cfg *rest.Config) (*Kube, error) {
	c, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return &Kube{client: c}, nil
}

func gvr(version string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: oda.Group, Version: version, Resource: "components"}
}

// Components reads the Components of namespace (all namespaces when
// empty; only name when set), in the first version of ComponentVersions
// the server serves, and says which.
func (k *Kube) Components(ctx context.Context, namespace, name string) ([]map[string]any, string, error) {
	var errs []error
	for _, v := range ComponentVersions {
		res := k.client.Resource(gvr(v)).Namespace(namespace)
		if name != "" {
			obj, err := res.Get(ctx, name, metav1.GetOptions{})
			if err == nil {
				return []map[string]any{obj.Object}, v, nil
			}
			if apierrors.IsNotFound(err) && !notServed(err) {
				return nil, v, fmt.Errorf("component %s/%s: not found on the Kubernetes canvas", namespace, name)
			}
			errs = append(errs, fmt.Errorf("%s: %w", v, err))
			continue
		}
		list, err := res.List(ctx, metav1.ListOptions{})
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", v, err))
			continue
		}
		out := make([]map[string]any, 0, len(list.Items))
		for _, it := range list.Items {
			out = append(out, it.Object)
		}
		return out, v, nil
	}
	return nil, "", fmt.Errorf("reading components.%s (tried %v): %w: is the ODA Component CRD installed and the kubeconfig allowed to read it?", oda.Group, ComponentVersions, errors.Join(errs...))
}

// notServed says whether a 404 is about the resource (version not served)
// rather than the object.
func notServed(err error) bool {
	var st apierrors.APIStatus
	if !errors.As(err, &st) {
		return false
	}
	d := st.Status().Details
	return d == nil || d.Name == ""
}

// Apply creates obj, or replaces it at its current resourceVersion; the
// version is obj's apiVersion.
func (k *Kube) Apply(ctx context.Context, obj map[string]any) error {
	u := &unstructured.Unstructured{Object: deepCopy(obj)}
	gv, err := schema.ParseGroupVersion(u.GetAPIVersion())
	if err != nil {
		return err
	}
	res := k.client.Resource(gvr(gv.Version)).Namespace(u.GetNamespace())
	cur, err := res.Get(ctx, u.GetName(), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = res.Create(ctx, u, metav1.CreateOptions{})
	case err == nil:
		u.SetResourceVersion(cur.GetResourceVersion())
		_, err = res.Update(ctx, u, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("component %s/%s: %w", u.GetNamespace(), u.GetName(), err)
	}
	return nil
}

// Status reads one Component's status (nil when it has none).
func (k *Kube) Status(ctx context.Context, namespace, name string) (map[string]any, error) {
	objs, _, err := k.Components(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	st, _ := objs[0]["status"].(map[string]any)
	return st, nil
}
