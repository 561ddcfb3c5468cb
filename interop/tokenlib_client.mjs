// An independent SyncStorage client written against the published formats only (Node's
// standard library, no syncctl code): it mints a tokenlib token from the master secret,
// signs Hawk by hand, and runs PUT / GET / POST-batch / DELETE round trips.
//
// usage: node tokenlib_client.mjs <base-url> <master-secret> <uid>
// Prints one line per check and "N passed, M failed"; exits non-zero on any failure.
import crypto from 'node:crypto';

const [base, master, uidArg] = process.argv.slice(2);
const uid = Number(uidArg);
const hkdf = (ikm, salt, info) => Buffer.from(crypto.hkdfSync('sha256', ikm, salt, info, 32));
const b64url = (b) => b.toString('base64').replace(/\+/g, '-').replace(/\//g, '_');

// tokenlib: id = urlsafe_b64(payload || HMAC(signing, payload)); key = urlsafe_b64(HKDF(master, salt, derive/ + id))
const signing = hkdf(Buffer.from(master), Buffer.alloc(0), 'services.mozilla.com/tokenlib/v1/signing');
const payload = Buffer.from(JSON.stringify({
  uid, node: base, expires: Date.now() / 1000 + 300, fxa_uid: 'interop', fxa_kid: '0000000000000-qqo',
  hashed_fxa_uid: 'interop', hashed_device_id: 'none', salt: crypto.randomBytes(3).toString('hex'),
}));
const sig = crypto.createHmac('sha256', signing).update(payload).digest();
const id = b64url(Buffer.concat([payload, sig]));
const salt = JSON.parse(payload).salt;
const key = b64url(hkdf(Buffer.from(master), Buffer.from(salt), 'services.mozilla.com/tokenlib/v1/derive/' + id));

function hawk(method, url) {
  const u = new URL(url);
  const ts = Math.floor(Date.now() / 1000);
  const nonce = crypto.randomBytes(6).toString('base64');
  const port = u.port || (u.protocol === 'https:' ? 443 : 80);
  const norm = `hawk.1.header\n${ts}\n${nonce}\n${method}\n${u.pathname}${u.search}\n${u.hostname.toLowerCase()}\n${port}\n\n\n`;
  const mac = crypto.createHmac('sha256', Buffer.from(key, 'ascii')).update(norm).digest('base64');
  return `Hawk id="${id}", ts="${ts}", nonce="${nonce}", mac="${mac}"`;
}

const endpoint = `${base}/1.5/${uid}`;
async function req(method, path, body) {
  const url = endpoint + path;
  const headers = { Authorization: hawk(method, url) };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, headers: r.headers, json: text ? JSON.parse(text) : null };
}

let passed = 0, failed = 0;
function check(name, ok, detail) {
  if (ok) passed++; else failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${ok ? '' : ': ' + JSON.stringify(detail)}`);
}

const put = await req('PUT', '/storage/interop/one', { payload: 'hello', sortindex: 3 });
check('PUT returns 200 and a two-decimal timestamp', put.status === 200 && /^\d+\.\d\d$/.test(put.headers.get('x-last-modified')), put);
const get = await req('GET', '/storage/interop/one');
check('GET returns what PUT stored', get.status === 200 && get.json.payload === 'hello' && get.json.sortindex === 3, get.json);
const created = await req('POST', '/storage/interop?batch=true', [{ id: 'two', payload: '2' }]);
check('POST batch=true is 202 with a batch id', created.status === 202 && typeof created.json.batch === 'string', created.json);
const before = await req('GET', '/storage/interop');
check('staged records are not visible', before.json.length === 1, before.json);
const commit = await req('POST', `/storage/interop?batch=${encodeURIComponent(created.json.batch)}&commit=true`, [{ id: 'three', payload: '3' }]);
check('commit is 200 with modified', commit.status === 200 && typeof commit.json.modified === 'number', commit.json);
const after = await req('GET', '/storage/interop?full=1&sort=oldest');
check('committed records share the commit timestamp', after.json.length === 3 && after.json.filter((r) => r.modified === commit.json.modified).length === 2, after.json);
const del = await req('DELETE', '/storage/interop/one');
check('DELETE item is 200', del.status === 200, del);
const gone = await req('GET', '/storage/interop/one');
check('the deleted item is 404', gone.status === 404, gone.status);
const wipe = await req('DELETE', '/storage/interop');
check('DELETE collection is 200', wipe.status === 200, wipe.status);
const other = await fetch(`${base}/1.5/${uid + 1}/info/collections`, { headers: { Authorization: hawk('GET', `${base}/1.5/${uid + 1}/info/collections`) } });
check("a token for one uid is refused on another's URL", other.status === 401, other.status);

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
