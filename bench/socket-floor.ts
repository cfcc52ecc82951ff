// What an idle TCP connection costs a Node process by itself, the floor under legate's memory
// per idle client, two ways: as a net.Socket, and as the bare libuv handle legate's data plane
// uses (workers/net/). A child process accepts N connections and keeps them; this process
// opens them, each sends one PING, and reads the child's VmRSS.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';

const NET_SOCKET = `
const net = require('node:net');
const keep = [];
const server = net.createServer((s) => { keep.push(s); });
server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));
`;

// As workers/net/stream.ts takes a connection: one shared read buffer, reading started.
const BARE_HANDLE = `
const { TCP, constants } = process.binding('tcp_wrap');
const server = new TCP(constants.SERVER);
const buffer = Buffer.allocUnsafeSlow(65536);
const keep = [];
server.bind('127.0.0.1', 0);
server.listen(511);
server.onconnection = (err, h) => {
  if (err) return;
  h.onread = () => {};
  h.useUserBuffer(buffer);
  h.readStart();
  keep.push(h);
};
const out = {};
server.getsockname(out);
process.stdout.write(String(out.port) + '\\n');
`;

function rssKb(pid: number): number {
  return Number(
    /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? Number.NaN,
  );
}

/** RSS growth in KB of a fresh Node process holding `count` idle accepted sockets. */
async function growth(childSource: string, count: number): Promise<number> {
  const child = spawn(process.execPath, ['-e', childSource], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
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
  const rows: string[] = [];
  for (const [name, source] of [
    ['net.Socket', NET_SOCKET],
    ['bare libuv handle', BARE_HANDLE],
  ] as const) {
    const a = await growth(source, small);
    const b = await growth(source, large);
    rows.push(
      `| ${name} | ${small} | ${a} | ${(a / small).toFixed(2)} | ${large} | ${b} | ${(b / large).toFixed(2)} | ${((b - a) / (large - small)).toFixed(2)} |`,
    );
  }
  process.stdout.write(
    `## Idle TCP connections in a bare Node ${process.versions.node} process\n\n` +
      '| kept as | sockets | RSS growth KB | KB each | sockets | RSS growth KB | KB each | KB at the margin |\n' +
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n' +
      `${rows.join('\n')}\n`,
  );
  return 0;
}
