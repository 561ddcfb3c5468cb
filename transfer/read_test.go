package transfer_test

import (
	"context"
	"strings"
	"testing"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/transfer"
	"github.com/syncctl/syncctl/wbo"
)

func TestReadDecryptsAndSkipsTheUnreadable(t *testing.T) {
	t.Parallel()
	client, keys, _ := setup(t)
	ctx := context.Background()
	other, _ := crypto.GenerateKeys(nil)
	for i, kb := range []*crypto.KeyBundle{keys.For("notes"), other.For("notes"), keys.For("notes")} {
		rec, _ := kb.EncryptRecord(wbo.Record{ID: string(rune('a' + i)), Payload: []byte(map[int]string{0: `{"id":"a"}`, 1: `{"id":"b"}`, 2: `{"id":"c","n":1}`}[i])}, nil)
		if _, err := client.PutRecord(ctx, "notes", rec, nil); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	var unreadable []string
	err := transfer.Read(ctx, client, "notes", transfer.ReadOptions{Bundle: keys.For("notes"), Query: storage.Query{Sort: "oldest"},
		OnUnreadable: func(id string, err error) { unreadable = append(unreadable, id) }}, func(l transfer.Line) error {
		got = append(got, l.ID+"="+string(l.Payload))
		return nil
	})
	if err != nil || strings.Join(got, " ") != `a={"id":"a"} c={"id":"c","n":1}` || strings.Join(unreadable, ",") != "b" {
		t.Errorf("read %v, unreadable %v, %v", got, unreadable, err)
	}
}

func TestCheckAllFindsEveryBadRecord(t *testing.T) {
	t.Parallel()
	_, keys, _ := setup(t)
	in := `{"collection":"bookmarks","id":"aaaaaaaaaaaa","payload":{"id":"aaaaaaaaaaaa","type":"bookmark","parentid":"menu","bmkUri":"https://a.example"}}
{"collection":"bookmarks","id":"short","payload":{"id":"short","type":"bookmark","parentid":"menu","bmkUri":"https://a.example"}}
{"collection":"passwords","id":"{p}","payload":{"id":"{p}","hostname":"https://a.example","password":""}}
{"collection":"notes","id":"n1","payload":{"id":"n1","text":"` + strings.Repeat("x", 300_000) + `"}}
{"collection":"meta","id":"global","payload":{}}
{"collection":"forms","id":"f1","payload":{"id":"f1","name":"q","value":"v"}}
`
	res, err := transfer.CheckAll(transfer.ReadLines(strings.NewReader(in)), storage.Configuration{}, keys.For)
	if err != nil {
		t.Fatal(err)
	}
	if res.Bad != 3 || res.Skipped != 1 || res.Records["bookmarks"] != 1 || res.Records["forms"] != 1 || len(res.Problems) != 3 {
		t.Errorf("%+v", res)
	}
	if !strings.Contains(res.Problems[2].Error(), "too large for this server once encrypted") {
		t.Errorf("the large record: %v", res.Problems[2])
	}
	if _, err := transfer.CheckAll(transfer.ReadLines(strings.NewReader("not an export\n")), storage.Configuration{}, keys.For); err == nil {
		t.Error("a file that is not an export passed")
	}
}
