package conformance

import "strings"

// Profile is what a known server implementation is known to do differently: a failure of
// a case it lists is reported as known (with the note) instead of failed, so that an
// operator sees what is new. The notes say what the server does instead.
type Profile struct {
	Name        string
	Description string
	Known       map[string]string // case id → what the server does instead
}

func (p *Profile) knows(id string) (string, bool) {
	if p == nil {
		return "", false
	}
	note, ok := p.Known[id]
	return note, ok
}

// Profiles are the known servers, by name.
func Profiles() []*Profile { return []*Profile{goSyncstorage, syncstorageRS} }

// ProfileNamed finds a profile by name (case-insensitive).
func ProfileNamed(name string) (*Profile, bool) {
	for _, p := range Profiles() {
		if strings.EqualFold(p.Name, name) {
			return p, true
		}
	}
	return nil, false
}

// syncstorageRS departs from the Python reference server and the protocol text in a few
// places that its own tests accept (cases 6, 7, 8, 162 of the cases file).
var syncstorageRS = &Profile{
	Name:        "syncstorage-rs",
	Description: "Mozilla's Rust server (production Sync)",
	Known: map[string]string{
		"auth.a-stale-timestamp-is-401":             "accepts Hawk timestamps up to 52 weeks off (case 6)",
		"auth.a-replayed-nonce-is-401":              "keeps no nonce cache (case 7)",
		"auth.the-payload-hash-must-match-the-body": "covers the hash by the MAC but does not check it against the body (case 8)",
	},
}

// goSyncstorage is Mozilla's older Go server, as the cases file documents it (RSIT run
// against a local build, probes and code reading: every GO≠RS line).
var goSyncstorage = &Profile{
	Name:        "go-syncstorage",
	Description: "Mozilla's go-syncstorage (self-hosted, no longer developed)",
	Known: map[string]string{
		"auth.a-bad-mac-is-401":                         "403 for a bad Hawk MAC (case 5)",
		"auth.the-mac-covers-the-method":                "403 for a MAC over another method (case 5)",
		"auth.the-mac-covers-the-query":                 "403 for a MAC over another query (case 5)",
		"auth.a-stale-timestamp-is-401":                 "403 for a stale timestamp (case 6)",
		"auth.a-replayed-nonce-is-401":                  "403 for a replayed nonce (case 7)",
		"auth.an-expired-token-is-refused":              "never checks a token's expires (case 9)",
		"info.configuration.limits-are-consistent":      "max_request_bytes equals max_post_bytes by default (case 19)",
		"info.configuration.x-last-modified-is-zero":    "no X-Last-Modified on info/configuration (case 20)",
		"info.collections.x-weave-records":              "no X-Weave-Records on info/* (case 21)",
		"item.404-body-is-json-0":                       `a 404 body {"err":"BSO Not Found"} (case 59)`,
		"put.collection-field-is-accepted":              "400 for a BSO with a collection field (case 73)",
		"put.request-over-max-request-bytes-is-413":     "does not enforce max_request_bytes (case 75)",
		"put.bad-collection-names-are-404":              "500 on PUT/GET, 400 on POST for an invalid collection name (case 87)",
		"post.long-newline-lines":                       "drops the rest of a newlines body after a line over 256 KB (case 95)",
		"post.failed-values-are-strings":                `failed maps ids to arrays of strings (["invalid ttl"]) (case 101)`,
		"post.duplicate-ids-are-400":                    "accepts duplicate ids in one POST (case 103)",
		"post.collection-field-is-accepted":             `fails each BSO with a collection field ("invalid collection") (case 104)`,
		"post.max-post-records":                         "413 for the whole request over max_post_records (case 105)",
		"post.max-post-bytes-per-item":                  "no cumulative payload check in a POST without batch (case 106)",
		"post.x-weave-records-over-the-limit-is-400":    "checks X-Weave-* request headers only with batch= (case 108)",
		"post.size-limit-body-is-weave-17":              "checks X-Weave-* request headers only with batch= (case 108)",
		"misc.patch-is-405":                             "404 for PATCH (case 112)",
		"batch.create-with-an-undecodable-bso":          "200 with failed and no batch (case 124)",
		"batch.commit-must-be-true":                     "treats any commit value, even false, as a commit (case 127)",
		"batch.empty-commit-bodies":                     `200 for a newlines commit of "\n" (case 133)`,
		"batch.max-post-bytes-per-post":                 "compares the whole Content-Length with max_post_bytes: 400 body 17 (case 134)",
		"batch.max-post-records-per-post":               "413 for a batch POST over max_post_records (case 136)",
		"delete.item-in-a-missing-collection-is-404":    "406 for an item of a collection that never existed (case 145)",
		"delete.missing-collection-is-200":              `404 {"err":"Collection not found"} (case 148)`,
		"headers.x-weave-timestamp-is-the-server-clock": "X-Weave-Timestamp is the response's X-Last-Modified, 0.00 on a fresh account (case 158)",
		"misc.cors-preflight":                           "no CORS (case 163)",
	},
}
