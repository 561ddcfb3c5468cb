package firefox_test

import (
	"testing"
)

// Smoke: Firefox signs in to the double, gets a token from syncctl's token endpoint and
// completes a sync against the embedded server.
func TestFirefoxSignsInAndSyncsWithTheEmbeddedServer(t *testing.T) {
	t.Parallel() // each test its own Firefox, profile, port and server
	e := newEnv(t)
	ff := e.startFirefox("Firefox under test")
	ff.signIn()
	st := ff.sync()
	t.Logf("Firefox synced: %+v", st)
}
