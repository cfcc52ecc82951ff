// `npm run bench -- http`: the HTTP engine against nginx with the seed's A/B config, nginx with
// upstream keepalive, and one backend directly, with wrk. Every target runs in every round,
// interleaved with the order rotated, and the report gives medians and ratios (DESIGN.md,
// "Measuring"). Backends: two nginx servers returning a small static body (the seed's
// web-prod and web-experiment, weights 9:1). legate runs as a user runs it, `legate -c nginx.conf
// -w N` on the seed's config: the node engine on this host, and uWebSockets.js here or, where its
// glibc is too old, in the Debian 13 root (scripts/debian13-run.sh, needs root).
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { rssKb } from './lib/proc-stats.ts';
import { freePort, NODE, ROOT, type RunningProcess, track } from './lib/processes.ts';
import { fmt, fmtRatio, fmtRps, markdownTable, median, ratio } from './lib/report.ts';

const TARGETS = ['legate-uws', 'legate-node', 'nginx-seed', 'nginx-keepalive', 'direct'] as const;
type TargetId = (typeof TARGETS)[number];

interface Settings {
  rounds: number;
  durationS: number;
  connections: number;
  threads: number;
  workers: number;
  idleClients: number;
  targets: TargetId[];
}

const USAGE = `npm run bench -- http [options]
  --rounds N        interleaved rounds (default 5)
  --duration S      seconds of wrk per target per round (default 10)
  --connections C   wrk connections (default 50)
  --threads T       wrk threads (default 2)
  --workers W       legate worker threads and nginx worker_processes (default 2)
  --idle N          idle keep-alive clients for the memory figure (default 1000; 0: skip)
  --targets LIST    comma-separated, of ${TARGETS.join(',')} (default all)
  --quick           a smoke run: 1 round of 1 s, 10 idle clients
`;

function parse(argv: readonly string[]): Settings | null {
  const s: Settings = {
    rounds: 5,
    durationS: 10,
    connections: 50,
    threads: 2,
    workers: 2,
    idleClients: 1000,
    targets: [...TARGETS],
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const int = () => {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 0) throw new Error(`${a} needs a whole number`);
      return n;
    };
    if (a === '-h' || a === '--help') return null;
    else if (a === '--rounds') s.rounds = Math.max(1, int());
    else if (a === '--duration') s.durationS = Math.max(1, int());
    else if (a === '--connections') s.connections = Math.max(1, int());
    else if (a === '--threads') s.threads = Math.max(1, int());
    else if (a === '--workers') s.workers = Math.max(1, int());
    else if (a === '--idle') s.idleClients = int();
    else if (a === '--quick') Object.assign(s, { rounds: 1, durationS: 1, idleClients: 10 });
    else if (a === '--targets') {
      const list = value().split(',');
      for (const t of list)
        if (!(TARGETS as readonly string[]).includes(t)) throw new Error(`unknown target ${t}`);
      s.targets = list as TargetId[];
    } else throw new Error(`unknown option ${a}`);
  }
  return s;
}

const started = Date.now();
function progress(message: string): void {
  process.stderr.write(
    `[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] ${message}\n`,
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitFor(
  proc: RunningProcess,
  pattern: RegExp,
  what: string,
  timeoutMs = 60_000,
): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = pattern.exec(proc.output());
    if (m) return m;
    if (proc.exited()) throw new Error(`${what} exited (${proc.exitStatus()}): ${proc.output()}`);
    if (Date.now() > deadline)
      throw new Error(`${what}: no ${pattern} in ${timeoutMs} ms: ${proc.output()}`);
    await sleep(50);
  }
}

async function waitPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port}`);
    await sleep(50);
  }
}

/** An nginx (Debian's 1.22) with `http` block text, its files in a temp dir. */
async function startNginx(dir: string, name: string, workers: number, http: string, port: number) {
  const prefix = join(dir, name);
  rmSync(prefix, { recursive: true, force: true });
  const conf = join(dir, `${name}.conf`);
  writeFileSync(
    conf,
    [
      `worker_processes ${workers};`,
      `pid ${prefix}.pid;`,
      `error_log ${prefix}.error.log warn;`,
      'events { worker_connections 4096; }',
      'http {',
      '  access_log off;',
      `  client_body_temp_path ${prefix}.body; proxy_temp_path ${prefix}.proxy;`,
      `  fastcgi_temp_path ${prefix}.fcgi; uwsgi_temp_path ${prefix}.uwsgi; scgi_temp_path ${prefix}.scgi;`,
      http,
      '}',
      '',
    ].join('\n'),
  );
  const proc = track(
    spawn('nginx', ['-p', dir, '-c', conf, '-g', 'daemon off;'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  await waitPort(port);
  return proc;
}

/** The seed's upstream: web-prod weight 9, web-experiment weight 1, ip_hash. */
function seedUpstream(prod: number, experiment: number, keepalive: boolean): string {
  return [
    '  upstream backend {',
    '    ip_hash;',
    `    server 127.0.0.1:${prod} weight=9;`,
    `    server 127.0.0.1:${experiment} weight=1;`,
    keepalive ? '    keepalive 64;' : '',
    '  }',
  ].join('\n');
}

/** The seed's ConfigMap as nginx and legate both read it (its servers on loopback ports). */
function seedConf(port: number, prod: number, experiment: number, keepalive: boolean): string {
  return [
    seedUpstream(prod, experiment, keepalive),
    `  server { listen 127.0.0.1:${port}; location / { proxy_pass http://backend;${keepalive ? ' proxy_http_version 1.1; proxy_set_header Connection "";' : ''} } }`,
    '',
  ].join('\n');
}

/** The same, said in legate.yml terms with the ingress engine pinned (for node where uWS loads). */
function seedYaml(port: number, prod: number, experiment: number, engine: 'uws' | 'node'): string {
  return [
    'http:',
    `  engine: ${engine}`,
    '  upstreams:',
    '    backend:',
    '      balancer: ip_hash',
    '      servers:',
    `        - { address: 127.0.0.1:${prod}, weight: 9 }`,
    `        - { address: 127.0.0.1:${experiment}, weight: 1 }`,
    '  servers:',
    `    - listen: 127.0.0.1:${port}`,
    '      locations: [{ path: /, upstream: backend }]',
    '',
  ].join('\n');
}

function uwsLoadsHere(): boolean {
  try {
    createRequire(import.meta.url)('uWebSockets.js');
    return true;
  } catch {
    return false;
  }
}

/** GET /stats from legate's admin endpoint: the ingress engine its workers run. */
async function legateEngine(adminPort: number): Promise<string | null> {
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${adminPort}/stats`);
      const stats = (await r.json()) as { http?: { engine: string | null } };
      if (stats.http?.engine) return stats.http.engine;
    } catch {
      // not answering yet
    }
    await sleep(100);
  }
  return null;
}

/**
 * `legate -c FILE -w N` as a user runs it: the seed's nginx.conf where the engine `auto` picks
 * is the one wanted (uWS in the Debian 13 root, node here when uWS does not load), else the
 * same config in legate.yml terms with the engine pinned.
 */
async function startLegate(
  dir: string,
  engine: 'uws' | 'node',
  workers: number,
  port: number,
  prod: number,
  experiment: number,
) {
  const args = (file: string) => [
    '-c',
    file,
    '-w',
    String(workers),
    '--admin',
    '127.0.0.1:0',
    '-s',
    '0',
  ];
  let proc: RunningProcess;
  const here = uwsLoadsHere();
  if (engine === 'node' || here) {
    const auto = (engine === 'uws') === here;
    const file = join(dir, auto ? `legate-${engine}.conf` : `legate-${engine}.yml`);
    writeFileSync(
      file,
      auto ? seedConf(port, prod, experiment, false) : seedYaml(port, prod, experiment, engine),
    );
    proc = track(
      spawn(NODE, [join(ROOT, 'bin/legate.js'), ...args(file)], {
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
  } else {
    if (process.getuid?.() !== 0)
      throw new Error(
        'uWebSockets.js does not load here and the Debian 13 root needs root: run as root, or --targets without legate-uws',
      );
    // The root sees the clone at /legate; the config goes there too (its /tmp is its own).
    const inRepo = join(ROOT, `.bench-http-${process.pid}.conf`);
    writeFileSync(inRepo, seedConf(port, prod, experiment, false));
    proc = track(
      spawn(
        'bash',
        [
          join(ROOT, 'scripts/debian13-run.sh'),
          '/legate/node_modules/node/bin/node',
          'bin/legate.js',
          ...args(`/legate/${relative(ROOT, inRepo)}`),
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      ),
    );
    proc.child.once('exit', () => rmSync(inRepo, { force: true }));
  }
  const m = await waitFor(proc, /"msg":"legate [^"]* started on pid (\d+)/, `legate (${engine})`);
  const admin = await waitFor(proc, /"msg":"admin listening on [^"]*:(\d+) /, `legate (${engine})`);
  const running = await legateEngine(Number(admin[1]));
  if (running !== engine) throw new Error(`legate runs on ${running}, not ${engine}`);
  return { proc, pid: Number(m[1]) };
}

interface WrkResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

function ms(text: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text);
  if (!m) return Number.NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

async function runWrk(port: number, s: Settings, durationS: number): Promise<WrkResult> {
  const proc = track(
    spawn(
      'wrk',
      [
        `-t${s.threads}`,
        `-c${s.connections}`,
        `-d${durationS}s`,
        '--latency',
        `http://127.0.0.1:${port}/`,
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    ),
  );
  await new Promise((r) => proc.child.once('exit', r));
  const out = proc.output();
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const p50 = /^\s+50%\s+(\S+)/m.exec(out);
  const p99 = /^\s+99%\s+(\S+)/m.exec(out);
  if (!rps || !p50 || !p99) throw new Error(`wrk said: ${out}`);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(
    out,
  );
  const errors =
    Number(non2xx?.[1] ?? 0) +
    (socketErrors ? socketErrors.slice(1).reduce((n, x) => n + Number(x), 0) : 0);
  return { rps: Number(rps[1]), p50Ms: ms(p50[1]), p99Ms: ms(p99[1]), errors };
}

/** Resident memory of a process and all its descendants (nginx: master and workers), KB. */
function treeRssKb(pid: number): number {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {
      // gone already
    }
  }
  let total = 0;
  const walk = (p: number) => {
    try {
      total += rssKb(p);
    } catch {
      return;
    }
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  return total;
}

/** Opens `count` keep-alive connections that each made one request, then sit idle. */
async function idleClients(port: number, count: number): Promise<Socket[]> {
  const sockets: Socket[] = [];
  for (let i = 0; i < count; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, count - i) }, async () => {
        const s = await new Promise<Socket>((resolve, reject) => {
          const c = connect(port, '127.0.0.1', () => resolve(c));
          c.once('error', reject);
        });
        s.on('error', () => {});
        sockets.push(s);
        await new Promise<void>((resolve) => {
          let got = '';
          s.on('data', (d: Buffer) => {
            got += d.toString('latin1');
            if (got.includes('\r\n\r\n')) resolve();
          });
          s.write('GET / HTTP/1.1\r\nHost: bench\r\n\r\n');
        });
      }),
    );
  }
  return sockets;
}

async function idleRssPerClient(port: number, pid: number, count: number): Promise<number> {
  await sleep(500);
  const before = treeRssKb(pid);
  const sockets = await idleClients(port, count);
  await sleep(1000);
  const after = treeRssKb(pid);
  for (const s of sockets) s.destroy();
  return ((after - before) * 1024) / count;
}

export async function main(argv: readonly string[]): Promise<number> {
  let s: Settings | null;
  try {
    s = parse(argv);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (s === null) {
    process.stdout.write(USAGE);
    return 0;
  }
  const dir = mkdtempSync(join(tmpdir(), 'legate-bench-http-'));
  const running: RunningProcess[] = [];
  try {
    const [prod, experiment] = [await freePort(), await freePort()];
    const body = 'return 200 "hello from the backend\\n";';
    running.push(
      await startNginx(
        dir,
        'backends',
        1,
        [
          `  server { listen 127.0.0.1:${prod}; location / { ${body} } }`,
          `  server { listen 127.0.0.1:${experiment}; location / { ${body} } }`,
        ].join('\n'),
        prod,
      ),
    );
    const ports = new Map<TargetId, number>();
    const pids = new Map<TargetId, number>();
    for (const t of s.targets) {
      if (t === 'direct') {
        ports.set(t, prod);
        continue;
      }
      const port = await freePort();
      ports.set(t, port);
      if (t === 'nginx-seed' || t === 'nginx-keepalive') {
        const keepalive = t === 'nginx-keepalive';
        const proc = await startNginx(
          dir,
          t,
          s.workers,
          seedConf(port, prod, experiment, keepalive),
          port,
        );
        running.push(proc);
        pids.set(t, proc.pid);
      } else {
        const engine = t === 'legate-uws' ? 'uws' : 'node';
        const { proc, pid } = await startLegate(dir, engine, s.workers, port, prod, experiment);
        running.push(proc);
        pids.set(t, pid);
      }
      progress(`${t} listening on 127.0.0.1:${port}`);
    }
    const results = new Map<TargetId, WrkResult[]>();
    for (let round = 0; round < s.rounds; round++) {
      const order = s.targets.map((_, i) => s.targets[(i + round) % s.targets.length]);
      for (const t of order) {
        const port = ports.get(t) as number;
        await runWrk(port, s, 1); // warm-up: connections, JIT
        const r = await runWrk(port, s, s.durationS);
        results.set(t, [...(results.get(t) ?? []), r]);
        progress(
          `round ${round + 1}/${s.rounds} ${t}: ${fmtRps(r.rps)} req/s, p50 ${fmt(r.p50Ms)} ms, p99 ${fmt(r.p99Ms)} ms${r.errors ? `, ${r.errors} errors` : ''}`,
        );
      }
    }
    const memory = new Map<TargetId, number>();
    if (s.idleClients > 0) {
      for (const t of s.targets) {
        const pid = pids.get(t);
        if (pid === undefined) continue;
        memory.set(t, await idleRssPerClient(ports.get(t) as number, pid, s.idleClients));
      }
    }
    const seedRps = median((results.get('nginx-seed') ?? []).map((r) => r.rps));
    const keepRps = median((results.get('nginx-keepalive') ?? []).map((r) => r.rps));
    const rows = s.targets.map((t) => {
      const rs = results.get(t) ?? [];
      const rps = median(rs.map((r) => r.rps));
      const mem = memory.get(t);
      return [
        t,
        fmtRps(rps),
        fmtRatio(ratio(rps, seedRps)),
        fmtRatio(ratio(rps, keepRps)),
        fmt(median(rs.map((r) => r.p50Ms))),
        fmt(median(rs.map((r) => r.p99Ms))),
        String(rs.reduce((n, r) => n + r.errors, 0)),
        mem === undefined ? '—' : `${fmt(mem / 1024, 1)} KB`,
      ];
    });
    process.stdout.write(
      `\nHTTP splitter, ${s.rounds} rounds × ${s.durationS} s, wrk -t${s.threads} -c${s.connections}, ${s.workers} workers; backends: nginx returning a 29-byte body; medians\n\n`,
    );
    process.stdout.write(
      `${markdownTable(
        [
          'target',
          'requests/s',
          'vs nginx seed',
          'vs nginx keepalive',
          'p50 ms',
          'p99 ms',
          'errors',
          `RSS per idle client (${s.idleClients})`,
        ],
        rows,
        [false, true, true, true, true, true, true, true],
      )}\n`,
    );
    return 0;
  } finally {
    for (const p of running.reverse()) await p.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
