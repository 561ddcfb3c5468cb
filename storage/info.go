package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/syncctl/syncctl/wbo"
)

// Configuration is info/configuration. Fields a server leaves out are filled by
// WithDefaults.
type Configuration struct {
	MaxRequestBytes       int64 `json:"max_request_bytes"`
	MaxPostRecords        int64 `json:"max_post_records"`
	MaxPostBytes          int64 `json:"max_post_bytes"`
	MaxTotalRecords       int64 `json:"max_total_records"`
	MaxTotalBytes         int64 `json:"max_total_bytes"`
	MaxRecordPayloadBytes int64 `json:"max_record_payload_bytes"`
}

// unlimited stands for a limit the server does not state.
const unlimited = int64(1) << 62

// WithDefaults fills absent limits as application-services does: 260 KiB requests,
// 256 KiB payloads, the rest unlimited.
func (c Configuration) WithDefaults() Configuration {
	set := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	set(&c.MaxRequestBytes, 260*1024)
	set(&c.MaxRecordPayloadBytes, 256*1024)
	set(&c.MaxPostRecords, unlimited)
	set(&c.MaxPostBytes, unlimited)
	set(&c.MaxTotalRecords, unlimited)
	set(&c.MaxTotalBytes, unlimited)
	return c
}

func lastModified(rep *reply) wbo.Timestamp {
	ts, _ := wbo.ParseTimestamp(rep.header.Get("X-Last-Modified"))
	return ts
}

func (c *Client) getJSON(ctx context.Context, path string, header map[string]string, v any) (*reply, error) {
	rep, err := c.do(ctx, call{method: http.MethodGet, path: path, header: header})
	if err != nil {
		return nil, err
	}
	if rep.status == http.StatusNotModified {
		return rep, nil
	}
	if err := json.Unmarshal(rep.body, v); err != nil {
		return nil, fmt.Errorf("storage: GET %s: bad JSON: %w", path, err)
	}
	return rep, nil
}

// Configuration returns the server's limits with defaults filled in; a server that has
// no info/configuration (404) gets all defaults.
func (c *Client) Configuration(ctx context.Context) (Configuration, error) {
	var cfg Configuration
	_, err := c.getJSON(ctx, "/info/configuration", nil, &cfg)
	if errors.Is(err, ErrNotFound) {
		return Configuration{}.WithDefaults(), nil
	}
	return cfg.WithDefaults(), err
}

// InfoCollections returns each collection's last-modified time and the storage's. With
// ifModifiedSince > 0 and nothing newer, it returns (nil, ts, nil) from a 304.
func (c *Client) InfoCollections(ctx context.Context, ifModifiedSince wbo.Timestamp) (map[string]wbo.Timestamp, wbo.Timestamp, error) {
	var h map[string]string
	if ifModifiedSince > 0 {
		h = map[string]string{"X-If-Modified-Since": ifModifiedSince.String()}
	}
	var out map[string]wbo.Timestamp
	rep, err := c.getJSON(ctx, "/info/collections", h, &out)
	if err != nil {
		return nil, 0, err
	}
	return out, lastModified(rep), nil
}

// InfoCollectionCounts returns the number of live records per collection.
func (c *Client) InfoCollectionCounts(ctx context.Context) (map[string]int64, error) {
	var out map[string]int64
	_, err := c.getJSON(ctx, "/info/collection_counts", nil, &out)
	return out, err
}

// InfoCollectionUsage returns KiB of payload per collection.
func (c *Client) InfoCollectionUsage(ctx context.Context) (map[string]float64, error) {
	var out map[string]float64
	_, err := c.getJSON(ctx, "/info/collection_usage", nil, &out)
	return out, err
}

// InfoQuota returns KiB used and the quota in KiB (nil: no quota).
func (c *Client) InfoQuota(ctx context.Context) (used float64, quota *float64, err error) {
	var out []*float64
	if _, err := c.getJSON(ctx, "/info/quota", nil, &out); err != nil {
		return 0, nil, err
	}
	if len(out) != 2 || out[0] == nil {
		return 0, nil, errors.New("storage: info/quota: want [used, quota]")
	}
	return *out[0], out[1], nil
}
