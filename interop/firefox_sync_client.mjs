// Reads and writes Firefox Sync collections with the npm package "firefox-sync", an
// independent Node.js client, given credentials our embedded server issues.
//
//   node firefox_sync_client.mjs read  <server> <secret> <encKeyB64> <hmacKeyB64> <kid> <collection>...
//       prints {"<collection>": [<decrypted payload>, …]} (sorted by id)
//   node firefox_sync_client.mjs write <server> <secret> <encKeyB64> <hmacKeyB64> <kid> <collection> <JSON array of payloads>
//       encrypts each payload with the package's own encryptBSO and PUTs it
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const Sync = require('firefox-sync');
const [mode, server, secret, encryptionKey, hmacKey, kid, collection, ...rest] = process.argv.slice(2);

const sync = Sync({
  tokenServerUrl: server,
  creds: {
    // The embedded server takes the user's secret where Mozilla's takes an OAuth token.
    oauthToken: { access_token: secret, token_type: 'bearer', scope: '', expires_in: 365 * 86400, auth_at: Math.floor(Date.now() / 1000) },
    syncKeyBundle: { encryptionKey, hmacKey, kid },
    token: { duration: 0 },
    tokenIssuedAt: 0,
  },
});

if (mode === 'read') {
  const out = {};
  for (const c of [collection, ...rest]) {
    const items = await sync.getCollection(c, { full: true });
    out[c] = items.map((i) => i.payload).sort((a, b) => (a.id < b.id ? -1 : 1));
  }
  console.log(JSON.stringify(out));
} else if (mode === 'write') {
  const payloads = JSON.parse(rest[0]);
  for (const p of payloads) {
    const bso = await sync.encryptCollectionBSO(collection, p);
    await sync.fetch(`storage/${collection}/${encodeURIComponent(bso.id)}`, {
      method: 'put',
      body: JSON.stringify(bso),
      headers: { 'Content-Type': 'application/json' },
    });
  }
  console.log(`ok ${payloads.length}`);
} else {
  console.error('usage: firefox_sync_client.mjs read|write …');
  process.exit(2);
}
