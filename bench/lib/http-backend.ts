// A backend for the breaker bench, run as its own process so it does not share an event loop
// with what is measured: `node bench/lib/http-backend.ts PORT ok|hang`. `ok` answers every
// request with a small 200; `hang` accepts and reads requests but never answers.
import { createServer } from 'node:http';

const [portText, mode = 'ok'] = process.argv.slice(2);
const BODY = Buffer.from('hello from the backend\n');

const server = createServer((req, res) => {
  req.resume();
  if (mode === 'hang') return;
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': BODY.length });
  res.end(BODY);
});
server.keepAliveTimeout = 65_000;
server.listen(Number(portText), '127.0.0.1', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
