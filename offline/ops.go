package offline

import (
	"encoding/json"
	"maps"
)

// Kind is what an operation does.
type Kind string

// Operation kinds.
const (
	Create Kind = "create"
	Update Kind = "update"
	Remove Kind = "remove"
)

// Op is one local change, as queued and as uploaded.
type Op struct {
	ID         string                     `json:"id"` // unique; the record id on the server
	Collection string                     `json:"collection"`
	Record     string                     `json:"record"`
	Kind       Kind                       `json:"kind"`
	Fields     map[string]json.RawMessage `json:"fields,omitempty"` // update: null removes a field
}

// state is a record as operations leave it.
type state struct {
	Fields  map[string]json.RawMessage
	Removed bool
	Exists  bool
}

// apply folds one operation into a record's state, by the package's conflict rules.
func apply(s state, op Op) state {
	switch op.Kind {
	case Create:
		if s.Removed {
			return s // a remove is final
		}
		return state{Fields: maps.Clone(op.Fields), Exists: true}
	case Update:
		if s.Removed {
			return s // remove vs. update: as if the update came first
		}
		f := maps.Clone(s.Fields)
		if f == nil {
			f = map[string]json.RawMessage{}
		}
		for k, v := range op.Fields {
			if string(v) == "null" {
				delete(f, k)
			} else {
				f[k] = v
			}
		}
		return state{Fields: f, Exists: true}
	case Remove:
		return state{Removed: true, Exists: true}
	}
	return s
}

// diff is the fields of next that differ from prev (removed fields as null): what an
// update must carry, and no more.
func diff(prev, next map[string]json.RawMessage) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	for k, v := range next {
		if p, ok := prev[k]; !ok || !sameJSON(p, v) {
			out[k] = v
		}
	}
	for k := range prev {
		if _, ok := next[k]; !ok {
			out[k] = json.RawMessage("null")
		}
	}
	return out
}

func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return string(a) == string(b)
	}
	ea, _ := json.Marshal(x)
	eb, _ := json.Marshal(y)
	return string(ea) == string(eb)
}
