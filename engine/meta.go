package engine

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/syncctl/syncctl/wbo"
)

// StorageVersion is the storage format this client speaks.
const StorageVersion = 5

// MetaGlobal is the cleartext meta/global record.
type MetaGlobal struct {
	SyncID         string                 `json:"syncID"`
	StorageVersion int                    `json:"storageVersion"`
	Engines        map[string]EngineEntry `json:"engines"`
	Declined       []string               `json:"declined"`
	// Other keeps members this client does not know, so an upload never drops them.
	Other map[string]json.RawMessage `json:"-"`
}

// EngineEntry is one engine's entry in meta/global.
type EngineEntry struct {
	Version int    `json:"version"`
	SyncID  string `json:"syncID"`
}

func parseMeta(payload []byte) (*MetaGlobal, error) {
	var m MetaGlobal
	if err := json.Unmarshal(payload, &m); err != nil {
		return nil, fmt.Errorf("meta/global: %w", err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(payload, &all); err != nil {
		return nil, fmt.Errorf("meta/global: %w", err)
	}
	for _, k := range []string{"syncID", "storageVersion", "engines", "declined"} {
		delete(all, k)
	}
	m.Other = all
	if m.Engines == nil {
		m.Engines = map[string]EngineEntry{}
	}
	return &m, nil
}

func (m *MetaGlobal) payload() []byte {
	out := map[string]any{}
	for k, v := range m.Other {
		out[k] = v
	}
	out["syncID"], out["storageVersion"], out["engines"] = m.SyncID, m.StorageVersion, m.Engines
	declined := m.Declined
	if declined == nil {
		declined = []string{}
	}
	out["declined"] = declined
	b, _ := json.Marshal(out) // plain values: cannot fail
	return b
}

func (m *MetaGlobal) declined(name string) bool { return slices.Contains(m.Declined, name) }

func newMeta(engines []Engine, declined []string) *MetaGlobal {
	m := &MetaGlobal{SyncID: wbo.NewGUID(nil), StorageVersion: StorageVersion, Engines: map[string]EngineEntry{}, Declined: slices.Clone(declined)}
	m.Engines[ClientsCollection] = EngineEntry{Version: clientsVersion, SyncID: wbo.NewGUID(nil)}
	for _, e := range engines {
		if !m.declined(e.Name()) {
			m.Engines[e.Name()] = EngineEntry{Version: e.Version(), SyncID: wbo.NewGUID(nil)}
		}
	}
	return m
}
