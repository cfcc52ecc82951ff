// What an idle TCP connection costs a Node process by itself: the floor under legate's
// memory per idle client. A child process accepts N connections and attaches nothing to
// them; this process opens them, each sends one PING, and reads the child's VmRSS.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';

const CHILD = `
const net = require('node:net');
const keep = [];
const server = net.createServer((s) => { keep.push(s); });
server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));
`;

function rssKb(pid: number): number {
  return Number(
    /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? Number.NaN,
  );
}

/** RSS growth in KB of a fresh Node process holding `count` idle accepted sockets. */
async function growth(count: number): Promise<number> {
  const child = spawn(process.execPath, ['-e', CHILD], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) =>
    child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString()))),
  );
  await new Promise((r) => setTimeout(r, 300));
  const before = rssKb(child.pid ?? 0);
  const sockets: Socket[] = [];
  for (let i = 0; i < count; i++) {
    const s = connect(port, '127.0.0.1');
    await new Promise((resolve, reject) => s.once('connect', resolve).once('error', reject));
    s.write('*1\r\n$4\r\nPING\r\n');
    sockets.push(s);
  }
  await new Promise((r) => setTimeout(r, 1500));
  const after = rssKb(child.pid ?? 0);
  for (const s of sockets) s.destroy();
  child.kill();
  return after - before;
}

export async function main(args: readonly string[]): Promise<number> {
  const large = Number(args[0] ?? 9000);
  const small = Math.floor(large / 4);
  const a = await growth(small);
  const b = await growth(large);
  process.stdout.write(
    `## Idle TCP connections in a bare Node ${process.versions.node} process\n\n` +
      `| sockets | RSS growth KB | KB per socket |\n| ---: | ---: | ---: |\n` +
      `| ${small} | ${a} | ${(a / small).toFixed(2)} |\n| ${large} | ${b} | ${(b / large).toFixed(2)} |\n\n` +
      `Marginal cost between them: ${((b - a) / (large - small)).toFixed(2)} KB per socket.\n`,
  );
  return 0;
}
