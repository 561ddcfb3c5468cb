package server

import "time"

// SweepPayloadFiles runs one sweep of the payload files now, leaving files younger than
// grace alone (see payloadFiles.sweep). It reports how many it removed.
func (s *Server) SweepPayloadFiles(grace time.Duration) (int, error) {
	if s.st.files == nil {
		return 0, nil
	}
	s.st.files.mu.Lock()
	s.st.files.grace = grace
	s.st.files.mu.Unlock()
	return s.st.files.sweep(s.st.referenced)
}

// SpillBytes is the size from which a payload is kept in a file.
const SpillBytes = spillBytes
