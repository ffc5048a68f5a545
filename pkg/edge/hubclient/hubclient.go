// Package hubclient talks to a secured lattice's hub through its system
// account: it pushes account JWTs to the servers' full resolvers
// ($SYS.REQ.CLAIMS.UPDATE), which apply them at once (a revocation closes
// the revoked users' connections), and asks every server for its leaf
// nodes ($SYS.REQ.SERVER.PING.LEAFZ). The caller brings a connection made
// with the system account's credentials.
package hubclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
)

// PushAccount stores an account JWT in the hub's resolver. A full resolver
// answers from every server; the first answer decides, as a cluster
// propagates the JWT among its servers itself.
func PushAccount(ctx context.Context, nc *nats.Conn, accountJWT string) error {
	msg, err := nc.RequestWithContext(ctx, subject.SysClaimsUpdate, []byte(accountJWT))
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return fmt.Errorf("push the account JWT: no server answered %s: connect with the system account's credentials (creds/admin.creds) to a hub with a full resolver", subject.SysClaimsUpdate)
		}
		return fmt.Errorf("push the account JWT: %w", err)
	}
	var resp struct {
		Data *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"data"`
		Error *struct {
			Code        int    `json:"code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return fmt.Errorf("push the account JWT: the hub's answer is not JSON: %w", err)
	}
	if resp.Error != nil {
		return fmt.Errorf("push the account JWT: the hub refused it (%d): %s", resp.Error.Code, resp.Error.Description)
	}
	if resp.Data == nil {
		return errors.New("push the account JWT: the hub's answer has neither data nor error")
	}
	return nil
}

// Leaf is one leaf-node connection a hub server reports.
type Leaf struct {
	// Server is the hub server the leaf is connected to.
	Server string `json:"server"`
	// Name is the leaf node's server_name.
	Name    string `json:"name"`
	Account string `json:"account"`
	IP      string `json:"ip"`
	Port    int    `json:"port"`
	RTT     string `json:"rtt,omitempty"`
}

// Leafs asks every hub server for its leaf nodes and gathers the answers
// that arrive within wait (or until ctx ends).
func Leafs(ctx context.Context, nc *nats.Conn, wait time.Duration) ([]Leaf, error) {
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, err
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest(subject.SysPingLeafz, inbox, nil); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var leafs []Leaf
	answered := false
	for {
		msg, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			if answered && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
				return leafs, nil
			}
			return nil, fmt.Errorf("ask the hub for its leaf nodes (%s): no answer: %w", subject.SysPingLeafz, err)
		}
		answered = true
		var resp struct {
			Server struct {
				Name string `json:"name"`
			} `json:"server"`
			Data struct {
				Leafs []Leaf `json:"leafs"`
			} `json:"data"`
		}
		if err := json.Unmarshal(msg.Data, &resp); err != nil {
			return nil, fmt.Errorf("leaf nodes answer: %w", err)
		}
		for _, lf := range resp.Data.Leafs {
			lf.Server = resp.Server.Name
			leafs = append(leafs, lf)
		}
	}
}
