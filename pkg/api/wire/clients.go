package wire

import "time"

// PathClients is the embedded issuer's OAuth clients in canvasd's API.
const PathClients = "/v1/clients"

// ClientRequest registers a client with the embedded issuer.
type ClientRequest struct {
	ID string `json:"id"`
	// Grants are the roles the client holds per audience (a Component's
	// API's audience is its client id).
	Grants map[string][]string `json:"grants,omitempty"`
}

// GrantRequest adds roles on an audience to a client.
type GrantRequest struct {
	Audience string   `json:"audience"`
	Roles    []string `json:"roles"`
}

// Client is a registered client as the API shows it: never its secret
// but once, in the answer to its creation (Secret).
type Client struct {
	ID     string              `json:"id"`
	Grants map[string][]string `json:"grants,omitempty"`
	// Roles are the roles a Component's client defines (componentRole).
	Roles []string `json:"roles,omitempty"`
	// Owner is the Component ({namespace}/{name}) the client belongs to;
	// "" for clients made with the API and the canvas's own.
	Owner   string    `json:"owner,omitempty"`
	Created time.Time `json:"created"`
	// Secret is the client secret, only in the answer to a create: the
	// issuer keeps its hash alone.
	Secret string `json:"secret,omitempty"`
}

// ClientList is the answer to listing clients.
type ClientList struct {
	Items []Client `json:"items"`
}
