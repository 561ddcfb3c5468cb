package firefox_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/syncctl/syncctl/firefox"
	"github.com/syncctl/syncctl/fixtures"
)

func same(t *testing.T, a, b []byte) {
	t.Helper()
	var x, y any
	json.Unmarshal(a, &x)
	json.Unmarshal(b, &y)
	if !reflect.DeepEqual(x, y) {
		t.Errorf("round trip changed\n%s\ninto\n%s", a, b)
	}
}

func TestRecordsRoundTripKeepingUnknownFields(t *testing.T) {
	t.Parallel()
	v := fixtures.Load()
	bm := []byte(v.Bookmark5d.Cleartext)
	b, err := firefox.Parse[firefox.Bookmark](bm)
	if err != nil || b.Title != "Customize Firefox" || b.ParentID != "HAZiMFYmygep" {
		t.Fatalf("%+v %v", b, err)
	}
	out, _ := firefox.Encode(b)
	same(t, bm, out) // description, loadInSidebar and the null keyword are kept

	// Handed over, the cleartext becomes the record's: the same record, the same bytes out.
	owned, err := firefox.ParseOwned[firefox.Bookmark]([]byte(v.Bookmark5d.Cleartext))
	ownedFields, fields := *owned, *b
	ownedFields.Raw, fields.Raw = firefox.Raw{}, firefox.Raw{}
	if err != nil || !reflect.DeepEqual(ownedFields, fields) || len(owned.Raw.Members()) != len(b.Raw.Members()) {
		t.Fatalf("ParseOwned: %+v %v, Parse gave %+v", owned, err, b)
	}
	if again, _ := firefox.Encode(owned); string(again) != string(out) {
		t.Errorf("ParseOwned encodes as\n%s\nParse as\n%s", again, out)
	}

	hist := []byte(v.Chain5c.HistoryCleartext)
	h, err := firefox.Parse[firefox.History](hist)
	if err != nil || len(h.Visits) != 1 || h.Visits[0].Type != 1 {
		t.Fatalf("%+v %v", h, err)
	}
	out, _ = firefox.Encode(h)
	same(t, hist, out)

	login := []byte(`{"id":"l1","hostname":"https://a","formSubmitURL":"","username":"u","password":"p","usernameField":"","passwordField":"","timeLastBreachAlertDismissed":5,"newerFirefoxField":{"x":[1,2]}}`)
	l, err := firefox.Parse[firefox.Login](login)
	if err != nil || l.Raw.Member("timeLastBreachAlertDismissed") == nil {
		t.Fatalf("%+v %v", l, err)
	}
	l.Password = "changed"
	out, _ = firefox.Encode(l)
	var m map[string]any
	json.Unmarshal(out, &m)
	if m["password"] != "changed" || m["newerFirefoxField"] == nil || m["timeLastBreachAlertDismissed"] != 5.0 {
		t.Errorf("%s", out)
	}
	for _, raw := range []string{
		`{"id":"f","name":"q","value":"v","extra":true}`,
		`{"id":"c","clientName":"Phone","tabs":[{"title":"t","urlHistory":["u"],"icon":null,"lastUsed":"1500000000"}],"tabGroups":{}}`,
		// Firefox 153's tabs carry index and windowId (seen in interop/firefox).
		`{"id":"c","clientName":"Firefox","tabs":[{"title":"","urlHistory":["http://127.0.0.1/"],"icon":"","lastUsed":1796167319,"index":1,"windowId":"window-0","inactive":false}]}`,
		`{"id":"e2VjODAzMGY3LWMyMGEtNDY0Zi05YjBlLTEzYTNhOWU5NzM4NH0=","value":{"browser.startup.page":1,"x":null}}`,
		`{"id":"a","addonID":"x@y","applicationID":"{ec8030f7}","enabled":true,"source":"amo","newField":1}`,
	} {
		var out []byte
		switch {
		case json.Valid([]byte(raw)) && raw[7] == 'f':
			r, _ := firefox.Parse[firefox.FormEntry]([]byte(raw))
			out, _ = firefox.Encode(r)
		case raw[7] == 'c':
			r, _ := firefox.Parse[firefox.Tabs]([]byte(raw))
			out, _ = firefox.Encode(r)
		case raw[7] == 'e':
			r, _ := firefox.Parse[firefox.Prefs]([]byte(raw))
			out, _ = firefox.Encode(r)
		default:
			r, _ := firefox.Parse[firefox.Addon]([]byte(raw))
			out, _ = firefox.Encode(r)
		}
		same(t, []byte(raw), out)
	}
}
