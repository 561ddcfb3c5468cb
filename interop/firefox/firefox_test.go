package firefox_test

import (
	"testing"
)

// Smoke: Firefox signs in to the double, gets a token from syncctl's token endpoint and
// completes a sync against the embedded server.
func TestFirefoxSignsInAndSyncsWithTheEmbeddedServer(t *testing.T) {
	e := newEnv(t)
	ff := e.startFirefox("Firefox under test")
	ff.signIn()
	st := ff.sync()
	t.Logf("Firefox synced: %+v", st)
}
