package transfer

import (
	"errors"
	"fmt"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/firefox"
	"github.com/syncctl/syncctl/repository/remote"
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/wbo"
)

// ErrUnsyncable is a record a sync could never upload to this server: too large once
// encrypted. It matches storage.ErrRecordTooLarge too.
var ErrUnsyncable = errors.New("transfer: too large for this server once encrypted")

// Check says whether a line may be written to the server: a record of its collection
// that Firefox would keep (firefox.Validate), and small enough once encrypted with
// bundle for a sync to upload it again (remote.Uploadable). A tool checks every record
// before it stores any, so that nothing lands that a sync would refuse for ever. It
// returns the record encrypted, ready to write.
func Check(cfg storage.Configuration, bundle *crypto.KeyBundle, l Line) (wbo.Record, error) {
	rec := l.Record()
	if err := firefox.Validate(l.Collection, l.ID, rec.Payload); err != nil {
		return wbo.Record{}, err
	}
	enc, err := bundle.EncryptRecord(rec, nil)
	if err != nil {
		return wbo.Record{}, fmt.Errorf("%s/%s: %w", l.Collection, l.ID, err)
	}
	if err := remote.Uploadable(cfg, enc); err != nil {
		return wbo.Record{}, fmt.Errorf("%w: %s/%s: %w", ErrUnsyncable, l.Collection, l.ID, err)
	}
	return enc, nil
}
