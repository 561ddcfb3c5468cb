package interop_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/syncctl/syncctl/fixtures"
	"github.com/syncctl/syncctl/fixtures/fxaserver"
	"github.com/syncctl/syncctl/fxa"
)

// TestFxaJsClientAgreesByteForByte: Mozilla's fxa-js-client and syncctl derive the same
// quickStretchedPW, authPW and unwrapBKey for an account (the onepw vector's, non-ASCII
// email and password included), and unwrap the same kB from the same server's key
// bundle, each with its own code.
func TestFxaJsClientAgreesByteForByte(t *testing.T) {
	requireNode(t, true)
	v := fixtures.Load().Onepw7
	fx, err := fxaserver.New(fxaserver.Account{Email: v.Email, Password: v.Password})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(fx.Handler())
	defer hs.Close()
	out := node(t, "fxa_js_client.mjs", hs.URL+"/v1", v.Email, v.Password)
	var js struct{ QuickStretchedPW, AuthPW, UnwrapBKey, KA, KB string }
	if err := json.Unmarshal([]byte(out), &js); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	qs := fxa.QuickStretch(v.Email, v.Password)
	for name, pair := range map[string][2]string{
		"quickStretchedPW": {js.QuickStretchedPW, hex.EncodeToString(qs)},
		"authPW":           {js.AuthPW, hex.EncodeToString(fxa.AuthPW(qs))},
		"unwrapBKey":       {js.UnwrapBKey, hex.EncodeToString(fxa.UnwrapBKey(qs))},
	} {
		if pair[0] != pair[1] {
			t.Errorf("%s: fxa-js-client %s, syncctl %s", name, pair[0], pair[1])
		}
	}
	if js.AuthPW != v.AuthPW || js.QuickStretchedPW != v.QuickStretchedPW {
		t.Errorf("fxa-js-client disagrees with the published vector")
	}
	c := &fxa.Client{Env: fxa.Environment{AuthURL: hs.URL + "/v1", ClientID: "test"}}
	cr, err := c.Login(context.Background(), v.Email, v.Password, fxa.Prompts{})
	if err != nil {
		t.Fatal(err)
	}
	if js.KB != cr.KB || js.KB != hex.EncodeToString(fx.KB(v.Email)) {
		t.Errorf("kB: fxa-js-client %s, syncctl %s, server %x", js.KB, cr.KB, fx.KB(v.Email))
	}
}
