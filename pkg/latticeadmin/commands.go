package latticeadmin

import (
	"context"
	"encoding/json"

	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
)

// The commands wadm (or a test acting as wadm) sends to hosts, and the
// auction replies, in the upstream control-interface crate's field order
// (CONTROL-INTERFACE.md, "Payload types"). pkg/node decodes them.

// ScaleComponentCommand is the body of component.scale. Count is the Rust
// field max_instances; 0 stops the component.
type ScaleComponentCommand struct {
	ComponentRef    string            `json:"component_ref"`
	ComponentID     string            `json:"component_id"`
	Annotations     map[string]string `json:"annotations,omitempty"`
	Count           uint32            `json:"count"`
	ComponentLimits map[string]string `json:"component_limits,omitempty"`
	HostID          string            `json:"host_id"`
	Config          []string          `json:"config"`
	AllowUpdate     bool              `json:"allow_update"`
}

// UpdateComponentCommand is the body of component.update.
type UpdateComponentCommand struct {
	ComponentID     string            `json:"component_id"`
	NewComponentRef string            `json:"new_component_ref"`
	HostID          string            `json:"host_id"`
	Annotations     map[string]string `json:"annotations,omitempty"`
}

// ComponentAuctionRequest is the body of component.auction.
type ComponentAuctionRequest struct {
	ComponentRef string            `json:"component_ref"`
	ComponentID  string            `json:"component_id"`
	Constraints  map[string]string `json:"constraints"`
}

// ComponentAuctionAck is a host's answer to a component auction it can
// take.
type ComponentAuctionAck struct {
	ComponentRef string            `json:"component_ref"`
	ComponentID  string            `json:"component_id"`
	HostID       string            `json:"host_id"`
	Constraints  map[string]string `json:"constraints"`
}

// ProviderAuctionRequest is the body of provider.auction.
type ProviderAuctionRequest struct {
	ProviderRef string            `json:"provider_ref"`
	ProviderID  string            `json:"provider_id"`
	Constraints map[string]string `json:"constraints"`
}

// ProviderAuctionAck is a host's answer to a provider auction.
type ProviderAuctionAck struct {
	HostID      string            `json:"host_id"`
	ProviderRef string            `json:"provider_ref"`
	ProviderID  string            `json:"provider_id"`
	Constraints map[string]string `json:"constraints"`
}

// StartProviderCommand is the body of provider.start.
type StartProviderCommand struct {
	ProviderID  string            `json:"provider_id"`
	ProviderRef string            `json:"provider_ref"`
	HostID      string            `json:"host_id"`
	Config      []string          `json:"config"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// StopProviderCommand is the body of provider.stop; provider_ref is
// accepted as an alias of provider_id, as upstream does.
type StopProviderCommand struct {
	HostID     string `json:"host_id"`
	ProviderID string `json:"provider_id"`
}

// UnmarshalJSON accepts provider_ref for provider_id.
func (c *StopProviderCommand) UnmarshalJSON(b []byte) error {
	var aux struct {
		HostID      string `json:"host_id"`
		ProviderID  string `json:"provider_id"`
		ProviderRef string `json:"provider_ref"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	c.HostID, c.ProviderID = aux.HostID, aux.ProviderID
	if c.ProviderID == "" {
		c.ProviderID = aux.ProviderRef
	}
	return nil
}

// StopHostCommand is the body of host.stop; Timeout is in milliseconds.
type StopHostCommand struct {
	HostID  string  `json:"host_id"`
	Timeout *uint64 `json:"timeout,omitempty"`
}

// DeleteLinkRequest is the body of link.del.
type DeleteLinkRequest struct {
	SourceID     string `json:"source_id"`
	Name         string `json:"name"`
	WitNamespace string `json:"wit_namespace"`
	WitPackage   string `json:"wit_package"`
}

// UnmarshalJSON defaults a missing name to DefaultLinkName.
func (r *DeleteLinkRequest) UnmarshalJSON(b []byte) error {
	type plain DeleteLinkRequest
	p := plain{Name: DefaultLinkName}
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*r = DeleteLinkRequest(p)
	return nil
}

// ScaleComponent sends component.scale to the host the command names and
// returns its message; the outcome comes later as a component_scaled or
// component_scale_failed event.
func (c *Client) ScaleComponent(ctx context.Context, cmd ScaleComponentCommand) (string, error) {
	if err := ValidateHostID(cmd.HostID); err != nil {
		return "", err
	}
	if cmd.Config == nil {
		cmd.Config = []string{}
	}
	body, err := Marshal(cmd)
	if err != nil {
		return "", err
	}
	resp, err := request[struct{}](ctx, c, subject.CtlComponentScale, cmd.HostID, body)
	return resp.Message, err
}

// LinkPut puts a link on the lattice and returns the host's message.
func (c *Client) LinkPut(ctx context.Context, l Link) (string, error) {
	if l.Name == "" {
		l.Name = DefaultLinkName
	}
	for _, s := range []*[]string{&l.Interfaces, &l.SourceConfig, &l.TargetConfig} {
		if *s == nil {
			*s = []string{}
		}
	}
	body, err := Marshal(l)
	if err != nil {
		return "", err
	}
	resp, err := request[struct{}](ctx, c, subject.CtlLinkPut, "", body)
	return resp.Message, err
}
