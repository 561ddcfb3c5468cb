// Cross-checks syncctl's Firefox Accounts code with Mozilla's own (npm fxa-js-client):
// its credential setup (quickStretch, authPW, unwrapBKey), and its signIn + accountKeys
// against an auth server (our test double), which unwraps kB from the key bundle.
//
//   node fxa_js_client.mjs <authServerURL> <email> <password>
//   prints {"quickStretchedPW","authPW","unwrapBKey","kA","kB"} in hex
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const FxAccountClient = require('fxa-js-client');
const credentials = require('fxa-js-client/client/lib/credentials');
const sjcl = require('sjcl');
const [authURL, email, password] = process.argv.slice(2);
const hex = (bits) => sjcl.codec.hex.fromBits(bits);

const creds = await credentials.setup(email, password);
const client = new FxAccountClient(authURL);
const session = await client.signIn(email, password, { keys: true });
const keys = await client.accountKeys(session.keyFetchToken, session.unwrapBKey);
console.log(JSON.stringify({
  quickStretchedPW: hex(creds.quickStretchedPW),
  authPW: hex(creds.authPW),
  unwrapBKey: hex(creds.unwrapBKey),
  kA: keys.kA,
  kB: keys.kB,
}));
