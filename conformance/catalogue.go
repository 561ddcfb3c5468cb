package conformance

import (
	"regexp"
	"sort"
	"strconv"
)

// Entry is one behaviour of ../shared/conformance-cases.md: the 166 distinct behaviours
// the reference test suites assert, with how go-syncstorage and syncstorage-rs differ.
type Entry struct {
	Number  int    `json:"number"`
	Section string `json:"section"` // A (authentication) … J (CORS, health, misc)
	Title   string `json:"title"`
	// GoDiffers marks a known difference between go-syncstorage and syncstorage-rs.
	GoDiffers bool `json:"go_differs"`
	// NotApplicable says why no case checks this on a live server ("" when cases do).
	NotApplicable string `json:"not_applicable,omitempty"`
	// Cases are the ids of the runner's cases that check it.
	Cases []string `json:"cases"`
}

// Catalogue is every behaviour of the cases file, each with the cases that check it or
// the reason none can.
func Catalogue() []Entry {
	by := map[int][]string{}
	for _, c := range append(Cases(), TokenCases()...) {
		for _, n := range c.Refs() {
			by[n] = append(by[n], c.ID)
		}
	}
	out := make([]Entry, len(catalogue))
	for i, e := range catalogue {
		out[i] = Entry{Number: e.n, Section: e.section, Title: e.title, GoDiffers: e.goDiffers, NotApplicable: e.notApplicable, Cases: by[e.n]}
		sort.Strings(out[i].Cases)
	}
	return out
}

var refsPattern = regexp.MustCompile(`cases? ([0-9]+(?:, [0-9]+)*)`)

// Refs are the numbers of the cases file this case checks, read from its clause.
func (c Case) Refs() []int {
	var out []int
	for _, m := range refsPattern.FindAllStringSubmatch(c.Clause, -1) {
		for _, n := range regexp.MustCompile(`[0-9]+`).FindAllString(m[1], -1) {
			v, _ := strconv.Atoi(n)
			out = append(out, v)
		}
	}
	return out
}

// entry is a line of the table below, kept positional so that it reads like the file.
type entry struct {
	n              int
	section, title string
	goDiffers      bool
	notApplicable  string
}

var catalogue = []entry{
	{1, "A", "No Authorization header → 401 (go also sends WWW-Authenticate: Hawk).", false, ""},
	{2, "A", "Token whose signature does not verify with the server secret → 401.", false, ""},
	{3, "A", "go accepts a token signed by any of several configured secrets (secret rotation); rs…", false, "a server setting (several accepted token secrets) that the wire does not show; a token no secret signed is case 2"},
	{4, "A", "Token uid ≠ uid in /1.5/<uid>/ → rejected. go 401; rs 400 (path validation error,…", true, ""},
	{5, "A", "Valid token, wrong Hawk MAC (e.g. signed for another URL/method) → go 403; rs 401.", true, ""},
	{6, "A", "Hawk ts more than 60 s from server clock → go 403 (\"timestamp skew\"); rs accepts up to…", true, ""},
	{7, "A", "Replayed nonce (same nonce+ts+id) → go 403 \"Hawk: Replay nonce=…\"; rs has no nonce…", true, ""},
	{8, "A", "Hawk payload hash, when present, must match the body (Content-Type required) else go…", true, ""},
	{9, "A", "Expired token (expires in the past): writes and collection reads → 401, but GET…", true, ""},
	{10, "A", "Token payload fields: rs requires salt, uid, node, expires (plus optional fxa_uid,…", false, ""},
	{11, "B", "GET info/collections → JSON object {collection: last-modified} for exactly the…", false, ""},
	{12, "B", "Writing to one collection bumps only that collection's value; others unchanged; new…", false, ""},
	{13, "B", "A newly written collection appears in info/collections immediately (no stale cache).", false, ""},
	{14, "B", "Fresh user: info/collections, info/collection_counts, info/collection_usage each…", false, ""},
	{15, "B", "GET info/collection_counts → {collection: number of live BSOs}.", false, ""},
	{16, "B", "GET info/collection_usage → {collection: sum(len(payload))/1024} (KB, compare rounded…", false, ""},
	{17, "B", "GET info/quota → [used_KB, quota_or_null]; after PUT of a 500-byte payload, used rises…", false, ""},
	{18, "B", "GET info/configuration contains max_post_records, max_post_bytes, max_total_records,…", false, ""},
	{19, "B", "Limit sanity: max_request_bytes > max_post_bytes, max_post_bytes >=…", true, ""},
	{20, "B", "info/configuration carries X-Last-Modified: 0.00.", true, ""},
	{21, "B", "X-Weave-Records on info/collections and info/collection_counts = number of keys.", true, ""},
	{22, "B", "Unknown query parameters on info/collections (e.g. ?client=FxHome&v=1.1b2) are ignored…", false, ""},
	{23, "B", "X-If-Modified-Since on info/collections, info/quota, info/collection_usage,…", false, ""},
	{24, "B", "info/collections X-Last-Modified = newest collection timestamp (storage timestamp),…", false, ""},
	{25, "B", "After DELETE storage/<col> the collection disappears from info/collections; after…", false, ""},
	{26, "C", "Non-existent collection → 200 [] (never 404).", false, ""},
	{27, "C", "Default response is a JSON list of ids; X-Weave-Records = number returned.", false, ""},
	{28, "C", "ids=a,b,c returns only the listed ids that exist (unknown ids silently ignored).", false, ""},
	{29, "C", "newer=T returns only BSOs with modified > T (strict); newer=<own ts> excludes the BSOs…", false, ""},
	{30, "C", "older=T returns only modified < T (strict).", false, ""},
	{31, "C", "older and newer combine (interval).", false, ""},
	{32, "C", "full=<any> returns objects; an object without sortindex has exactly the keys id,…", false, ""},
	{33, "C", "Without full the body is a list of strings.", false, ""},
	{34, "C", "limit=N returns the first N of the requested order and sets X-Weave-Next-Offset.", false, ""},
	{35, "C", "offset=<X-Weave-Next-Offset> continues exactly where the previous page stopped; the…", false, ""},
	{36, "C", "X-Weave-Next-Offset is opaque: go emits a plain row count (\"2\", \"4\", GOW); rs emits…", true, "the offset's format is the server's choice; the runner pages with it as an opaque string and never parses it (get.offset-pages-through-everything-once)"},
	{37, "C", "sort=newest → descending modified; sort=oldest → ascending; sort=index → descending…", false, ""},
	{38, "C", "No sort → a stable order that paginates consistently (go: newest; rs MySQL: newest,…", false, ""},
	{39, "C", "Pagination with newer=T&sort=oldest&full=1 at limits 2,3,4,5,6: items arrive in…", false, ""},
	{40, "C", "Pagination with older=T&sort=newest&full=1 at limits 2–6: non-increasing modified,…", false, ""},
	{41, "C", "Non-numeric newer, older, limit → 400.", false, ""},
	{42, "C", "Non-numeric offset → 400.", false, ""},
	{43, "C", "100 random unknown ids in ids= → 200 [].", false, ""},
	{44, "C", "Unknown query parameters (?blabla=1) → 200.", false, ""},
	{45, "C", "ids= with 99 or 100 ids → 200; with 101 ids → 400.", false, ""},
	{46, "C", "limit=-1 → 400.", false, ""},
	{47, "C", "Invalid sort value → 400.", false, ""},
	{48, "C", "An id in ids= that is not a valid BSO id → 400.", false, ""},
	{49, "C", "Percent-encoded comma list (ids=test-0%2Ctest-1) is decoded for GET and DELETE.", false, ""},
	{50, "C", "GUID-like ids with - (PY/RSIT) and {…} braces (PYOLD) work for POST, ids= GET and ids=…", false, ""},
	{51, "C", "Accept: application/json → Content-Type: application/json; no Accept → JSON; Accept:…", false, ""},
	{52, "C", "Newlines output keeps each record on one line even when payloads contain \\n…", false, ""},
	{53, "C", "Accept: */*, application/* → JSON.", false, ""},
	{54, "C", "X-If-Modified-Since on a collection GET: value ≥ collection last-modified (= max BSO…", false, ""},
	{55, "C", "X-Last-Modified is sent on GET of info/collections, info/collection_counts, a…", false, ""},
	{56, "C", "A collection that existed and was deleted: GET → [] with X-Last-Modified: 0.00 (go).", false, ""},
	{57, "D", "Existing BSO → object with id, modified, payload (+sortindex if set).", false, ""},
	{58, "D", "modified is serialised with exactly two decimals (\"modified\": 1234.50, regex…", false, ""},
	{59, "D", "Missing BSO → 404.", true, ""},
	{60, "D", "BSO in a collection that never existed → 404.", false, ""},
	{61, "D", "X-If-Modified-Since on an item: value ≥ item modified (also +1) → 304; value < → 200…", false, ""},
	{62, "D", "Item GET X-Last-Modified = the item's modified.", false, ""},
	{63, "D", "Unknown URL below /1.5/<uid>/ → 404, Content-Type: application/json, body 0.", false, ""},
	{64, "D", "meta/global lifecycle: GET 404 before; GET storage/meta → []; after PUT → [\"global\"]…", false, ""},
	{65, "E", "PUT creates; GET returns the payload; a second PUT replaces the payload.", false, ""},
	{66, "E", "PUT response body is the new timestamp (JSON number) and equals X-Last-Modified; PYOLD…", false, ""},
	{67, "E", "Content-Type: application/json OK; application/json;charset=utf-8 OK; text/plain…", false, ""},
	{68, "E", "Body that is not a JSON object (\"notabso\", 42, {\"id\":[..],\"payload\":{..}}) → 400, body 8.", false, ""},
	{69, "E", "Invalid field values → 400 body 8: sortindex \"xxx_meh\", \"2.6\", 1000000000; payload 42;…", false, ""},
	{70, "E", "ttl: -1 → 400.", false, ""},
	{71, "E", "sortindex: -42 → 200 (negative sortindex allowed).", false, ""},
	{72, "E", "Client-supplied modified is ignored; stored modified = the PUT's X-Weave-Timestamp.", false, ""},
	{73, "E", "A collection field in the body is accepted and ignored.", true, ""},
	{74, "E", "Payload longer than max_record_payload_bytes → rs 400 body 8; go 413 {\"err\":\"Payload…", true, ""},
	{75, "E", "Content-Length > max_request_bytes → rs 413 (body 17); go does not enforce…", true, ""},
	{76, "E", "TTL-only PUT on an existing BSO keeps its payload and does not bump modified; TTL-only…", false, ""},
	{77, "E", "PUT of only sortindex leaves the existing ttl (and payload) untouched.", false, ""},
	{78, "E", "Changing sortindex (with or without ttl) bumps modified.", false, ""},
	{79, "E", "ttl: null → default ttl (record persists).", false, ""},
	{80, "E", "ttl: 0 → record invisible after ~20 ms (GET 404, collection []).", false, ""},
	{81, "E", "ttl: 2 → visible; re-PUT keeps one record; gone after 2.1 s.", false, ""},
	{82, "E", "An expired record can be overwritten by PUT with a new ttl.", false, ""},
	{83, "E", "Known-bad crypto: payload containing \"IV\": \"AAAAAAAAAAAAAAAAAAAAAA==\" → 400 on PUT…", false, ""},
	{84, "E", "X-If-Unmodified-Since older than the item → 412 with X-Last-Modified; item unchanged.", false, ""},
	{85, "E", "PUT to an id that does not exist with X-If-Unmodified-Since: 0 → 200 (the precondition…", false, ""},
	{86, "E", "X-If-Unmodified-Since: -3 → 400.", false, ""},
	{87, "E", "Invalid collection name in the URL (char outside [A-Za-z0-9._-] or > 32 chars): rs 404…", true, ""},
	{88, "E", "BSO id in the URL longer than 64 chars → 404 (both: go probe; rs route regex [ -~]{1,64}).", false, ""},
	{89, "F", "Response {\"modified\": T, \"success\": [ids], \"failed\": {}}; X-Last-Modified = T.", false, ""},
	{90, "F", "POST creates new and updates existing BSOs in one request.", false, ""},
	{91, "F", "Fields absent from a POSTed BSO are preserved on update (only sortindex → payload…", false, ""},
	{92, "F", "One item with sortindex: \"FAIL\" fails alone; the others are stored; the bad id is not…", false, ""},
	{93, "F", "Content-Type: application/newlines body (one BSO per line) accepted;…", false, ""},
	{94, "F", "Newlines input whose payloads contain \\n (escaped inside JSON) round-trips.", false, ""},
	{95, "F", "Newlines input line longer than 256 KB: go's line scanner (257 KB token) silently…", true, ""},
	{96, "F", "Body that is not a list (\"notalist\", 42) → 400 body 8.", false, ""},
	{97, "F", "List containing a non-object ([{…}, \"BAD\"]) → 400 for the whole request.", false, ""},
	{98, "F", "List with one invalid BSO (unknown field) → 200, 1 success, 1 failed.", false, ""},
	{99, "F", "Invalid ids \"A\\nB\", \"A\\n\", \"\\nN\", \"A\\tB\", \"\", 65×X → in failed, not in success.", false, ""},
	{100, "F", "Invalid sortindex / payload / ttl values (same list as 69) → item in failed.", false, ""},
	{101, "F", "failed maps id → string reason in rs/PY (\"retry bytes\", \"retry bso\", \"invalid bso:…", true, ""},
	{102, "F", "BSO without id in a POST: rs 400 for the whole request; go 200 with failed: {\"\":…", true, ""},
	{103, "F", "Duplicate ids in one POST: rs 400; go accepts both (success lists the id twice).", true, ""},
	{104, "F", "BSOs carrying a collection field are accepted (field ignored): 2 success, 0 failed.", true, ""},
	{105, "F", "max_post_records: POST of max−5 items → all succeed; POST of max+5 → max succeed and 5…", true, ""},
	{106, "F", "Cumulative payload bytes: items are accepted while the running payload total ≤…", true, ""},
	{107, "F", "A single item payload > max_record_payload_bytes fails alone (rs \"retry bytes\", go…", false, ""},
	{108, "F", "X-Weave-Records, X-Weave-Bytes, X-Weave-Total-Records, X-Weave-Total-Bytes request…", true, ""},
	{109, "F", "POST with X-If-Unmodified-Since older than the collection → 412; equal → 200.", false, ""},
	{110, "F", "Bulk TTL update via POST: items with only ttl keep payload and modified; items with a…", false, ""},
	{111, "F", "POST [] → 200 with empty success.", false, ""},
	{112, "F", "PATCH storage/<collection> → 405.", true, ""},
	{113, "G", "POST ?batch=true → 202 with \"batch\": \"<id>\"; collection X-Last-Modified unchanged;…", false, ""},
	{114, "G", "Append POST ?batch=<id> → 202, X-Last-Modified still the collection's old value (also…", false, ""},
	{115, "G", "Commit POST ?batch=<id>&commit=true with further BSOs → 200; body modified =…", false, ""},
	{116, "G", "Commit updates info/collections (value and X-Last-Modified) to the commit timestamp.", false, ""},
	{117, "G", "Empty commit ([], ≥1 s after staging) applies the staged items with the commit…", false, ""},
	{118, "G", "?batch=true&commit=true in one request → 200, no batch key, modified present;…", false, ""},
	{119, "G", "Batch partial update: fields missing from staged BSOs are preserved at commit…", false, ""},
	{120, "G", "TTL-only BSOs staged in a batch change ttl but not payload; they expire after commit+ttl.", false, ""},
	{121, "G", "TTL of batch items counts from the commit time, not the staging time.", false, ""},
	{122, "G", "Batch commits update each collection's timestamp independently; overwrite-in-place and…", false, ""},
	{123, "G", "Invalid BSOs in create/append/commit are reported in failed; the commit applies only…", false, ""},
	{124, "G", "A batch create whose body has an undecodable BSO (unknown field): go returns 200 with…", true, ""},
	{125, "G", "Invalid batch id (?batch=sammich) → 400 (rs body 0).", false, ""},
	{126, "G", "commit=true without batch → 400.", false, ""},
	{127, "G", "commit must be true (case-insensitive) in rs, else 400; go treats any value, even…", true, ""},
	{128, "G", "Batch id is scoped to its collection: append or commit in another collection → 400;…", false, ""},
	{129, "G", "Batch id is scoped to its user: another user's append/commit → 400; the owner can…", false, ""},
	{130, "G", "Two users that receive the same batch id get separate data. (needs 2nd uid; skipped if…", false, ""},
	{131, "G", "A committed batch id reused later (other collection) starts empty: no resurrection.", false, ""},
	{132, "G", "Same id in the staged batch and in the commit body → commit body wins; success ==…", false, ""},
	{133, "G", "Empty-commit body forms (bug 1397357): JSON [] → 200; JSON {} → 400; JSON empty body →…", true, ""},
	{134, "G", "Batch byte limit per POST: little (3 B) + big (max_post_bytes−3 B) both accepted; one…", true, ""},
	{135, "G", "X-Weave-Total-Bytes > max_total_bytes on a batch POST → 400 body 17 (= limit accepted).", false, ""},
	{136, "G", "Batch with max_post_records items accepted; one more → that item \"retry bso\".", true, ""},
	{137, "G", "Batch ids are opaque strings: go \"b<n>\"; rs MySQL/Postgres base64 of an integer; rs…", false, "the batch id's format is the server's choice; the runner uses it as an opaque string in every batch case"},
	{138, "G", "Staged batches expire: go after LIMIT_MAX_BATCH_TTL (7200 s default); rs after…", false, "staged batches live two hours on both servers: too long for a run (the embedded server's expiry has its own test)"},
	{139, "G", "Batch-disabled server profile: ?batch=true silently ignored (200, no batch key),…", false, "an optional batch-disabled server profile that neither real server runs by default"},
	{140, "H", "DELETE storage/<col> removes every item (GET → []).", false, ""},
	{141, "H", "DELETE storage/<col>?ids=a,b removes only those.", false, ""},
	{142, "H", "DELETE ?ids= with 99 or 100 ids OK, 101 → 400.", false, ""},
	{143, "H", "DELETE storage/<col>/<id> → 200; item gone; collection timestamp in info/collections…", false, ""},
	{144, "H", "Deleting a missing item in an existing collection → 404.", false, ""},
	{145, "H", "Deleting an item in a collection that never existed: rs 404 (RSH delete_bso); go 406…", true, ""},
	{146, "H", "DELETE storage removes all collections; a following DELETE storage/<col> → 200; PYOLD…", false, ""},
	{147, "H", "DELETE /1.5/<uid> (no /storage) also deletes everything (used by every suite's setUp).…", true, ""},
	{148, "H", "DELETE storage/<col> for a collection that never existed: rs 200 (body = storage…", true, ""},
	{149, "H", "DELETE storage/<col> response body: rs a bare timestamp number (handler adds…", true, ""},
	{150, "H", "DELETE with X-If-Unmodified-Since older than the item/collection → 412 with…", false, ""},
	{151, "H", "DELETE ?ids=X with X-If-Unmodified-Since = X's own last-modified still → 412 when…", false, ""},
	{152, "I", "X-If-Unmodified-Since older than the resource → 412 also on GET of an item and of a…", false, ""},
	{153, "I", "X-If-Unmodified-Since equal to the current X-Last-Modified → success for POST, item…", false, ""},
	{154, "I", "X-If-Modified-Since: -3 → 400.", false, ""},
	{155, "I", "Both X-If-Modified-Since and X-If-Unmodified-Since → 400; a non-numeric value → 400.", false, ""},
	{156, "I", "304/412 responses carry X-Last-Modified = the resource timestamp (rs: empty body).", false, ""},
	{157, "I", "X-Weave-Timestamp on every response; on GET/PUT/POST it is ≥ the client's clock just…", false, ""},
	{158, "I", "What X-Weave-Timestamp is: rs = max(server time at request start, response…", true, ""},
	{159, "I", "All timestamps (modified, X-Last-Modified, X-Weave-Timestamp, info/collections values)…", false, ""},
	{160, "I", "Successive writes by one user get strictly increasing timestamps (ts1 < ts2 for…", false, ""},
	{161, "I", "Over quota (quota enabled with a tiny limit): the write that goes over → 403. Body: rs…", false, "quota is off by default on both servers; it can only be checked on a server started with a tiny quota, which a runner cannot arrange"},
	{162, "I", "X-Weave-Quota-Remaining on writes = remaining KB (rounded 2 decimals) when a quota is…", false, "implemented by neither real server (a PY-only test); depends on a configured quota as 161"},
	{163, "J", "CORS preflight OPTIONS /1.5/<uid>/__heartbeat__ with Origin →…", true, ""},
	{164, "J", "GET /__heartbeat__ → 200 (rs JSON with status, database, version, quota; go text OK);…", false, ""},
	{165, "J", "User-Agent Firefox-iOS-Sync/<20… → 503 body 0 (both on info and storage requests);…", true, "a syncstorage-rs rule for old Firefox-iOS builds, not part of the protocol"},
	{166, "J", "Write conflicts are retryable: PY memcached tests expect 503 for a conflicting/failed…", false, "a memcached-backend conflict in the Python server, in-process only; the runner retries every write once on 409 and 503, as the suites do"},
}
