package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/token"
)

// mintedTokens makes storage tokens itself from the node's master secret, the way a
// tokenserver would (tokenlib). It lets an operator who holds SYNC_MASTER_SECRET reach a
// syncstorage-rs node, or `syncctl serve`, without a tokenserver or Firefox Accounts.
type mintedTokens struct {
	secret token.Secret
	node   string // base URL of the storage node
	uid    uint64
}

func (m *mintedTokens) Token(ctx context.Context, _ bool) (storage.Token, error) {
	return m.ShortLived(ctx, time.Hour)
}

// ShortLived mints a token lasting life (the conformance runner's expired-token case).
func (m *mintedTokens) ShortLived(_ context.Context, life time.Duration) (storage.Token, error) {
	id, key, err := m.secret.Mint(token.Payload{
		UID: m.uid, Node: m.node, Expires: float64(time.Now().Add(life).Unix()),
		FxAUID: fmt.Sprintf("syncctl-%d", m.uid), FxAKID: "0000000000000-",
	})
	if err != nil {
		return storage.Token{}, err
	}
	return storage.Token{ID: id, Key: key, UID: int64(m.uid), Duration: int64(life / time.Second),
		APIEndpoint: fmt.Sprintf("%s/1.5/%d", strings.TrimSuffix(m.node, "/"), m.uid), Expires: time.Now().Add(life)}, nil
}
