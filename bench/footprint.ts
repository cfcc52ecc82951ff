// What legate costs at rest and how fast it is ready, beside the peers this machine has:
// resident memory (VmRSS, summed over a process and its children) at rest, right after a
// redis-benchmark load, and after the clients left and it sat idle; time from exec to the first
// PING answered. legate runs with -w 1 and -w 2, on bare libuv handles and on net.Socket
// (LEGATE_NET=node), over three local redis-server shards; nutcracker over the same shards;
// HAProxy (mode tcp) and nginx idle, as the other sidecars a pod might run instead.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  freePort,
  LEGATE_BIN,
  NODE,
  type RedisProcess,
  startRedisServer,
} from './lib/processes.ts';
import { fmt, markdownTable, median } from './lib/report.ts';

const USAGE = `npm run bench -- footprint [options]

Resident memory at rest, after a redis-benchmark load and after idling, and time to ready
(exec → first PING answered), for legate (-w 1, -w 2; bare handles and LEGATE_NET=node) and
the peers installed here (nutcracker, haproxy, nginx). Prints a markdown table.

  --ready-rounds N   starts timed per target (default 15)
  --requests N       redis-benchmark -n per test of the load (default 200000)
  --idle S           seconds to wait idle after the load (default 60)
  --value-bytes N    redis-benchmark -d: value size of the load (default 3; e.g. 1000000
                     for the large-value load that issue 15.4 saw memory stay after)
  --only a,b         targets by name (e.g. 'legate -w 2,nutcracker')
  --quick            2 starts, 2000 requests, 3 s idle: proves the harness, measures nothing
  -h, --help         this help
`;

interface Started {
  readonly pid: number;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

interface Target {
  readonly name: string;
  /** Serves Redis through to the shards (so the load applies). */
  readonly redis: boolean;
  readonly available: boolean;
  start(port: number): Started;
}

interface Row {
  name: string;
  readyMs: number | null;
  restMb: number | null;
  loadMb: number | null;
  idleMb: number | null;
  /** Seconds of idleness until RSS was within 2× of at rest, null if never within --idle. */
  backInS: number | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function has(program: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${program}`]).status === 0;
}

/** VmRSS in KB of `pid` and every descendant (nginx and haproxy fork workers). */
export function treeRssKb(pid: number): number {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      parent.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  let total = 0;
  const todo = [pid];
  while (todo.length > 0) {
    const p = todo.pop() as number;
    try {
      const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      total += Number(m?.[1] ?? 0);
    } catch {
      continue;
    }
    for (const [child, pp] of parent) if (pp === p) todo.push(child);
  }
  return total;
}

/** Resolves when a PING on `port` is answered; the time from `t0` in ms. */
async function firstPong(
  port: number,
  t0: number,
  child: ChildProcess,
  limitMs = 20000,
): Promise<number> {
  for (;;) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode} before ready`);
    if (performance.now() - t0 > limitMs) throw new Error(`not ready in ${limitMs} ms`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.setNoDelay(true);
      let got = '';
      s.once('connect', () => s.write('*1\r\n$4\r\nPING\r\n'));
      s.on('data', (d) => {
        got += d.toString();
        if (got.includes('\r\n')) {
          s.destroy();
          resolve(got.startsWith('+PONG'));
        }
      });
      s.once('error', () => resolve(false));
      s.once('close', () => resolve(got.startsWith('+PONG')));
    });
    if (ok) return performance.now() - t0;
    await sleep(2);
  }
}

/** Resolves when `port` accepts a TCP connection (peers that do not speak Redis). */
async function accepting(port: number, t0: number, limitMs = 10000): Promise<number> {
  for (;;) {
    if (performance.now() - t0 > limitMs) throw new Error(`not listening in ${limitMs} ms`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return performance.now() - t0;
    await sleep(2);
  }
}

function started(child: ChildProcess): Started {
  if (child.pid === undefined) throw new Error(`could not spawn ${child.spawnfile}`);
  return {
    pid: child.pid,
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function targets(dir: string, shards: readonly number[], adminPort: number): Target[] {
  const servers = shards.map((p) => `    - 127.0.0.1:${p}:1`).join('\n');
  const nutcrackerYml = (port: number) =>
    `alpha:\n  listen: 127.0.0.1:${port}\n  redis: true\n  hash: fnv1a_64\n  distribution: ketama\n  servers:\n${servers}\n`;
  const legate = (workers: number, net: 'uv' | 'node'): Target => ({
    name: `legate -w ${workers}${net === 'node' ? ' LEGATE_NET=node' : ''}`,
    redis: true,
    available: true,
    start(port) {
      const file = join(dir, `legate-${port}.yml`);
      writeFileSync(file, nutcrackerYml(port));
      const child = spawn(
        NODE,
        [
          LEGATE_BIN,
          '-c',
          file,
          '-w',
          String(workers),
          '-s',
          '0',
          '--admin',
          `127.0.0.1:${adminPort}`,
        ],
        {
          stdio: ['ignore', 'ignore', 'inherit'],
          env: { ...process.env, LEGATE_NET: net, LEGATE_LOG_LEVEL: 'warn' },
        },
      );
      return started(child);
    },
  });
  return [
    legate(1, 'uv'),
    legate(2, 'uv'),
    legate(1, 'node'),
    legate(2, 'node'),
    {
      name: 'nutcracker',
      redis: true,
      available: has('nutcracker'),
      start(port) {
        const file = join(dir, `nutcracker-${port}.yml`);
        writeFileSync(file, nutcrackerYml(port));
        return started(
          spawn('nutcracker', ['-c', file, '-s', String(adminPort), '-a', '127.0.0.1'], {
            stdio: 'ignore',
          }),
        );
      },
    },
    {
      // One process (nbthread 1), mode tcp over the same shards: what a broker sidecar costs.
      name: 'haproxy (tcp, idle)',
      redis: false,
      available: has('haproxy'),
      start(port) {
        const file = join(dir, `haproxy-${port}.cfg`);
        writeFileSync(
          file,
          `global\n  nbthread 1\ndefaults\n  mode tcp\n  timeout connect 1s\n  timeout client 60s\n  timeout server 60s\nlisten redis\n  bind 127.0.0.1:${port}\n${shards.map((p, i) => `  server s${i} 127.0.0.1:${p}`).join('\n')}\n`,
        );
        return started(spawn('haproxy', ['-f', file, '-db'], { stdio: 'ignore' }));
      },
    },
    {
      // Debian's nginx has no stream module installed here: an idle HTTP server, one worker.
      name: 'nginx (http, idle)',
      redis: false,
      available: has('nginx'),
      start(port) {
        const prefix = mkdtempSync(join(dir, 'nginx-'));
        const file = join(prefix, 'nginx.conf');
        writeFileSync(
          file,
          `daemon off;\nworker_processes 1;\npid ${prefix}/nginx.pid;\nerror_log ${prefix}/error.log;\nevents { worker_connections 1024; }\nhttp {\n  access_log off;\n  client_body_temp_path ${prefix};\n  proxy_temp_path ${prefix};\n  fastcgi_temp_path ${prefix};\n  uwsgi_temp_path ${prefix};\n  scgi_temp_path ${prefix};\n  server { listen 127.0.0.1:${port}; return 200 "ok\\n"; }\n}\n`,
        );
        return started(spawn('nginx', ['-p', prefix, '-c', file], { stdio: 'ignore' }));
      },
    },
  ];
}

/** redis-benchmark's default tests that legate routes, pipelined and not. */
function load(port: number, requests: number, valueBytes: number): void {
  for (const pipeline of ['16', '1']) {
    const r = spawnSync(
      'redis-benchmark',
      [
        '-p',
        String(port),
        '-c',
        '50',
        '-r',
        '100000',
        '-n',
        String(requests),
        '-P',
        pipeline,
        '-d',
        String(valueBytes),
        '-t',
        'set,get,incr,lpush,mset',
        '-q',
      ],
      { encoding: 'utf8', timeout: 600000 },
    );
    if (r.status !== 0) throw new Error(`redis-benchmark failed: ${r.stderr}`);
  }
}

async function measure(
  target: Target,
  rounds: number,
  requests: number,
  idleS: number,
  valueBytes: number,
): Promise<Row> {
  const readies: number[] = [];
  let rest: number | null = null;
  let loaded: number | null = null;
  let idle: number | null = null;
  let backIn: number | null = null;
  for (let i = 0; i < rounds; i++) {
    const port = await freePort();
    const t0 = performance.now();
    const proc = target.start(port);
    try {
      readies.push(
        target.redis ? await firstPong(port, t0, proc.child) : await accepting(port, t0),
      );
      if (i < rounds - 1) continue;
      // The last start is measured for memory: settled first (startup garbage collected).
      await sleep(3000);
      rest = treeRssKb(proc.pid);
      if (!target.redis) continue;
      load(port, requests, valueBytes);
      loaded = treeRssKb(proc.pid);
      const started = performance.now();
      for (;;) {
        await sleep(1000);
        const now = treeRssKb(proc.pid);
        const s = (performance.now() - started) / 1000;
        if (backIn === null && now <= 2 * rest) backIn = Math.round(s);
        if (s >= idleS) {
          idle = now;
          break;
        }
      }
    } finally {
      await proc.stop();
    }
  }
  const mb = (kb: number | null) => (kb === null ? null : kb / 1024);
  return {
    name: target.name,
    readyMs: median(readies),
    restMb: mb(rest),
    loadMb: mb(loaded),
    idleMb: mb(idle),
    backInS: backIn,
  };
}

export async function main(argv: readonly string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      'ready-rounds': { type: 'string' },
      requests: { type: 'string' },
      idle: { type: 'string' },
      'value-bytes': { type: 'string' },
      only: { type: 'string' },
      quick: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const quick = v.quick === true;
  const rounds = Number(v['ready-rounds'] ?? (quick ? 2 : 15));
  const requests = Number(v.requests ?? (quick ? 2000 : 200000));
  const idleS = Number(v.idle ?? (quick ? 3 : 60));
  const valueBytes = Number(v['value-bytes'] ?? 3);
  for (const [name, n] of [
    ['--ready-rounds', rounds],
    ['--requests', requests],
    ['--idle', idleS],
    ['--value-bytes', valueBytes],
  ] as const)
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name} needs a positive integer`);
  const only = v.only?.split(',').map((s) => s.trim());
  const dir = mkdtempSync(join(tmpdir(), 'legate-footprint-'));
  const shards: RedisProcess[] = [];
  try {
    for (let i = 0; i < 3; i++) shards.push(await startRedisServer());
    const all = targets(
      dir,
      shards.map((s) => s.port),
      await freePort(),
    );
    const rows: Row[] = [];
    for (const t of all) {
      if (only !== undefined && !only.includes(t.name)) continue;
      if (!t.available) {
        process.stderr.write(`${t.name}: not installed, skipped\n`);
        continue;
      }
      process.stderr.write(`${t.name}…\n`);
      rows.push(await measure(t, rounds, requests, idleS, valueBytes));
    }
    process.stdout.write(
      `## Footprint: Node ${process.versions.node}, ${rounds} starts per target, load ` +
        `redis-benchmark -c 50 -n ${requests} -d ${valueBytes} -t set,get,incr,lpush,mset at -P 16 then -P 1, ` +
        `idle ${idleS} s\n\n${markdownTable(
          [
            'target',
            'ready ms (median)',
            'RSS at rest MB',
            'after load MB',
            `after ${idleS} s idle MB`,
            'back within 2× after s',
          ],
          rows.map((r) => [
            r.name,
            fmt(r.readyMs, 0),
            fmt(r.restMb, 1),
            fmt(r.loadMb, 1),
            fmt(r.idleMb, 1),
            r.backInS === null ? (r.loadMb === null ? '—' : 'no') : String(r.backInS),
          ]),
          [false, true, true, true, true, true],
        )}\n`,
    );
    return 0;
  } finally {
    for (const s of shards) await s.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
