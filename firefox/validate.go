package firefox

import (
	"errors"
	"fmt"
	"net/url"
	"slices"

	"github.com/syncctl/syncctl/wbo"
)

// ErrInvalidRecord is a cleartext Firefox would refuse, mangle or drop: a bookmark with
// no URL, a login with no origin or password, a form entry longer than Firefox keeps.
// Validate's errors match it and say which field is wrong.
var ErrInvalidRecord = errors.New("firefox: invalid record")

// maxFormField is the longest form-history name or value Firefox stores
// (FormHistory's MAX_FIELD_LENGTH); it drops longer ones.
const maxFormField = 200

// bookmarkTypes are the bookmark record types Firefox reads.
var bookmarkTypes = []string{"bookmark", "query", "folder", "livemark", "separator"}

// Validate checks a cleartext for one of the collections Firefox syncs, before it is
// stored: Firefox answers a bad record by dropping it, rewriting it under a new id, or
// (for bookmarks) repairing the tree around it, and another device's copy diverges.
// Collections this package does not know are accepted as any JSON object. Tombstones
// are always valid.
func Validate(collection, id string, cleartext []byte) error {
	if wbo.IsTombstone(cleartext) {
		return nil
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s/%s: %s", ErrInvalidRecord, collection, id, fmt.Sprintf(format, args...))
	}
	switch collection {
	case "bookmarks":
		if err := ValidBookmarkID(id); err != nil {
			return err
		}
		b, err := Parse[Bookmark](cleartext)
		if err != nil {
			return bad("not a bookmark: %v", err)
		}
		if !slices.Contains(bookmarkTypes, b.Type) {
			return bad("type %q: want one of bookmark, query, folder, livemark, separator", b.Type)
		}
		if b.ParentID == "" && !slices.Contains(RootIDs, id) {
			return bad("no parentid: name the folder it is in (menu, toolbar, unfiled, mobile or a folder's id)")
		}
		if (b.Type == "bookmark" || b.Type == "query") && !absoluteURL(b.BmkURI) {
			return bad("bmkUri %q: want an absolute URL", b.BmkURI)
		}
		for _, c := range b.Children {
			if err := ValidBookmarkID(c); err != nil {
				return bad("children: %v", err)
			}
		}
	case "passwords":
		l, err := Parse[Login](cleartext)
		if err != nil {
			return bad("not a login: %v", err)
		}
		if !absoluteURL(l.Hostname) {
			return bad("hostname %q: want the origin, like https://example.com", l.Hostname)
		}
		if l.Password == "" {
			return bad("empty password")
		}
		if (l.FormSubmitURL == nil) == (l.HTTPRealm == nil) {
			return bad("want exactly one of formSubmitURL (a web form) and httpRealm (HTTP authentication)")
		}
	case "forms":
		f, err := Parse[FormEntry](cleartext)
		if err != nil {
			return bad("not a form entry: %v", err)
		}
		if f.Name == "" || f.Value == "" {
			return bad("want a name and a value")
		}
		if len(f.Name) > maxFormField || len(f.Value) > maxFormField {
			return bad("name and value are at most %d bytes each (Firefox drops longer ones)", maxFormField)
		}
	case "history":
		h, err := Parse[History](cleartext)
		if err != nil {
			return bad("not a history entry: %v", err)
		}
		if !absoluteURL(h.HistURI) {
			return bad("histUri %q: want an absolute URL", h.HistURI)
		}
		if len(h.Visits) == 0 {
			return bad("no visits (Firefox ignores a page never visited)")
		}
	}
	return nil
}

func absoluteURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme != "" && (u.Host != "" || u.Opaque != "" || u.Path != "")
}
