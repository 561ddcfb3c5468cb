package server_test

import (
	"net/url"
	"strconv"
	"testing"

	"github.com/syncctl/syncctl/server"
)

// storageNode is a server used as a storage node only: it shares the token server's
// master secret and knows no users.
func storageNode(t *testing.T, opts server.Options) string {
	t.Helper()
	opts.MasterSecret, opts.Users = "nodes", map[string]string{"nobody": "nobody-secret"}
	_, ts := startServer(t, opts)
	return ts.URL
}

func nodeOf(t *testing.T, c *client) string {
	t.Helper()
	u, err := url.Parse(c.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	return u.Scheme + "://" + u.Host
}

// The token endpoint spreads users over storage nodes as Mozilla's tokenserver does: a
// new user goes to the node with the fewest users and stays there; their records live
// on that node alone. A node taken off the list is retired: its users move, at their
// next token request, to a node in service under a new uid with fresh storage, while
// the others stay put; the retired node answers 401, which sends clients for a token.
func TestTheTokenServerSpreadsUsersOverNodes(t *testing.T) {
	t.Parallel()
	a, b := storageNode(t, server.Options{}), storageNode(t, server.Options{})
	dir := t.TempDir()
	users := map[string]string{"u1": "u1-secret", "u2": "u2-secret", "u3": "u3-secret", "u4": "u4-secret"}
	_, front := startServer(t, server.Options{DataDir: dir, MasterSecret: "nodes", Users: users, Nodes: []string{a, b + "/"}})

	at := map[string]*client{}
	count := map[string]int{}
	for _, u := range []string{"u1", "u2", "u3", "u4"} {
		c := login(t, front.URL, u+"-secret")
		at[u] = c
		count[nodeOf(t, c)]++
		c.mustStatus(c.do("PUT", "/storage/bookmarks/r1", `{"payload":"`+u+`"}`), 200)
	}
	if count[a] != 2 || count[b] != 2 {
		t.Fatalf("users per node: %v, want 2 on each of %s and %s", count, a, b)
	}
	for u, c := range at {
		again := login(t, front.URL, u+"-secret")
		if again.uid != c.uid || nodeOf(t, again) != nodeOf(t, c) {
			t.Fatalf("%s moved from %s (uid %d) to %s (uid %d) with nothing retired", u, c.endpoint, c.uid, again.endpoint, again.uid)
		}
		// The record is on the user's node, and not on the other.
		other := a
		if nodeOf(t, c) == a {
			other = b
		}
		if r := c.doURL("GET", other+"/1.5/"+strconv.FormatInt(c.uid, 10)+"/storage/bookmarks/r1", ""); r.status != 404 {
			t.Fatalf("%s's record on the other node: %d", u, r.status)
		}
	}

	// Retire b: the token server now lists a and a new node c, and b answers 401.
	c := storageNode(t, server.Options{})
	_, front = startServer(t, server.Options{DataDir: dir, MasterSecret: "nodes", Users: users, Nodes: []string{a, c}})
	_, retiredB := startServer(t, server.Options{MasterSecret: "nodes", Users: users, Retired: true})
	for u, old := range at {
		moved := login(t, front.URL, u+"-secret")
		switch nodeOf(t, old) {
		case a:
			if moved.uid != old.uid || nodeOf(t, moved) != a {
				t.Errorf("%s on a node in service moved: %s → %s", u, old.endpoint, moved.endpoint)
			}
		case b:
			if moved.uid == old.uid || nodeOf(t, moved) != c {
				t.Errorf("%s on the retired node: %s → %s, want a new uid on %s", u, old.endpoint, moved.endpoint, c)
			}
			var colls map[string]float64
			moved.mustStatus(moved.do("GET", "/info/collections", ""), 200).json(t, &colls)
			if len(colls) != 0 {
				t.Errorf("%s's new storage is not fresh: %v", u, colls)
			}
			if r := old.doURL("GET", retiredB.URL+"/1.5/"+strconv.FormatInt(old.uid, 10)+"/info/collections", ""); r.status != 401 {
				t.Errorf("a retired node answered %d, want 401", r.status)
			}
		}
	}
}
