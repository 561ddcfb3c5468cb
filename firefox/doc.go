// Package firefox holds the record types and engines of Firefox's own collections:
// bookmarks, history, passwords, forms, tabs, prefs, addons and clients. Records decode
// into typed structs and encode back with every member they did not know kept, because a
// newer Firefox may add fields and a sync client must never drop them. Engines pair each
// collection with the reconcile rule it needs (a bookmark tree that stays a tree, merged
// history visits, password dedupe, tabs replaced whole).
package firefox
