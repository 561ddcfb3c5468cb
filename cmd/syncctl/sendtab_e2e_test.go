package main_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/fixtures/fxaserver"
	"github.com/syncctl/syncctl/fxa"
	"github.com/syncctl/syncctl/internal/servertest"
	"github.com/syncctl/syncctl/server"
)

// send-tab: the tab reaches the named device as an open-uri command that only that
// device's keys open (Firefox reading it is proven in interop/firefox).
func TestSendTabReachesTheDeviceEncryptedToItsKeys(t *testing.T) {
	t.Parallel()
	const email, password = "tabs@example.org", "pw"
	fx, err := fxaserver.New(fxaserver.Account{Email: email, Password: password, KeyRotation: 1700000000000})
	if err != nil {
		t.Fatal(err)
	}
	fxHTTP := httptest.NewServer(fx.Handler())
	defer fxHTTP.Close()
	srv := servertest.Start(t, server.Options{OAuthVerifyURL: fxHTTP.URL + "/v1/oauth/verify"}, nil)

	// The receiving device: a session of its own, and Send Tab keys published under the
	// account's oldsync key.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client := &fxa.Client{Env: fxa.Environment{AuthURL: fxHTTP.URL + "/v1", ClientID: "test"}}
	cr, err := client.Login(ctx, email, password, fxa.Prompts{})
	if err != nil {
		t.Fatal(err)
	}
	syncKey, _ := crypto.SyncKeyBundle(fx.KB(email))
	priv, auth, published, err := fxa.SendTabKeys(syncKey)
	if err != nil {
		t.Fatal(err)
	}
	phone, err := client.RegisterDevice(ctx, cr, "Phone", "mobile", map[string]string{fxa.CommandOpenURI: published})
	if err != nil {
		t.Fatal(err)
	}

	a := newDevice(t)
	if r := a.run("login", "--fxa", email, "--password", password, "--auth-url", fxHTTP.URL+"/v1", "--token-server", srv.URL, "--client-id", "test"); r.code != 0 {
		t.Fatalf("login: %s", r.stderr)
	}
	if r := a.run("send-tab", "https://example.org/page", "--to", "Laptop"); r.code != 2 || !strings.Contains(r.stderr, "Phone") {
		t.Errorf("to a device that does not exist: exit %d, %s", r.code, r.stderr)
	}
	var sent []struct{ Device, ID string }
	a.json(&sent, "send-tab", "https://example.org/page", "--to", "Phone", "--title", "A page")
	if len(sent) != 1 || sent[0].ID != phone.ID {
		t.Fatalf("sent: %+v", sent)
	}
	cmds := fx.Commands()
	if len(cmds) != 1 || cmds[0].Target != phone.ID || cmds[0].Command != fxa.CommandOpenURI {
		t.Fatalf("commands: %+v", cmds)
	}
	if strings.Contains(string(cmds[0].Payload), "example.org") {
		t.Error("the FxA server can read the tab")
	}
	title, url, err := fxa.ReceiveTab(cmds[0].Payload, priv, auth)
	if err != nil || title != "A page" || url != "https://example.org/page" {
		t.Errorf("the phone opens %q <%s>, %v", title, url, err)
	}
	var raw json.RawMessage = cmds[0].Payload
	if _, _, err := fxa.ReceiveTab(raw, priv, make([]byte, 16)); err == nil {
		t.Error("a wrong auth secret opened the tab")
	}
}
