package conformance_test

import (
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/wbo"
)

func storageOptions() storage.Options { return storage.Options{} }

func wboRecord(id string) wbo.Record { return wbo.Record{ID: id, Payload: []byte("x")} }
