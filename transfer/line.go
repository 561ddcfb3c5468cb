package transfer

import (
	"encoding/json"
	"errors"
	"strconv"

	"github.com/syncctl/syncctl/internal/jsonscan"
)

// decodeLine is json.Unmarshal of one export line into l, made fast for the lines export
// writes: one scan with jsonscan, every member in its place. A line the scan is not
// sure to decode exactly as encoding/json would (a key that differs from a field's name
// only in case or by an escape, a repeated key, a null, a value of another type, a
// string that needs encoding/json's repair of bad UTF-8, malformed JSON) goes to
// encoding/json instead, from a zero Line, so the result and the error are its own.
// encoding/json was a seventh of an import's time.
func decodeLine(data []byte, l *Line) error {
	if decodeLineFast(data, l) == nil {
		return nil
	}
	*l = Line{}
	return json.Unmarshal(data, l)
}

var errSlowLine = errors.New("transfer: decode the line with encoding/json")

func decodeLineFast(data []byte, l *Line) error {
	var seen [5]bool
	return jsonscan.Members(data, func(key, data []byte, vi int) (int, error) {
		field := -1
		for i, name := range [...]string{"collection", "id", "modified", "sortindex", "payload"} {
			if string(key) == name {
				field = i
			} else if jsonscan.EqualFoldASCII(key, name) {
				return 0, errSlowLine // encoding/json matches a key to a field ignoring case
			}
		}
		if field < 0 {
			for _, c := range key {
				if c == '\\' || c >= 0x80 {
					return 0, errSlowLine // may unescape or fold to a field's name
				}
			}
			return jsonscan.SkipValue(data, vi) // a member Line does not have: ignored
		}
		if seen[field] {
			return 0, errSlowLine
		}
		seen[field] = true
		end, err := jsonscan.SkipValue(data, vi)
		if err != nil {
			return 0, err
		}
		value := data[vi:end]
		if string(value) == "null" {
			return 0, errSlowLine
		}
		switch field {
		case 0, 1:
			if value[0] != '"' {
				return 0, errSlowLine
			}
			s, err := jsonscan.String(value)
			if err != nil {
				return 0, errSlowLine
			}
			if field == 0 {
				l.Collection = string(s)
			} else {
				l.ID = string(s)
			}
		case 2:
			if l.Modified.UnmarshalJSON(value) != nil {
				return 0, errSlowLine
			}
		case 3:
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil {
				return 0, errSlowLine // a fraction, an exponent, a string, too large
			}
			l.SortIndex = &n
		case 4:
			l.Payload = append(json.RawMessage(nil), value...)
		}
		return end, nil
	})
}
