package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/reconcile"
)

// A Func turns a closure into a Reconciler, which is all a test of the
// Reconciler contract needs.
func ExampleFunc() {
	r := reconcile.Func(func(ctx context.Context, key string) (reconcile.Result, error) {
		switch key {
		case "components.broken":
			return reconcile.Result{}, reconcile.TerminalError(errors.New("spec.coreFunction.exposedAPIs[0].implementation: no Wasm artefact"))
		case "components.waiting":
			return reconcile.Result{RequeueAfter: 5 * time.Second}, nil
		}
		return reconcile.Result{}, nil
	})
	for _, key := range []string{"components.ready", "components.waiting", "components.broken"} {
		res, err := r.Reconcile(context.Background(), key)
		fmt.Printf("%s: requeue after %s, terminal %t\n", key, res.RequeueAfter, reconcile.IsTerminal(err))
	}
	// Output:
	// components.ready: requeue after 0s, terminal false
	// components.waiting: requeue after 5s, terminal false
	// components.broken: requeue after 0s, terminal true
}
