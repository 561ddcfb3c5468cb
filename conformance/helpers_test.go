package conformance_test

import (
	"flag"
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/wbo"
)

func storageOptions() storage.Options { return storage.Options{} }

func wboRecord(id string) wbo.Record { return wbo.Record{ID: id, Payload: []byte("x")} }

// TestMain lets more of this package's tests run at once than there are cores (the
// default of -parallel): they spend most of their time waiting on the server's clock
// (TTLs, token expiry, the cases' one-second steps), not computing. An explicit
// -parallel wins.
func TestMain(m *testing.M) {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		flag.Set("test.parallel", strconv.Itoa(3*runtime.GOMAXPROCS(0)))
	}
	os.Exit(m.Run())
}
