// Command genhistory writes an export of n history records (syncctl import reads it)
// to standard output, with ids scattered as Firefox's are (12 characters of base64url
// from random bits), the same records as synchronizer.BenchmarkFirstSync's.
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
)

func main() {
	n := flag.Int("n", 100_000, "records")
	flag.Parse()
	w := bufio.NewWriterSize(os.Stdout, 1<<16)
	for j := range *n {
		sum := sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(j)))
		id := base64.RawURLEncoding.EncodeToString(sum[:9])
		fmt.Fprintf(w, `{"collection":"history","id":%q,"payload":{"id":%q,"histUri":"https://example.com/page/%d","title":"Page %d","visits":[{"date":%d,"type":1}]}}`+"\n",
			id, id, j, j, 1700000000000000+int64(j))
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
