package translate

import (
	"errors"
	"fmt"
	"net"
	"net/url"

	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
)

// Images of the upstream wasmCloud providers the system application runs,
// as wasmCloud publishes them, pinned to the releases wasmCloud v1.9.2's
// own manifests use (the host line the canvas targets). canvas-bridge's
// image is BridgeImage.
const (
	HTTPServerImage = "ghcr.io/wasmcloud/http-server:0.27.0"
	HTTPClientImage = "ghcr.io/wasmcloud/http-client:0.13.1"
	MessagingImage  = "ghcr.io/wasmcloud/messaging-nats:0.27.0"
	KeyValueImage   = "ghcr.io/wasmcloud/keyvalue-nats:0.4.1"
)

// DefaultIngressAddress is where the http-server provider listens on each
// host when SystemOptions.IngressAddress is empty.
const DefaultIngressAddress = "0.0.0.0:8080"

// sharedNames are the components of the system application, in manifest
// order: every name a Component's manifest may reference with
// wadm.SharedApplication, and nothing else.
var sharedNames = []string{IngressName, HTTPClientName, MessagingName, BridgeName, KeyValueName}

// SystemOptions are the inputs of SystemApplication.
type SystemOptions struct {
	// Name is the application's name (default DefaultSystemApp); Component
	// manifests must be translated with the same Options.SystemApp.
	Name string
	// BridgeImage is canvas-bridge's provider archive, an OCI reference or
	// a file:// URL ("" means BridgeImage of this build's version).
	BridgeImage string
	// IngressAddress is the HOST:PORT the http-server provider listens on
	// (default DefaultIngressAddress).
	IngressAddress string
	// Issuer, when set, is the OpenID issuer whose tokens canvas-bridge
	// verifies for wasmcanvas:identity (BridgeConfigIssuer in its config):
	// it must be reachable from every host.
	Issuer string
}

// SystemApplication is the shared wadm application every Component's
// manifest references (wadm's experimental.wasmcloud.dev/shared
// annotation): the http-server provider routing by path (the ingress), the
// http-client, NATS messaging and NATS keyvalue providers, and
// canvas-bridge with id BridgeID, each once per host (daemonscaler). Its
// version is a digest of its content (Version), so the same options always
// give the same version and any change gives a new one.
func SystemApplication(opts SystemOptions) (*wadm.Manifest, error) {
	if opts.Name == "" {
		opts.Name = DefaultSystemApp
	}
	if opts.IngressAddress == "" {
		opts.IngressAddress = DefaultIngressAddress
	}
	var errs []error
	if _, _, err := net.SplitHostPort(opts.IngressAddress); err != nil {
		errs = append(errs, fmt.Errorf("ingress address %q: want HOST:PORT such as %s: %w", opts.IngressAddress, DefaultIngressAddress, err))
	}
	bridge, err := SystemBridge(opts.BridgeImage)
	if err != nil {
		errs = append(errs, err)
	}
	if opts.Issuer != "" {
		if u, err := url.Parse(opts.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("issuer %q: want an http(s) URL reachable from every host", opts.Issuer))
		}
		bridge.Properties.Config = []wadm.ConfigProperty{{Name: "canvas-bridge-identity", Properties: map[string]string{BridgeConfigIssuer: opts.Issuer}}}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	byName := map[string]wadm.Component{
		IngressName: provider(IngressName, HTTPServerImage, wadm.ConfigProperty{
			Name: "ingress",
			// Path mode: one listener per host, each link's "path" source
			// config (translate's route config) picks the component.
			Properties: map[string]string{"routing_mode": "path", "default_address": opts.IngressAddress},
		}),
		HTTPClientName: provider(HTTPClientName, HTTPClientImage),
		MessagingName:  provider(MessagingName, MessagingImage),
		KeyValueName:   provider(KeyValueName, KeyValueImage),
		BridgeName:     bridge,
	}
	m := &wadm.Manifest{
		APIVersion: wadm.APIVersion,
		Kind:       wadm.Kind,
		Metadata: wadm.Metadata{
			Name: opts.Name,
			Annotations: map[string]string{
				wadm.AnnotationShared:      "true",
				wadm.AnnotationDescription: "wasmcanvas system application: the providers every ODA Component's application shares",
			},
		},
	}
	for _, name := range sharedNames {
		c := byName[name]
		c.Traits = append(c.Traits, wadm.Trait{Type: wadm.TraitDaemonScaler, Scaler: &wadm.ScalerProperties{Instances: 1}})
		m.Spec.Components = append(m.Spec.Components, c)
	}
	m.SetVersion(Version(m))
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("system application %s: %w", opts.Name, err)
	}
	return m, nil
}

// provider is a capability provider of the system application; wadm names
// its id {app}-{name}.
func provider(name, image string, config ...wadm.ConfigProperty) wadm.Component {
	return wadm.Component{
		Name:       name,
		Type:       wadm.ComponentTypeCapability,
		Properties: wadm.Properties{Image: image, Config: config},
	}
}
