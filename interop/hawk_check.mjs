// Cross-checks syncctl's Hawk against the reference implementation (npm "hawk").
//
//   node hawk_check.mjs sign <url> <method> <id> <key>
//       prints the Authorization header hawk's client computes (so a Go test can send it
//       to syncctl's server, whose validator must accept it).
//   node hawk_check.mjs serve <key>
//       runs an HTTP server on 127.0.0.1 that authenticates with hawk.server.authenticate
//       and answers 200 or 401; prints its port (so a Go test can send it requests signed
//       by syncctl's client code).
import http from 'node:http';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const Hawk = require('hawk');
const [mode, ...args] = process.argv.slice(2);

if (mode === 'sign') {
  const [url, method, id, key] = args;
  const { header } = Hawk.client.header(url, method, { credentials: { id, key, algorithm: 'sha256' } });
  console.log(header);
} else if (mode === 'serve') {
  const [key] = args;
  const server = http.createServer(async (req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    await new Promise((r) => req.on('end', r));
    try {
      const { credentials } = await Hawk.server.authenticate(req,
        (id) => ({ id, key, algorithm: 'sha256' }),
        // The payload is checked only when the client sent a hash (it is optional).
        /hash="/.test(req.headers.authorization || '') ? { payload: body } : {});
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok ' + credentials.id);
    } catch (err) {
      res.writeHead(401, { 'Content-Type': 'text/plain' });
      res.end(String(err.message));
    }
  });
  server.listen(0, '127.0.0.1', () => console.log(server.address().port));
} else {
  console.error('usage: hawk_check.mjs sign|serve …');
  process.exit(2);
}
