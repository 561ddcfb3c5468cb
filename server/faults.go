package server

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Fault makes the server misbehave on purpose, for client tests: the next Count requests
// whose path starts with PathPrefix get the headers and status below (Count < 0: until
// cleared). Status 0 lets the request through with only the headers added.
type Fault struct {
	PathPrefix string `json:"path_prefix"`
	Count      int    `json:"count"`
	Status     int    `json:"status"`
	Backoff    int    `json:"backoff"`     // X-Weave-Backoff seconds
	RetryAfter int    `json:"retry_after"` // Retry-After seconds
	Alert      string `json:"alert"`       // X-Weave-Alert
}

type faults struct {
	mu   sync.Mutex
	list []Fault
}

// InjectFault queues a fault. Faults apply in the order given.
func (s *Server) InjectFault(f Fault) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.list = append(s.faults.list, f)
}

// ClearFaults drops every queued fault.
func (s *Server) ClearFaults() {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.list = nil
}

// apply reports whether it answered the request itself.
func (f *faults) apply(w http.ResponseWriter, path string) bool {
	f.mu.Lock()
	var hit *Fault
	for i := range f.list {
		if strings.HasPrefix(path, f.list[i].PathPrefix) && f.list[i].Count != 0 {
			fault := f.list[i]
			hit = &fault
			if f.list[i].Count > 0 {
				f.list[i].Count--
			}
			break
		}
	}
	f.mu.Unlock()
	if hit == nil {
		return false
	}
	h := w.Header()
	if hit.Backoff > 0 {
		h.Set("X-Weave-Backoff", strconv.Itoa(hit.Backoff))
	}
	if hit.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(hit.RetryAfter))
	}
	if hit.Alert != "" {
		h.Set("X-Weave-Alert", hit.Alert)
	}
	if hit.Status == 0 {
		return false
	}
	writeJSON(w, hit.Status, weaveUnknown)
	return true
}

// handle serves POST (queue a fault, JSON body) and DELETE (clear) on the hooks path.
func (f *faults) handle(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
		var fault Fault
		if err := json.NewDecoder(r.Body).Decode(&fault); err != nil {
			writeJSON(w, http.StatusBadRequest, weaveUnknown)
			return
		}
		f.mu.Lock()
		f.list = append(f.list, fault)
		f.mu.Unlock()
	case http.MethodDelete:
		f.mu.Lock()
		f.list = nil
		f.mu.Unlock()
	default:
		allow(w, r, "POST", "DELETE")
		return
	}
	writeJSON(w, http.StatusOK, nil)
}
