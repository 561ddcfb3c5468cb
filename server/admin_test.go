package server_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/syncctl/syncctl/internal/pgtest"
	"github.com/syncctl/syncctl/server"
)

// The admin commands work on a live server's database: they see its users and their
// storage, disable one (refused at the token endpoint, data kept), remove one (data
// gone, a fresh account next time), and put storage nodes in and out of service, which
// the running token endpoint follows at once.
func TestAdminOnALiveServer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	users := map[string]string{"alice": "alice-secret", "bob": "bob-secret", "carol": "carol-secret"}
	_, ts := startServer(t, server.Options{DataDir: dir, MasterSecret: "admin", Users: users})
	alice, bob := login(t, ts.URL, "alice-secret"), login(t, ts.URL, "bob-secret")
	alice.mustStatus(alice.do("POST", "/storage/bookmarks", `[{"id":"a1","payload":"12345"},{"id":"a2","payload":"67890"}]`), 200)
	alice.mustStatus(alice.do("PUT", "/storage/tabs/t1", `{"payload":"tabs"}`), 200)
	bob.mustStatus(bob.do("PUT", "/storage/bookmarks/b1", `{"payload":"bob's"}`), 200)

	admin, err := server.OpenAdmin(dir, pgtest.For(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx := context.Background()
	list, err := admin.Users(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("users: %+v %v", list, err)
	}
	if a := list[0]; a.Name != "alice" || a.UID != alice.uid || a.Collections != 2 || a.Records != 3 || a.Bytes != 14 || a.LastWrite == 0 || a.Disabled {
		t.Errorf("alice: %+v", a)
	}
	if u, err := admin.Usage(ctx); err != nil || u.Users != 2 || u.Records != 4 || u.Bytes != 19 {
		t.Errorf("usage: %+v %v", u, err)
	}

	if err := admin.Disable(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if status := tokenStatus(t, ts.URL, "alice-secret"); status != 401 {
		t.Errorf("a disabled user's token request: %d, want 401", status)
	}
	if list, _ := admin.Users(ctx); !list[0].Disabled || list[0].Records != 3 {
		t.Errorf("disabled alice: %+v", list[0])
	}

	if err := admin.Remove(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	again := login(t, ts.URL, "bob-secret")
	if again.uid == bob.uid {
		t.Errorf("a removed user kept uid %d", bob.uid)
	}
	if r := again.do("GET", "/info/collections", ""); r.body != "{}" {
		t.Errorf("a removed user's fresh account holds %s", r.body)
	}
	if err := admin.Remove(ctx, "nobody"); !errors.Is(err, server.ErrNoSuchUser) {
		t.Errorf("removing no one: %v", err)
	}

	// Nodes, live: a node added is where a new user goes; retired, its users move.
	n1, n2 := storageNode(t, server.Options{MasterSecret: "admin"}), storageNode(t, server.Options{MasterSecret: "admin"})
	if err := admin.AddNode(ctx, n1); err != nil {
		t.Fatal(err)
	}
	carol := login(t, ts.URL, "carol-secret")
	if !strings.HasPrefix(carol.endpoint, n1+"/") {
		t.Fatalf("a new user after nodes add: %s, want on %s", carol.endpoint, n1)
	}
	if err := admin.AddNode(ctx, n2); err != nil {
		t.Fatal(err)
	}
	if err := admin.RetireNode(ctx, n1); err != nil {
		t.Fatal(err)
	}
	if moved := login(t, ts.URL, "carol-secret"); !strings.HasPrefix(moved.endpoint, n2+"/") || moved.uid == carol.uid {
		t.Fatalf("after nodes retire: %s (uid %d), want a new uid on %s", moved.endpoint, moved.uid, n2)
	}
	nodes, err := admin.Nodes(ctx)
	byURL := map[string]server.NodeUsers{}
	for _, n := range nodes {
		byURL[n.URL] = n
	}
	if err != nil || len(nodes) != 2 || !byURL[n1].Retired || byURL[n1].Users != 0 || byURL[n2].Retired || byURL[n2].Users != 1 {
		t.Fatalf("nodes: %+v %v", nodes, err)
	}
	if err := admin.RetireNode(ctx, "https://nowhere.example"); !errors.Is(err, server.ErrNoSuchNode) {
		t.Errorf("retiring no node: %v", err)
	}
}

func tokenStatus(t *testing.T, base, secret string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/1.0/sync/1.5", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
