package crypto

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/syncctl/syncctl/internal/jsonscan"
)

// Encrypt seals cleartext into a payload {"ciphertext":b64,"IV":b64,"hmac":hex} with a
// fresh random IV; rnd may be nil for crypto/rand.
func (kb *KeyBundle) Encrypt(cleartext []byte, rnd io.Reader) ([]byte, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	return kb.seal(cleartext, nil, rnd)
}

// EncryptWithIV is Encrypt with a chosen IV. Reusing an IV leaks equality of prefixes:
// use it for test vectors only.
func (kb *KeyBundle) EncryptWithIV(cleartext, iv []byte) ([]byte, error) {
	if len(iv) != aes.BlockSize {
		return nil, fmt.Errorf("%w: IV is %d bytes", ErrMalformedPayload, len(iv))
	}
	return kb.seal(cleartext, iv, nil)
}

// seal encrypts with iv, or with an IV read from rnd when iv is nil.
func (kb *KeyBundle) seal(cleartext, iv []byte, rnd io.Reader) ([]byte, error) {
	pad := aes.BlockSize - len(cleartext)%aes.BlockSize
	ctLen := len(cleartext) + pad
	b64Len := base64.StdEncoding.EncodedLen(ctLen)

	const (
		head   = `{"ciphertext":"`
		ivKey  = `","IV":"`
		macKey = `","hmac":"`
		tail   = `"}`
	)
	ivB64Len := base64.StdEncoding.EncodedLen(aes.BlockSize)
	out := make([]byte, 0, len(head)+b64Len+len(ivKey)+ivB64Len+len(macKey)+2*sha256.Size+len(tail))
	// The raw ciphertext and a random IV are scratch, from a pool: a record's only
	// allocation is then the payload it returns.
	scratch := sealScratch.Get().(*[]byte)
	defer func() {
		if cap(*scratch) <= 2<<20 {
			sealScratch.Put(scratch)
		}
	}()
	*scratch = slices.Grow((*scratch)[:0], ctLen+aes.BlockSize)[:ctLen+aes.BlockSize]
	buf := (*scratch)[:ctLen]
	if iv == nil {
		iv = (*scratch)[ctLen:]
		if _, err := io.ReadFull(rnd, iv); err != nil {
			return nil, fmt.Errorf("crypto: random IV: %w", err)
		}
	}
	copy(buf, cleartext)
	for i := len(cleartext); i < ctLen; i++ {
		buf[i] = byte(pad)
	}
	if kb.ni != nil {
		kb.ni.encrypt((*[aes.BlockSize]byte)(iv), buf)
	} else {
		cbcEncrypt(kb.block, iv, buf)
	}

	out = append(out, head...)
	ctStart := len(out)
	out = appendBase64(out, buf)
	ctB64 := out[ctStart:]
	out = append(out, ivKey...)
	out = base64.StdEncoding.AppendEncode(out, iv)
	out = append(out, macKey...)
	var mac [sha256.Size]byte
	kb.hmacOf(ctB64, &mac)
	out = hex.AppendEncode(out, mac[:])
	out = append(out, tail...)
	return out, nil
}

// sealScratch holds buffers of the size of a cleartext, for seal. One that grew past
// 2 MB (more than a blob chunk) is not kept. (*[]byte: a slice in an interface allocates.)
var sealScratch = sync.Pool{New: func() any { return new([]byte) }}

// Decrypt verifies and opens a payload. The HMAC is checked, in constant time, before any
// decryption: a payload that fails it yields ErrHMACMismatch and nothing else is done.
func (kb *KeyBundle) Decrypt(payload []byte) ([]byte, error) {
	return kb.AppendDecrypt(nil, payload)
}

// AppendDecrypt is Decrypt that appends the cleartext to dst and returns the extended
// slice, for a caller that reuses buffers: a blob download opens a megabyte per chunk,
// and a fresh one each time cost it page faults, zeroing and collection (a tenth of its
// CPU). On error dst's contents are unchanged, though its spare capacity may be written.
func (kb *KeyBundle) AppendDecrypt(dst, payload []byte) ([]byte, error) {
	if ctB64, ivB64, macHex, ok := splitAsWritten(payload); ok {
		if out, err := kb.open(dst, ctB64, ivB64, macHex, true); err == nil {
			return out, nil
		}
		// Whatever failed, the JSON parse below gives the verdict: this payload's
		// error is the one it would have had without the shortcut. (A forged payload
		// so costs its MAC twice: bounded, and the MAC is what a forger can make us do.)
	}
	ctB64, ivB64, macHex, err := splitPayload(payload)
	if err != nil {
		return nil, err
	}
	return kb.open(dst, ctB64, ivB64, macHex, false)
}

// Envelope members as seal, Firefox and the other clients write them.
const (
	envHead   = `{"ciphertext":"`
	envIV     = `","IV":"`
	envHMAC   = `","hmac":"`
	envTail   = `"}`
	envMinLen = len(envHead) + len(envIV) + len(envHMAC) + len(envTail)
)

// splitAsWritten finds the three strings of an envelope written exactly as seal writes
// it, {"ciphertext":"…","IV":"…","hmac":"…"} and nothing else, by their quotes alone
// (bytes.IndexByte), where splitPayload's JSON scan reads every byte: a blob chunk's
// ciphertext is megabytes, and scanning a bookmark's envelope was a tenth of reading it.
//
// The strings are not checked to be JSON here. Decrypt opens them with strict base64
// (decodeStrictBase64) and hex, which accept nothing but their own characters, so
// strings that open are JSON strings with no escapes, and splitPayload would have found
// the same. A payload they do not open is parsed again by splitPayload, so that its
// error is the one splitPayload and open give.
func splitAsWritten(payload []byte) (ct, iv, mac []byte, ok bool) {
	if len(payload) < envMinLen || string(payload[:len(envHead)]) != envHead || string(payload[len(payload)-len(envTail):]) != envTail {
		return nil, nil, nil, false
	}
	rest := payload[len(envHead) : len(payload)-len(envTail)]
	q := bytes.IndexByte(rest, '"')
	if q < 0 || !bytes.HasPrefix(rest[q:], []byte(envIV)) {
		return nil, nil, nil, false
	}
	ct, rest = rest[:q], rest[q+len(envIV):]
	if q = bytes.IndexByte(rest, '"'); q < 0 || !bytes.HasPrefix(rest[q:], []byte(envHMAC)) {
		return nil, nil, nil, false
	}
	iv, mac = rest[:q], rest[q+len(envHMAC):]
	if bytes.IndexByte(mac, '"') >= 0 {
		return nil, nil, nil, false
	}
	return ct, iv, mac, true
}

// open checks the MAC of a payload's three strings, then decrypts, appending the
// cleartext to dst; strict: base64 with a line break is refused (decodeStrictBase64).
func (kb *KeyBundle) open(dst, ctB64, ivB64, macHex []byte, strict bool) ([]byte, error) {
	// A closure called where it is made: a decoder passed in as a func value moved
	// the IV to the heap, an allocation per record.
	decode := func(dst, src []byte) (int, error) {
		if strict {
			return decodeStrictBase64(dst, src)
		}
		return decodeBase64(dst, src)
	}
	var want, got [sha256.Size]byte
	if hex.DecodedLen(len(macHex)) != sha256.Size {
		return nil, fmt.Errorf("%w: hmac is %d hex digits", ErrMalformedPayload, len(macHex))
	}
	// Uppercase hex is accepted, as application-services does; we always write lowercase.
	if _, err := hex.Decode(want[:], macHex); err != nil {
		return nil, fmt.Errorf("%w: hmac is not hex", ErrMalformedPayload)
	}
	kb.hmacOf(ctB64, &got)
	if !hmac.Equal(want[:], got[:]) {
		return nil, ErrHMACMismatch
	}

	// 16 bytes are exactly 24 base64 characters; checking the length first also keeps
	// Decode within the buffer.
	var iv [aes.BlockSize + 2]byte
	if len(ivB64) != base64.StdEncoding.EncodedLen(aes.BlockSize) {
		return nil, fmt.Errorf("%w: IV is not 16 bytes of base64", ErrMalformedPayload)
	}
	if n, err := decode(iv[:], ivB64); err != nil || n != aes.BlockSize {
		return nil, fmt.Errorf("%w: IV is not 16 bytes of base64", ErrMalformedPayload)
	}
	out := slices.Grow(dst, base64.StdEncoding.DecodedLen(len(ctB64)))
	ct := out[len(dst):cap(out)]
	n, err := decode(ct, ctB64)
	if err != nil {
		return nil, fmt.Errorf("%w: ciphertext is not base64", ErrMalformedPayload)
	}
	ct = ct[:n]
	if n == 0 || n%aes.BlockSize != 0 {
		return nil, fmt.Errorf("%w: ciphertext is %d bytes, not whole blocks", ErrMalformedPayload, n)
	}
	if kb.ni != nil {
		kb.ni.decrypt((*[aes.BlockSize]byte)(iv[:aes.BlockSize]), ct)
	} else {
		cbcDecrypt(kb.block, iv[:aes.BlockSize], ct)
	}
	pad := int(ct[n-1])
	if pad == 0 || pad > aes.BlockSize {
		return nil, ErrBadPadding
	}
	for _, b := range ct[n-pad:] {
		if int(b) != pad {
			return nil, ErrBadPadding
		}
	}
	return out[:len(dst)+n-pad], nil
}

// cbcEncrypt and cbcDecrypt are AES-CBC in place over whole blocks, block by block as
// the standard library does it here too: cipher.NewCBCEncrypter and NewCBCDecrypter copy
// the whole key schedule (about 500 bytes) into a new value for every record, which was
// the largest allocation of a sync. Both are checked against the standard library's.
// Where the CPU has AES-NI, decryption goes eight blocks at once instead (cbc_amd64.s).
func cbcEncrypt(b cipher.Block, iv, buf []byte) {
	prev := iv
	for i := 0; i < len(buf); i += aes.BlockSize {
		blk := buf[i : i+aes.BlockSize]
		subtle.XORBytes(blk, blk, prev)
		b.Encrypt(blk, blk)
		prev = blk
	}
}

func cbcDecrypt(b cipher.Block, iv, buf []byte) {
	var prev, cur [aes.BlockSize]byte
	copy(prev[:], iv)
	for i := 0; i < len(buf); i += aes.BlockSize {
		blk := buf[i : i+aes.BlockSize]
		copy(cur[:], blk)
		b.Decrypt(blk, blk)
		subtle.XORBytes(blk, blk, prev[:])
		prev = cur
	}
}

var errDuplicateField = errors.New("duplicate field")

// splitPayload returns the raw text of the three payload fields. The strings alias
// payload unless they carry JSON escapes (real payloads escape '/' as "\/").
func splitPayload(payload []byte) (ct, iv, mac []byte, err error) {
	err = jsonscan.Object(payload, func(key, value []byte) error {
		var dst *[]byte
		switch {
		case jsonscan.Key(key, "ciphertext"):
			dst = &ct
		case jsonscan.Key(key, "IV"):
			dst = &iv
		case jsonscan.Key(key, "hmac"):
			dst = &mac
		default:
			return nil
		}
		if *dst != nil {
			return errDuplicateField
		}
		s, err := jsonscan.String(value)
		if err != nil {
			return err
		}
		if s == nil {
			s = []byte{}
		}
		*dst = s
		return nil
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: %v", ErrMalformedPayload, err)
	}
	if ct == nil || iv == nil || mac == nil {
		return nil, nil, nil, fmt.Errorf("%w: want ciphertext, IV and hmac", ErrMalformedPayload)
	}
	return ct, iv, mac, nil
}
