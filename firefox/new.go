package firefox

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/syncctl/syncctl/wbo"
)

// NewBookmark is a bookmark as Firefox makes one: a new Places GUID, the time it was
// added, under parentID (a root or a folder's id). The caller adds its id to the
// parent's children, which Firefox reads as the order of the folder.
func NewBookmark(title, url, parentID string, now time.Time) *Bookmark {
	return &Bookmark{ID: wbo.NewGUID(nil), Type: "bookmark", Title: title, BmkURI: url, ParentID: parentID,
		DateAdded: json.Number(strconv.FormatInt(now.UnixMilli(), 10))}
}

// NewFolder is an empty folder under parentID.
func NewFolder(title, parentID string, now time.Time) *Bookmark {
	return &Bookmark{ID: wbo.NewGUID(nil), Type: "folder", Title: title, ParentID: parentID, Children: []string{},
		DateAdded: json.Number(strconv.FormatInt(now.UnixMilli(), 10))}
}

// NewLogin is a saved login as Firefox makes one: an id in braces (a UUID), created and
// changed now. A web form's login has formSubmitURL (its form's origin; "" for any), an
// HTTP authentication's has httpRealm instead.
func NewLogin(origin, username, password, formSubmitURL, httpRealm string, now time.Time) *Login {
	l := &Login{ID: "{" + newUUID() + "}", Hostname: origin, Username: username, Password: password,
		TimeCreated: now.UnixMilli(), TimePasswordChanged: now.UnixMilli()}
	if httpRealm != "" {
		l.HTTPRealm = &httpRealm
	} else {
		l.FormSubmitURL = &formSubmitURL
	}
	return l
}

// NewFormEntry is a form-history entry: a value typed into the field name.
func NewFormEntry(name, value string) *FormEntry {
	return &FormEntry{ID: wbo.NewGUID(nil), Name: name, Value: value}
}

func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
