package blob_test

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/syncctl/syncctl/blob"
	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/server"
	"github.com/syncctl/syncctl/storage"
)

// A file goes up from one device as encrypted chunks and arrives, verified, on another.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "blob-example")
	defer os.RemoveAll(dir)
	srv, _ := server.New(server.Options{DataDir: filepath.Join(dir, "server"), Users: map[string]string{"alice": "alice-secret"}})
	defer srv.Close()
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	secret := func(context.Context) (string, error) { return "alice-secret", nil }
	client := storage.New(storage.Options{Tokens: &storage.TokenServer{URL: hs.URL, Bearer: secret}})
	keys, _ := crypto.GenerateKeys(nil) // the account's crypto/keys
	os.WriteFile(filepath.Join(dir, "photo.jpg"), []byte("not really a photo"), 0o600)

	st, _ := blob.Open(filepath.Join(dir, "laptop-blobs"), keys.For("blobs"))
	defer st.Close()
	id, _, _ := st.AddFile(ctx, filepath.Join(dir, "photo.jpg")) // PENDING_UPLOAD
	s := blob.NewSyncer(blob.Options{Store: st, Client: client, Keys: keys, TransferLimit: 4})
	res, _ := s.Sync(ctx) // list the server's, mark, transfer

	phone, _ := blob.Open(filepath.Join(dir, "phone-blobs"), keys.For("blobs"))
	defer phone.Close()
	got, _ := blob.NewSyncer(blob.Options{Store: phone, Client: client, Keys: keys}).Sync(ctx)
	f, _ := phone.Open(ctx, id)
	defer f.Close()
	content, _ := io.ReadAll(f)
	fmt.Printf("uploaded %d, downloaded %d: %s\n", res.Uploaded, got.Downloaded, content)
	// Output: uploaded 1, downloaded 1: not really a photo
}
