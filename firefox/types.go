package firefox

import "encoding/json"

// The record types, with the fields of ../shared/protocol.md §5. Each keeps its members
// as received in Raw; use Parse and Encode, not encoding/json alone, so that nothing is
// dropped.

// Bookmark is any bookmarks record: bookmark, query, folder, livemark or separator.
type Bookmark struct {
	ID         string      `json:"id"`
	Type       string      `json:"type,omitempty"`
	Title      string      `json:"title,omitempty"`
	ParentID   string      `json:"parentid,omitempty"`
	ParentName string      `json:"parentName,omitempty"`
	BmkURI     string      `json:"bmkUri,omitempty"`
	Tags       []string    `json:"tags,omitempty"`
	Keyword    *string     `json:"keyword,omitempty"`
	Children   []string    `json:"children,omitempty"`
	FolderName string      `json:"folderName,omitempty"`
	FeedURI    string      `json:"feedUri,omitempty"`
	SiteURI    string      `json:"siteUri,omitempty"`
	Pos        *int        `json:"pos,omitempty"`
	DateAdded  json.Number `json:"dateAdded,omitempty"` // ms; may arrive as a string
	Deleted    bool        `json:"deleted,omitempty"`
	Raw        Raw         `json:"-"`
}

// History is a history record: one URL and its visits.
type History struct {
	ID      string  `json:"id"`
	HistURI string  `json:"histUri,omitempty"`
	Title   *string `json:"title,omitempty"`
	Visits  []Visit `json:"visits,omitempty"`
	Deleted bool    `json:"deleted,omitempty"`
	Raw     Raw     `json:"-"`
}

// Visit is one visit: a time in microseconds and a transition type (1 link … 9 reload).
type Visit struct {
	Date int64 `json:"date"`
	Type int   `json:"type"`
}

// Login is a passwords record.
type Login struct {
	ID                  string  `json:"id"`
	Hostname            string  `json:"hostname,omitempty"`
	FormSubmitURL       *string `json:"formSubmitURL,omitempty"`
	HTTPRealm           *string `json:"httpRealm,omitempty"`
	Username            string  `json:"username"`
	Password            string  `json:"password"`
	UsernameField       string  `json:"usernameField"`
	PasswordField       string  `json:"passwordField"`
	TimeCreated         int64   `json:"timeCreated,omitempty"`
	TimePasswordChanged int64   `json:"timePasswordChanged,omitempty"`
	TimeLastUsed        int64   `json:"timeLastUsed,omitempty"`
	TimesUsed           int64   `json:"timesUsed,omitempty"`
	Deleted             bool    `json:"deleted,omitempty"`
	Raw                 Raw     `json:"-"`
}

// FormEntry is a forms record: a value once typed into a field.
type FormEntry struct {
	ID      string `json:"id"`
	Name    string `json:"name,omitempty"`
	Value   string `json:"value,omitempty"`
	Deleted bool   `json:"deleted,omitempty"`
	Raw     Raw    `json:"-"`
}

// Tabs is one client's open tabs.
type Tabs struct {
	ID         string `json:"id"`
	ClientName string `json:"clientName"`
	Tabs       []Tab  `json:"tabs"`
	Deleted    bool   `json:"deleted,omitempty"`
	Raw        Raw    `json:"-"`
}

// Tab is one tab. LastUsed is in seconds; old clients wrote floats or strings.
type Tab struct {
	Title      string          `json:"title"`
	URLHistory []string        `json:"urlHistory"`
	Icon       *string         `json:"icon"`
	LastUsed   json.RawMessage `json:"lastUsed"`
	Inactive   *bool           `json:"inactive,omitempty"`
	// Raw keeps the members this type does not name (Firefox 153 writes index and
	// windowId), so a tabs record encoded again loses none.
	Raw Raw `json:"-"`
}

// tabFields is Tab without its methods, for the plain encoding.
type tabFields Tab

// UnmarshalJSON keeps every member.
func (t *Tab) UnmarshalJSON(b []byte) error {
	raw, err := decodeKeeping(b, (*tabFields)(t), nil, false)
	t.Raw = raw
	return err
}

// MarshalJSON writes the fields over the members received.
func (t Tab) MarshalJSON() ([]byte, error) {
	f := tabFields(t)
	return encodeKeeping(&f, t.Raw)
}

// Prefs is the prefs record (version 2): pref name → value or null.
type Prefs struct {
	ID    string                     `json:"id"`
	Value map[string]json.RawMessage `json:"value"`
	Raw   Raw                        `json:"-"`
}

// Addon is an addons record.
type Addon struct {
	ID            string `json:"id"`
	AddonID       string `json:"addonID"`
	ApplicationID string `json:"applicationID"`
	Enabled       bool   `json:"enabled"`
	Source        string `json:"source"`
	Deleted       bool   `json:"deleted,omitempty"`
	Raw           Raw    `json:"-"`
}

// Record is what the record types share: they keep their members as received.
type Record interface{ raw() *Raw }

// Parse decodes a cleartext into one of the record types, keeping every member. The
// record keeps a copy of cleartext: the caller may reuse it.
func Parse[T any, P interface {
	*T
	Record
}](cleartext []byte) (*T, error) {
	return parse[T, P](cleartext, false)
}

// ParseOwned is Parse for a cleartext the caller hands over, as a decrypted payload
// fresh from crypto is: the record's strings and kept members are cleartext itself, not
// a copy, so it must not change afterwards. That copy was a seventh of a bookmark's
// allocation on its way in.
func ParseOwned[T any, P interface {
	*T
	Record
}](cleartext []byte) (*T, error) {
	return parse[T, P](cleartext, true)
}

func parse[T any, P interface {
	*T
	Record
}](cleartext []byte, owned bool) (*T, error) {
	// The record and what its Raw points to, in one allocation.
	both := new(struct {
		v T
		r received
	})
	v := P(&both.v)
	u, err := decodeKeeping(cleartext, v, &both.r, owned)
	if err != nil {
		return nil, err
	}
	*v.raw() = u
	return v, nil
}

// Encode encodes a record with its unknown members.
func Encode[P Record](v P) ([]byte, error) {
	return encodeKeeping(v, *v.raw())
}

func (b *Bookmark) raw() *Raw  { return &b.Raw }
func (h *History) raw() *Raw   { return &h.Raw }
func (l *Login) raw() *Raw     { return &l.Raw }
func (f *FormEntry) raw() *Raw { return &f.Raw }
func (t *Tabs) raw() *Raw      { return &t.Raw }
func (p *Prefs) raw() *Raw     { return &p.Raw }
func (a *Addon) raw() *Raw     { return &a.Raw }
