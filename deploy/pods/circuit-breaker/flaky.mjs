// The circuit-breaker pod's backend, flaky on demand: any path under /fail answers 503 (as a
// failing service would), anything else 200 with a short body naming the backend.
import { createServer } from 'node:http';

const server = createServer((req, res) => {
  const failing = req.url?.startsWith('/fail') === true;
  res.statusCode = failing ? 503 : 200;
  res.setHeader('content-type', 'text/plain');
  res.end(failing ? 'backend failing\n' : 'backend ok\n');
});
server.listen(Number(process.env.PORT ?? 8080), '0.0.0.0');
process.once('SIGTERM', () => server.close(() => process.exit(0)));
