package remote

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/syncctl/syncctl/repository"
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/wbo"
)

func recs(n, size int) []wbo.Record {
	out := make([]wbo.Record, n)
	for i := range out {
		out[i] = wbo.Record{ID: fmt.Sprintf("r%04d", i), Payload: []byte(strings.Repeat("x", size))}
	}
	return out
}

func TestPlanRespectsEveryLimit(t *testing.T) {
	t.Parallel()
	l := limits{postRecords: 10, postBytes: 1000, requestBytes: 1300, totalRecords: 25, totalBytes: 1 << 20, recordPayload: 600}
	var res repository.StoreResult
	in := append(recs(60, 90), wbo.Record{ID: "huge", Payload: make([]byte, 700)})
	batches := plan(in, l, &res)
	n := 0
	for _, b := range batches {
		bRecs := 0
		for _, p := range b {
			var body []byte
			for _, r := range p.recs {
				body = append(r.AppendJSON(body), ',')
			}
			if len(p.recs) > 10 || p.payloadBytes > 1000 || int64(len(body)+1) > l.requestBytes {
				t.Errorf("a POST of %d records, %d bytes, %d body bytes", len(p.recs), p.payloadBytes, len(body)+1)
			}
			bRecs += len(p.recs)
		}
		if bRecs > 25 {
			t.Errorf("a batch of %d records", bRecs)
		}
		n += bRecs
	}
	if n != 60 || !errors.Is(res.Failed["huge"], storage.ErrRecordTooLarge) {
		t.Errorf("planned %d, failed %v", n, res.Failed)
	}
}
