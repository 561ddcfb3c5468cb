package dirsync

import (
	"context"
	"errors"
	"fmt"

	"github.com/dustin/go-humanize"

	"github.com/syncctl/syncctl/storage"
)

// ErrNoSpace: a disk has less free space than a pull or a push would write to it.
var ErrNoSpace = errors.New("dirsync: not enough free space")

// SpaceError says where, and how much was needed and free. Nothing was written.
type SpaceError struct {
	Path       string
	Need, Free int64
}

func (e *SpaceError) Error() string {
	return fmt.Sprintf("dirsync: %s would need %s more, and has %s free", e.Path,
		humanize.Bytes(uint64(e.Need)), humanize.Bytes(uint64(max(e.Free, 0))))
}

func (e *SpaceError) Is(target error) bool { return target == ErrNoSpace }

// QuotaError: the account's quota on the server leaves less room than a push would
// store (its estimate: the content not on the server yet, base64-encoded, as chunk
// records). It matches storage.ErrOverQuota, as a server's refusal of a write over quota
// does. Nothing was sent.
type QuotaError struct {
	Need, Free int64 // bytes
}

func (e *QuotaError) Error() string {
	return fmt.Sprintf("dirsync: the push would store about %s on the server, and the account's quota leaves %s",
		humanize.Bytes(uint64(e.Need)), humanize.Bytes(uint64(max(e.Free, 0))))
}

func (e *QuotaError) Is(target error) bool { return target == storage.ErrOverQuota }

// quotaRoom checks that the server's quota, if it has one, leaves room for content bytes
// to go up as chunk records.
func (s *Syncer) quotaRoom(ctx context.Context, content int64, blobs int) error {
	if content == 0 {
		return nil
	}
	used, quota, err := s.opts.Blob.Client.InfoQuota(ctx)
	if err != nil || quota == nil {
		return err // no quota: nothing to check
	}
	// One base64 layer, and per chunk record (~600 KB or less) its envelope; per blob a
	// manifest.
	need := content*4/3 + (content/(512<<10)+int64(blobs))*400
	free := int64((*quota - used) * 1024)
	if need > free {
		return &QuotaError{Need: need, Free: free}
	}
	return nil
}

// room checks that each place has the bytes asked of it free, counting places on one
// filesystem together.
func (s *Syncer) room(need map[string]int64) error {
	free := s.opts.FreeSpace
	if free == nil {
		free = freeSpace
	}
	byDev := map[uint64]int64{}
	first := map[uint64]string{}
	for path, n := range need {
		d := device(path)
		byDev[d] += n
		if _, ok := first[d]; !ok {
			first[d] = path
		}
	}
	for d, n := range byDev {
		if n <= 0 {
			continue
		}
		path := first[d]
		have, err := free(path)
		if errors.Is(err, errors.ErrUnsupported) {
			continue // a system whose free space this build cannot read: not checked
		}
		if err != nil {
			return err
		}
		if have < n+spaceMargin {
			return &SpaceError{Path: path, Need: n, Free: have}
		}
	}
	return nil
}

// spaceMargin is kept free beyond what a transfer needs: the local index, temp files,
// and whatever else writes there meanwhile.
const spaceMargin = 16 << 20
