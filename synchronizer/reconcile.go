package synchronizer

import (
	"bytes"
	"encoding/json"
	"slices"

	"github.com/syncctl/syncctl/internal/jsonscan"
	"github.com/syncctl/syncctl/wbo"
)

// Reconciler decides what a record becomes when it changed both locally and on the
// server since the last sync. mirror is the last synced version, nil if none is known.
type Reconciler interface {
	Reconcile(local, remote wbo.Record, mirror []byte) wbo.Record
}

// NewestWins keeps the record changed last, by local time against server time (the
// rule of Firefox's engines without a mirror). A tie goes to the server.
type NewestWins struct{}

// Reconcile implements Reconciler.
func (NewestWins) Reconcile(local, remote wbo.Record, _ []byte) wbo.Record {
	if local.Modified > remote.Modified {
		return local
	}
	return remote
}

// ThreeWay merges field by field against the mirror: a field changed on one side only
// takes that side's value; a field changed on both takes the newer side's. A deletion
// against an update wins only if it is newer. Without a mirror, or for payloads that are
// not JSON objects, it falls back to NewestWins.
type ThreeWay struct{}

// Reconcile implements Reconciler.
func (ThreeWay) Reconcile(local, remote wbo.Record, mirror []byte) wbo.Record {
	localNewer := local.Modified > remote.Modified
	newer := remote
	if localNewer {
		newer = local
	}
	// One side unchanged since the last sync: the other side's change stands, whole,
	// whatever the timestamps say (a key rotation or a fresh start rewrites every record
	// on the server with a new time and the same content).
	if mirror != nil {
		if equalJSON(remote.Payload, mirror) {
			return local
		}
		if equalJSON(local.Payload, mirror) {
			return remote
		}
	}
	lDel, rDel := wbo.IsTombstone(local.Payload), wbo.IsTombstone(remote.Payload)
	if lDel || rDel || mirror == nil {
		return newer
	}
	l, lKeys, ok1 := fields(local.Payload)
	r, rKeys, ok2 := fields(remote.Payload)
	m, _, ok3 := fields(mirror)
	if !ok1 || !ok2 || !ok3 {
		return newer
	}
	keys := rKeys
	for _, k := range lKeys {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	out := map[string]json.RawMessage{}
	var order []string
	for _, k := range keys {
		lv, lok := l[k]
		rv, rok := r[k]
		mv, mok := m[k]
		lChanged := lok != mok || !same(lv, mv)
		rChanged := rok != mok || !same(rv, mv)
		v, present := rv, rok
		switch {
		case lChanged && !rChanged:
			v, present = lv, lok
		case lChanged && rChanged && !(lok == rok && same(lv, rv)) && localNewer:
			v, present = lv, lok
		}
		if present {
			out[k] = v
			order = append(order, k)
		}
	}
	merged := remote
	merged.Payload = encodeObject(out, order)
	if localNewer {
		merged.SortIndex, merged.TTL = local.SortIndex, local.TTL
	}
	return merged
}

// fields reads a JSON object's members in order, values as raw JSON.
func fields(p []byte) (map[string]json.RawMessage, []string, bool) {
	m := map[string]json.RawMessage{}
	var keys []string
	err := jsonscan.Object(p, func(key, value []byte) error {
		k, err := jsonscan.String(append(append([]byte{'"'}, key...), '"'))
		if err != nil {
			return err
		}
		if _, dup := m[string(k)]; !dup {
			keys = append(keys, string(k))
		}
		m[string(k)] = value
		return nil
	})
	return m, keys, err == nil
}

// encodeObject writes the members in the given key order.
func encodeObject(m map[string]json.RawMessage, keys []string) []byte {
	out := []byte{'{'}
	for i, k := range keys {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(jsonscan.AppendString(out, []byte(k)), ':')
		out = append(out, m[k]...)
	}
	return append(out, '}')
}

// equalJSON compares two JSON objects member by member (in any order).
func equalJSON(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	ma, _, ok1 := fields(a)
	mb, _, ok2 := fields(b)
	if !ok1 || !ok2 || len(ma) != len(mb) {
		return false
	}
	for k, v := range ma {
		w, ok := mb[k]
		if !ok || !same(v, w) {
			return false
		}
	}
	return true
}

// same compares two raw JSON values, ignoring insignificant white space.
func same(a, b json.RawMessage) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var ca, cb bytes.Buffer
	return json.Compact(&ca, a) == nil && json.Compact(&cb, b) == nil && bytes.Equal(ca.Bytes(), cb.Bytes())
}
