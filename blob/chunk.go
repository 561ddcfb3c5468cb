package blob

import (
	"encoding/base64"
	"fmt"
	"slices"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/internal/jsonscan"
	"github.com/syncctl/syncctl/wbo"
)

// A chunk record's cleartext, version 2, is binary, not JSON: base64 inside JSON inside
// a base64 ciphertext stored content at 1.78× its size; one base64 layer (the
// ciphertext's, which a string payload cannot avoid) stores it at 1.34×.
//
//	"SCC2" | len(id) (1 byte) | id | form (1 byte) | content, raw or zstd
//
// Storage format 5's HMAC covers the ciphertext, not the IV, so a changed IV garbles
// exactly the first 16 cleartext bytes: the magic, the length and the start of the id,
// all checked; the form byte is past them. Version 1 chunks ({"id":…,"data":base64})
// are still read.
const (
	chunkMagic     = "SCC2"
	maxChunkHeader = len(chunkMagic) + 1 + 255 + 1
	formRaw        = 0
	formZstd       = 1
)

var (
	zenc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
	zdec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecodeAllCapLimit(true), zstd.WithDecoderMaxMemory(64<<20))
)

// probeBytes: content whose first 32 KB do not shrink by a tenth is sent as it is, so
// incompressible data (photos, video, archives) costs one small trial, not a whole pass.
const probeBytes = 32 << 10

// compress returns data compressed, or nil when compressing would not pay.
func compress(data []byte, buf []byte) []byte {
	if len(data) < 256 {
		return nil
	}
	probe := data[:min(len(data), probeBytes)]
	if out := zenc.EncodeAll(probe, buf[:0]); len(out) > len(probe)*9/10 {
		return nil
	}
	out := zenc.EncodeAll(data, buf[:0])
	if len(out) >= len(data) {
		return nil
	}
	return out
}

// packPool holds the cleartext buffers of chunks being sealed (about a chunk each).
var packPool sync.Pool

// sealChunk encrypts data as chunk id in the version 2 form, compressed when that pays.
// zbuf is the caller's scratch for the compressed form, reused between chunks.
func sealChunk(kb *crypto.KeyBundle, id string, data []byte, zbuf *[]byte) (wbo.Record, error) {
	if len(id) > 255 {
		return wbo.Record{}, fmt.Errorf("blob: chunk id %q is too long", id)
	}
	body, form := data, byte(formRaw)
	if z := compress(data, *zbuf); z != nil {
		body, form, *zbuf = z, formZstd, z
	}
	p, _ := packPool.Get().(*[]byte)
	if p == nil {
		p = new([]byte)
	}
	clear := append((*p)[:0], chunkMagic...)
	clear = append(append(append(clear, byte(len(id))), id...), form)
	clear = append(clear, body...)
	payload, err := kb.Encrypt(clear, nil)
	*p = clear
	packPool.Put(p)
	if err != nil {
		return wbo.Record{}, fmt.Errorf("encrypt %q: %w", id, err)
	}
	return wbo.Record{ID: id, Payload: payload}, nil
}

// A chunkBuf holds a downloaded chunk: its cleartext, its content when that was
// compressed, and which of the two the content is. It is used again for a later chunk
// once this one is written: a fresh megabyte or two for each chunk cost a download page
// faults, zeroing and collection, about a tenth of its CPU.
type chunkBuf struct{ clear, unpacked, content []byte }

var chunkBufs = sync.Pool{New: func() any { return new(chunkBuf) }}

// maxPooledChunk: a chunkBuf grown past this (a record far larger than a chunk, which
// only a broken or hostile server sends) is left to the collector, not kept.
const maxPooledChunk = 8 << 20

// release gives b back to chunkBufs, unless it grew too large to keep.
func (b *chunkBuf) release() {
	if cap(b.clear)+cap(b.unpacked) <= maxPooledChunk {
		b.content = nil
		chunkBufs.Put(b)
	}
}

// openChunk verifies and decrypts a chunk record (either version) into b (nil: memory of
// its own) and returns its content, at most limit bytes. Any failure is ErrMAC: the
// record is not the chunk it says.
func openChunk(kb *crypto.KeyBundle, r wbo.Record, limit int, b *chunkBuf) ([]byte, error) {
	if b == nil {
		b = new(chunkBuf)
	}
	clear, err := kb.AppendDecrypt(b.clear[:0], r.Payload)
	if err != nil {
		return nil, macFailure(fmt.Errorf("decrypt %q: %w", r.ID, err))
	}
	b.clear = clear
	if len(clear) > 0 && clear[0] == '{' {
		if _, err := kb.DecryptRecord(r); err != nil { // version 1: the id is checked there
			return nil, macFailure(err)
		}
		b.content, err = openChunkV1(clear, limit)
		return b.content, err
	}
	b.content, err = parseChunkV2(clear, r.ID, limit, &b.unpacked)
	return b.content, err
}

// parseChunkV2 reads a version 2 cleartext of chunk id; compressed content is unpacked
// into *unpacked (nil: memory of its own).
func parseChunkV2(clear []byte, id string, limit int, unpacked *[]byte) ([]byte, error) {
	head := len(chunkMagic) + 1 + len(id) + 1
	if len(clear) < head || string(clear[:len(chunkMagic)]) != chunkMagic ||
		int(clear[len(chunkMagic)]) != len(id) || string(clear[len(chunkMagic)+1:head-1]) != id {
		return nil, fmt.Errorf("%w: chunk %s: not its record", ErrMAC, id)
	}
	body := clear[head:]
	switch clear[head-1] {
	case formRaw:
		if len(body) > limit {
			return nil, fmt.Errorf("%w: chunk %s: larger than the manifest's chunks", ErrMAC, id)
		}
		return body, nil
	case formZstd:
		if unpacked == nil {
			unpacked = new([]byte)
		}
		// Capacity exactly limit: DecodeAll (WithDecodeAllCapLimit) stops there.
		out, err := zdec.DecodeAll(body, slices.Grow((*unpacked)[:0], limit)[:0:limit])
		if err != nil {
			return nil, fmt.Errorf("%w: chunk %s: %v", ErrMAC, id, err)
		}
		*unpacked = out
		return out, nil
	}
	return nil, fmt.Errorf("%w: chunk %s: unknown form %d", ErrMAC, id, clear[head-1])
}

// openChunkV1 returns the content of a decrypted version 1 chunk payload.
func openChunkV1(payload []byte, limit int) ([]byte, error) {
	var data []byte
	found := false
	err := jsonscan.Object(payload, func(key, value []byte) error {
		if !jsonscan.Key(key, "data") {
			return nil
		}
		s, err := jsonscan.String(value)
		if err != nil {
			return err
		}
		if base64.StdEncoding.DecodedLen(len(s)) > limit+3 {
			return fmt.Errorf("larger than the manifest's chunks")
		}
		data, err = base64.StdEncoding.AppendDecode(make([]byte, 0, base64.StdEncoding.DecodedLen(len(s))), s)
		found = true
		return err
	})
	if err != nil || !found {
		return nil, fmt.Errorf("%w: chunk payload", ErrMAC)
	}
	return data, nil
}
