// A web variant for the experiment pod where no nginx:alpine image can be pulled (the offline
// pods test): answers every request on port 80 with the page nginx:alpine would serve from
// ./web-$VARIANT/index.html.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const variant = process.env.VARIANT ?? 'prod';
const page = readFileSync(new URL(`./web-${variant}/index.html`, import.meta.url));
const server = createServer((_req, res) => {
  res.setHeader('content-type', 'text/html');
  res.end(page);
});
server.listen(Number(process.env.PORT ?? 80), '0.0.0.0');
process.once('SIGTERM', () => server.close(() => process.exit(0)));
