package crypto_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/wbo"
)

// Records are encrypted with their collection's key bundle from crypto/keys; the
// account's own key (kB) only opens crypto/keys itself.
func Example() {
	kB := make([]byte, 32) // from Firefox Accounts; the same on every device
	syncKey, _ := crypto.SyncKeyBundle(kB)
	keys, _ := crypto.GenerateKeys(nil)                  // a new account's crypto/keys
	keysRecord, _ := keys.Record(syncKey, nil)           // stored on the server as crypto/keys
	opened, _ := crypto.DecryptKeys(keysRecord, syncKey) // on another device

	rec := wbo.Record{ID: "n1", Payload: []byte(`{"id":"n1","text":"hi"}`)}
	sealed, _ := keys.For("notes").EncryptRecord(rec, nil) // what the server holds
	clear, err := opened.For("notes").DecryptRecord(sealed)
	fmt.Println(string(clear.Payload), err)

	var env map[string]string // {"ciphertext", "IV", "hmac"}
	json.Unmarshal(sealed.Payload, &env)
	env["hmac"] = strings.Repeat("0", 64) // changed on the way
	sealed.Payload, _ = json.Marshal(env)
	_, err = opened.For("notes").DecryptRecord(sealed)
	fmt.Println(errors.Is(err, crypto.ErrHMACMismatch))
	// Output:
	// {"id":"n1","text":"hi"} <nil>
	// true
}
