package wasi

import "github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/cm"

// Filesystem and sockets are closed: components that import them (most
// toolchains do) instantiate, find no preopened directory and get
// access-denied for sockets and name lookup; any other call traps.

var accessDenied = cm.Result{Err: true, Value: cm.Enum("access-denied")}

func defineFilesystemTypes(li *cm.LinkerInstance) error {
	return all(
		li.Resource("descriptor", TypeDescriptor, drop),
		li.Resource("directory-entry-stream", TypeDirectoryEntryStream, drop),
		fn(li, "filesystem-error-code", func(c *Ctx, a []cm.Value) (cm.Value, error) { return cm.Option{}, nil }),
	)
}

func definePreopens(li *cm.LinkerInstance) error {
	return fn(li, "get-directories", func(c *Ctx, a []cm.Value) (cm.Value, error) { return cm.List(nil), nil })
}

func defineNetwork(li *cm.LinkerInstance) error {
	return all(
		li.Resource("network", TypeNetwork, drop),
		fn(li, "network-error-code", func(c *Ctx, a []cm.Value) (cm.Value, error) { return cm.Option{}, nil }),
	)
}

// network is the host object of the (useless) instance network.
type network struct{}

func defineInstanceNetwork(li *cm.LinkerInstance) error {
	return fn(li, "instance-network", func(c *Ctx, a []cm.Value) (cm.Value, error) {
		return c.Own(TypeNetwork, network{}), nil
	})
}

func defineSocketType(name string, ty uint32) Definer {
	return func(li *cm.LinkerInstance) error { return li.Resource(name, ty, drop) }
}

func defineUDP(li *cm.LinkerInstance) error {
	return all(
		li.Resource("udp-socket", TypeUDPSocket, drop),
		li.Resource("incoming-datagram-stream", TypeIncomingDatagramStream, drop),
		li.Resource("outgoing-datagram-stream", TypeOutgoingDatagramStream, drop),
	)
}

func defineCreateSocket(name string) Definer {
	return func(li *cm.LinkerInstance) error {
		return fn(li, name, func(c *Ctx, a []cm.Value) (cm.Value, error) { return accessDenied, nil })
	}
}

func defineNameLookup(li *cm.LinkerInstance) error {
	return all(
		li.Resource("resolve-address-stream", TypeResolveAddressStream, drop),
		fn(li, "resolve-addresses", func(c *Ctx, a []cm.Value) (cm.Value, error) { return accessDenied, nil }),
	)
}
