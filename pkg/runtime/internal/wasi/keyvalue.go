package wasi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/cm"
)

// KeyValue opens the buckets of one component's wasi:keyvalue.
type KeyValue interface {
	Open(ctx context.Context, identifier string) (Bucket, error)
}

// Bucket is one opened wasi:keyvalue bucket.
type Bucket interface {
	Get(ctx context.Context, key string) (value []byte, ok bool, err error)
	Set(ctx context.Context, key string, value []byte) error
	Delete(ctx context.Context, key string) error
	Exists(ctx context.Context, key string) (bool, error)
	ListKeys(ctx context.Context, cursor uint64) (keys []string, next uint64, more bool, err error)
	Increment(ctx context.Context, key string, delta uint64) (uint64, error)
}

// Errors a KeyValue or Bucket wraps to answer the WIT error cases other
// than other(string).
var (
	ErrNoSuchStore  = errors.New("no such key-value store")
	ErrAccessDenied = errors.New("key-value access denied")
)

// KeyValueCallTimeout bounds one wasi:keyvalue call when the request's own
// deadline is further away: a stalled backend must not hold the instance
// for the whole request timeout on every call.
const KeyValueCallTimeout = 5 * time.Second

// kvError maps a backend error to the WIT error variant. A deadline is
// other(...), not a trap: the guest may answer 503 itself.
func kvError(err error) cm.Value {
	var v cm.Variant
	switch {
	case errors.Is(err, ErrNoSuchStore):
		v = cm.Variant{Case: "no-such-store"}
	case errors.Is(err, ErrAccessDenied):
		v = cm.Variant{Case: "access-denied"}
	default:
		v = cm.Variant{Case: "other", Value: err.Error()}
	}
	return cm.Result{Err: true, Value: v}
}

// kvCall runs one backend call under the per-call timeout and turns its
// outcome into a WIT result.
func kvCall(c *Ctx, f func(ctx context.Context) (cm.Value, error)) (cm.Value, error) {
	ctx, cancel := context.WithTimeout(c.Context, KeyValueCallTimeout)
	defer cancel()
	v, err := f(ctx)
	if err != nil {
		return kvError(err), nil
	}
	return cm.Result{Value: v}, nil
}

// bucketMethod defines a [method]bucket.* function: a[0] is the borrowed
// bucket, the rest its arguments.
func bucketMethod(li *cm.LinkerInstance, name string, f func(ctx context.Context, b Bucket, a []cm.Value) (cm.Value, error)) error {
	return fn(li, "[method]bucket."+name, func(c *Ctx, a []cm.Value) (cm.Value, error) {
		b, err := Get[Bucket](c, a[0])
		if err != nil {
			return nil, fmt.Errorf("wasi:keyvalue bucket.%s: %w", name, err)
		}
		return kvCall(c, func(ctx context.Context) (cm.Value, error) { return f(ctx, b, a[1:]) })
	})
}

func defineKeyValueStore(li *cm.LinkerInstance) error {
	return all(
		li.Resource("bucket", TypeKeyValueBucket, drop),
		fn(li, "open", func(c *Ctx, a []cm.Value) (cm.Value, error) {
			return kvCall(c, func(ctx context.Context) (cm.Value, error) {
				if c.cfg.KeyValue == nil {
					return nil, fmt.Errorf("%w: no key-value store is configured for this component", ErrNoSuchStore)
				}
				b, err := c.cfg.KeyValue.Open(ctx, a[0].(string))
				if err != nil {
					return nil, err
				}
				return c.Own(TypeKeyValueBucket, b), nil
			})
		}),
		bucketMethod(li, "get", func(ctx context.Context, b Bucket, a []cm.Value) (cm.Value, error) {
			v, ok, err := b.Get(ctx, a[0].(string))
			if err != nil || !ok {
				return cm.Option{}, err
			}
			if len(v) == 0 {
				return cm.Option{Value: cm.List(nil)}, nil
			}
			return cm.Option{Value: v}, nil
		}),
		bucketMethod(li, "set", func(ctx context.Context, b Bucket, a []cm.Value) (cm.Value, error) {
			v, err := cm.Bytes(a[1])
			if err != nil {
				return nil, err
			}
			return nil, b.Set(ctx, a[0].(string), v)
		}),
		bucketMethod(li, "delete", func(ctx context.Context, b Bucket, a []cm.Value) (cm.Value, error) {
			return nil, b.Delete(ctx, a[0].(string))
		}),
		bucketMethod(li, "exists", func(ctx context.Context, b Bucket, a []cm.Value) (cm.Value, error) {
			return b.Exists(ctx, a[0].(string))
		}),
		bucketMethod(li, "list-keys", func(ctx context.Context, b Bucket, a []cm.Value) (cm.Value, error) {
			cursor, _ := a[0].(cm.Option).Value.(uint64)
			keys, next, more, err := b.ListKeys(ctx, cursor)
			if err != nil {
				return nil, err
			}
			list := make(cm.List, len(keys))
			for i, k := range keys {
				list[i] = k
			}
			var nextCursor cm.Option
			if more {
				nextCursor.Value = next
			}
			return cm.Record{{Name: "keys", Value: list}, {Name: "cursor", Value: nextCursor}}, nil
		}),
	)
}

func defineKeyValueAtomics(li *cm.LinkerInstance) error {
	// bucket is store's (the WIT's `use`); wasmtime resolves it.
	return fn(li, "increment", func(c *Ctx, a []cm.Value) (cm.Value, error) {
		b, err := Get[Bucket](c, a[0])
		if err != nil {
			return nil, fmt.Errorf("wasi:keyvalue increment: %w", err)
		}
		return kvCall(c, func(ctx context.Context) (cm.Value, error) {
			return b.Increment(ctx, a[1].(string), a[2].(uint64))
		})
	})
}
