package hawk

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/idna"
)

// Errors from Parse and Verifier.Verify. Test with errors.Is.
var (
	ErrMissing   = errors.New("hawk: no Hawk authorization")
	ErrMalformed = errors.New("hawk: malformed header")
	ErrBadMAC    = errors.New("hawk: bad mac")
	ErrStale     = errors.New("hawk: stale timestamp")
	ErrReplay    = errors.New("hawk: replayed nonce")
	ErrBadHash   = errors.New("hawk: payload hash does not match the body")
	ErrUnknownID = errors.New("hawk: unknown credentials")
	// ErrNonceStore: the shared replay cache could not be asked (the request is neither
	// accepted nor refused; a server answers it 503).
	ErrNonceStore = errors.New("hawk: the shared nonce store failed")
)

// Artifacts are the request facts a MAC covers.
type Artifacts struct {
	TS       int64
	Nonce    string
	Method   string
	Resource string // path and query exactly as sent
	Host     string
	Port     int
	Hash     string // payload hash, "" when not sent
	Ext      string
	App, Dlg string
}

// Normalized is the string that is MACed: hawk.1.header, then one line per field.
func (a *Artifacts) Normalized() string {
	var b strings.Builder
	b.WriteString("hawk.1.header\n")
	b.WriteString(strconv.FormatInt(a.TS, 10))
	b.WriteByte('\n')
	for _, s := range []string{a.Nonce, strings.ToUpper(a.Method), a.Resource, strings.ToLower(a.Host), strconv.Itoa(a.Port), a.Hash} {
		b.WriteString(s)
		b.WriteByte('\n')
	}
	b.WriteString(strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(a.Ext))
	b.WriteByte('\n')
	if a.App != "" {
		b.WriteString(a.App + "\n" + a.Dlg + "\n")
	}
	return b.String()
}

// MAC is base64(HMAC-SHA256(key, Normalized)).
func (a *Artifacts) MAC(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(a.Normalized()))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// PayloadHash is the optional hash of a request body: base64(SHA-256 of
// "hawk.1.payload\n<content type without parameters, lowercase>\n<body>\n").
func PayloadHash(contentType string, body []byte) string {
	if mt, _, err := mime.ParseMediaType(contentType); err == nil {
		contentType = mt
	}
	h := sha256.New()
	h.Write([]byte("hawk.1.payload\n" + strings.ToLower(strings.TrimSpace(contentType)) + "\n"))
	h.Write(body)
	h.Write([]byte("\n"))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// Header returns the Authorization header value for id and the artifacts, signed with key.
func Header(id string, key []byte, a *Artifacts) string {
	var b strings.Builder
	fmt.Fprintf(&b, `Hawk id="%s", ts="%d", nonce="%s"`, quote(id), a.TS, quote(a.Nonce))
	if a.Hash != "" {
		fmt.Fprintf(&b, `, hash="%s"`, a.Hash)
	}
	if a.Ext != "" {
		fmt.Fprintf(&b, `, ext="%s"`, quote(a.Ext))
	}
	fmt.Fprintf(&b, `, mac="%s"`, a.MAC(key))
	if a.App != "" {
		fmt.Fprintf(&b, `, app="%s"`, quote(a.App))
		if a.Dlg != "" {
			fmt.Fprintf(&b, `, dlg="%s"`, quote(a.Dlg))
		}
	}
	return b.String()
}

func quote(s string) string { return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) }

// Target fills Method, Resource, Host and Port from a request URL, with the scheme's
// default port when the URL names none.
func Target(method string, u *url.URL) Artifacts {
	port := 80
	if u.Scheme == "https" {
		port = 443
	}
	host := u.Host
	if h, p, err := net.SplitHostPort(u.Host); err == nil {
		host = h
		if n, err := strconv.Atoi(p); err == nil {
			port = n
		}
	}
	return Artifacts{Method: method, Resource: u.RequestURI(), Host: ASCIIHost(host), Port: port}
}

// ASCIIHost is the host name as Hawk signs it: lower case, and an internationalized name
// in its ASCII (punycode) form, as Firefox and the node library sign it and as an HTTP
// client sends it in the Host header ("ëxample.net" → "xn--xample-ova.net"). A name that
// is not a valid IDN is only lowered.
func ASCIIHost(host string) string {
	host = strings.ToLower(host)
	for i := 0; i < len(host); i++ {
		if host[i] >= 0x80 {
			if a, err := idna.Lookup.ToASCII(host); err == nil {
				return a
			}
			return host
		}
	}
	return host
}

// Attributes are the fields of a parsed Authorization header.
type Attributes struct {
	ID, TS, Nonce, Hash, Ext, MAC, App, Dlg string
}

// Parse reads a `Hawk id="…", ts="…", …` header value.
func Parse(header string) (Attributes, error) {
	var at Attributes
	scheme, rest, _ := strings.Cut(strings.TrimSpace(header), " ")
	if !strings.EqualFold(scheme, "Hawk") {
		return at, ErrMissing
	}
	for rest = strings.TrimSpace(rest); rest != ""; {
		name, after, ok := strings.Cut(rest, "=")
		name = strings.TrimSpace(name)
		if !ok || !strings.HasPrefix(after, `"`) {
			return at, fmt.Errorf("%w: near %q", ErrMalformed, rest)
		}
		val, tail, err := unquote(after[1:])
		if err != nil {
			return at, err
		}
		var dst *string
		switch name {
		case "id":
			dst = &at.ID
		case "ts":
			dst = &at.TS
		case "nonce":
			dst = &at.Nonce
		case "hash":
			dst = &at.Hash
		case "ext":
			dst = &at.Ext
		case "mac":
			dst = &at.MAC
		case "app":
			dst = &at.App
		case "dlg":
			dst = &at.Dlg
		default:
			return at, fmt.Errorf("%w: unknown attribute %q", ErrMalformed, name)
		}
		if *dst != "" {
			return at, fmt.Errorf("%w: duplicate attribute %q", ErrMalformed, name)
		}
		*dst = val
		rest = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(tail), ","))
	}
	if at.ID == "" || at.TS == "" || at.Nonce == "" || at.MAC == "" {
		return at, fmt.Errorf("%w: id, ts, nonce and mac are required", ErrMalformed)
	}
	return at, nil
}

// unquote reads up to the closing quote, undoing \" and \\ escapes.
func unquote(s string) (val, rest string, err error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			return b.String(), s[i+1:], nil
		case '\\':
			if i+1 < len(s) {
				i++
			}
		}
		b.WriteByte(s[i])
	}
	return "", "", fmt.Errorf("%w: unterminated value", ErrMalformed)
}
