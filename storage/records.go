package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/syncctl/syncctl/wbo"
)

func itemPath(collection, id string) string {
	return "/storage/" + url.PathEscape(collection) + "/" + url.PathEscape(id)
}

func precondition(ifUnmodifiedSince *wbo.Timestamp) map[string]string {
	if ifUnmodifiedSince == nil {
		return nil
	}
	return map[string]string{"X-If-Unmodified-Since": ifUnmodifiedSince.String()}
}

// Since returns a pointer for the IfUnmodifiedSince arguments (0 means "only if absent").
func Since(ts wbo.Timestamp) *wbo.Timestamp { return &ts }

// GetRecord fetches one record (ErrNotFound when absent).
func (c *Client) GetRecord(ctx context.Context, collection, id string) (wbo.Record, error) {
	rep, err := c.do(ctx, call{method: http.MethodGet, path: itemPath(collection, id)})
	if err != nil {
		return wbo.Record{}, err
	}
	return wbo.Decode(rep.body)
}

// PutRecord writes one record and returns the server's new timestamp. With
// ifUnmodifiedSince, a newer record on the server makes it fail with ErrConflict.
func (c *Client) PutRecord(ctx context.Context, collection string, rec wbo.Record, ifUnmodifiedSince *wbo.Timestamp) (wbo.Timestamp, error) {
	rec.Modified = 0
	rep, err := c.do(ctx, call{method: http.MethodPut, path: itemPath(collection, rec.ID), body: rec.AppendJSON(nil), header: precondition(ifUnmodifiedSince)})
	if err != nil {
		return 0, err
	}
	return lastModified(rep), nil
}

// DeleteRecord deletes one record (ErrNotFound when absent).
func (c *Client) DeleteRecord(ctx context.Context, collection, id string, ifUnmodifiedSince *wbo.Timestamp) (wbo.Timestamp, error) {
	rep, err := c.do(ctx, call{method: http.MethodDelete, path: itemPath(collection, id), header: precondition(ifUnmodifiedSince)})
	if err != nil {
		return 0, err
	}
	return lastModified(rep), nil
}

// DeleteRecords deletes the given ids, 100 per request. It returns the last timestamp.
func (c *Client) DeleteRecords(ctx context.Context, collection string, ids []string, ifUnmodifiedSince *wbo.Timestamp) (wbo.Timestamp, error) {
	var ts wbo.Timestamp
	for len(ids) > 0 {
		n := min(len(ids), maxIDsPerRequest)
		q := url.Values{"ids": {strings.Join(ids[:n], ",")}}
		rep, err := c.do(ctx, call{method: http.MethodDelete, path: "/storage/" + url.PathEscape(collection) + "?" + q.Encode(), header: precondition(ifUnmodifiedSince)})
		if err != nil {
			return ts, err
		}
		ts = lastModified(rep)
		if ifUnmodifiedSince != nil {
			ifUnmodifiedSince = Since(ts) // our own delete moved the collection on
		}
		ids = ids[n:]
	}
	return ts, nil
}

// DeleteCollection deletes a whole collection.
func (c *Client) DeleteCollection(ctx context.Context, collection string, ifUnmodifiedSince *wbo.Timestamp) error {
	_, err := c.do(ctx, call{method: http.MethodDelete, path: "/storage/" + url.PathEscape(collection), header: precondition(ifUnmodifiedSince)})
	return err
}

// DeleteAll deletes every collection of the user (a fresh start's first step).
func (c *Client) DeleteAll(ctx context.Context) error {
	_, err := c.do(ctx, call{method: http.MethodDelete, path: "/storage"})
	return err
}

// PostOptions control one POST.
type PostOptions struct {
	// Batch is "" for no batch, "true" to open one, or an id from an earlier answer.
	Batch  string
	Commit bool
	// IfUnmodifiedSince makes the POST fail with ErrConflict if the collection moved on.
	IfUnmodifiedSince *wbo.Timestamp
	// TotalRecords and TotalBytes, when > 0, announce the whole batch up front
	// (X-Weave-Total-*), so a server can refuse it before anything is staged.
	TotalRecords, TotalBytes int64
}

// PostResult is the server's answer to a POST.
type PostResult struct {
	Status   int
	Modified wbo.Timestamp // the write's timestamp; 0 for a staged (202) batch part
	Batch    string        // the batch id, when a batch was opened or appended to
	Success  []string
	Failed   map[string]string
}

// Post uploads records in one request. Records absent from both Success and Failed must
// be treated as failed (the spec says so).
func (c *Client) Post(ctx context.Context, collection string, recs []wbo.Record, opts PostOptions) (PostResult, error) {
	body := make([]byte, 0, 256*len(recs)+2)
	body = append(body, '[')
	var payloadBytes int
	for i := range recs {
		if i > 0 {
			body = append(body, ',')
		}
		r := recs[i]
		r.Modified = 0
		body = r.AppendJSON(body)
		payloadBytes += len(r.Payload)
	}
	body = append(body, ']')
	q := url.Values{}
	if opts.Batch != "" {
		q.Set("batch", opts.Batch)
	}
	if opts.Commit {
		q.Set("commit", "true")
	}
	path := "/storage/" + url.PathEscape(collection)
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	h := map[string]string{"X-Weave-Records": fmt.Sprint(len(recs)), "X-Weave-Bytes": fmt.Sprint(payloadBytes)}
	if opts.IfUnmodifiedSince != nil {
		h["X-If-Unmodified-Since"] = opts.IfUnmodifiedSince.String()
	}
	if opts.TotalRecords > 0 {
		h["X-Weave-Total-Records"] = fmt.Sprint(opts.TotalRecords)
	}
	if opts.TotalBytes > 0 {
		h["X-Weave-Total-Bytes"] = fmt.Sprint(opts.TotalBytes)
	}
	rep, err := c.do(ctx, call{method: http.MethodPost, path: path, body: body, header: h})
	if err != nil {
		return PostResult{}, err
	}
	var raw struct {
		Modified wbo.Timestamp              `json:"modified"`
		Batch    string                     `json:"batch"`
		Success  []string                   `json:"success"`
		Failed   map[string]json.RawMessage `json:"failed"`
	}
	if err := json.Unmarshal(rep.body, &raw); err != nil {
		return PostResult{}, fmt.Errorf("storage: POST %s: bad answer: %w", collection, err)
	}
	res := PostResult{Status: rep.status, Modified: raw.Modified, Batch: raw.Batch, Success: raw.Success, Failed: make(map[string]string, len(raw.Failed))}
	for id, reason := range raw.Failed {
		// syncstorage-rs sends a string, go-syncstorage a list of strings.
		var s string
		var list []string
		if json.Unmarshal(reason, &s) != nil && json.Unmarshal(reason, &list) == nil {
			s = strings.Join(list, "; ")
		}
		res.Failed[id] = s
	}
	if res.Modified == 0 && rep.status == http.StatusOK {
		res.Modified = lastModified(rep)
	}
	return res, nil
}
