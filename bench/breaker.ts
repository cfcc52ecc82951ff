// `npm run bench -- breaker`: the circuit-breaker ambassador against nginx and a direct backend.
//
// 1. Plain proxying (wrk: requests/s, p99; legate's CPU per request): direct, nginx with upstream keepalive, legate
//    without guards, legate with Envoy's circuit_breakers + outlier_detection configured.
// 2. Backend hung: once the host is ejected (consecutive timeouts), legate answers
//    `503 no healthy upstream` at once, and once the classic circuit is open, `503` with
//    Retry-After at once; nginx waits out proxy_read_timeout on every request. Beside wrk -cN,
//    one connection (wrk -c1) gives the fast path's own latency: with N connections on a busy
//    machine, p99 is mostly the time a request waits for the worker's turn on a core.
// 3. Cascade: an app-like client with a latency budget calls the hung backend through each;
//    how many calls get an answer (any answer: a fast 503 lets the app fall back) in budget.
//    The proxies' timeouts sit under the budget, as they should: a call the app abandons first
//    is reset by the proxy and never counts as a host failure (in Envoy as in legate).
//
// The backend runs in its own process; legate runs as a user runs it (`legate -c envoy.yaml -w N`,
// and a legate.yml for the unguarded and classic variants); nginx gets as many workers.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { waitForPort } from '../engine/cli/redis-process.ts';
import { seedEnvoyYaml } from './lib/envoy-yaml.ts';
import { cpuSeconds } from './lib/proc-stats.ts';
import {
  freePort,
  NODE,
  programVersion,
  ROOT,
  type RunningProcess,
  startLegate,
  track,
} from './lib/processes.ts';
import { fmt, fmtRps, markdownTable } from './lib/report.ts';
import { groupedBarChart } from './lib/svg.ts';
import { runWrk, type WrkResult } from './lib/wrk.ts';

const USAGE = `npm run bench -- breaker [options]

  --seconds N       length of each wrk run and of the cascade (default 10)
  --connections N   wrk connections (default 50)
  --rounds N        plain proxying: the targets take turns this many times, and the median run
                    of each is reported (default 3), so a busy machine's swings hit all alike
  --budget-ms N     the cascade client's latency budget per call (default 300)
  --timeout-ms N    route timeout (legate) and proxy_read_timeout (nginx), under the budget as
                    an ambassador's timeout should be (default 250)
  --workers N       legate worker threads and nginx worker_processes (default 1)
  --quick           1 s runs, 10 connections: proves the harness works, measures nothing
  --out DIR         where results go (default bench/results)
  -h, --help        this help
`;

interface Settings {
  readonly seconds: number;
  readonly connections: number;
  readonly rounds: number;
  readonly budgetMs: number;
  readonly timeoutMs: number;
  readonly workers: number;
  readonly quick: boolean;
  readonly out: string;
}

function settingsOf(argv: readonly string[]): Settings | undefined {
  const { values: v } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      seconds: { type: 'string' },
      connections: { type: 'string' },
      rounds: { type: 'string' },
      'budget-ms': { type: 'string' },
      'timeout-ms': { type: 'string' },
      workers: { type: 'string' },
      quick: { type: 'boolean' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) return undefined;
  const int = (name: string, raw: string | undefined, fallback: number) => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1)
      throw new Error(`--${name} needs a positive integer, got '${raw}'`);
    return n;
  };
  const quick = v.quick === true;
  return {
    seconds: int('seconds', v.seconds, quick ? 1 : 10),
    connections: int('connections', v.connections, quick ? 10 : 50),
    rounds: int('rounds', v.rounds, quick ? 1 : 3),
    budgetMs: int('budget-ms', v['budget-ms'], 300),
    timeoutMs: int('timeout-ms', v['timeout-ms'], 250),
    workers: int('workers', v.workers, 1),
    quick,
    out: v.out ?? join(ROOT, 'bench/results'),
  };
}

async function startBackend(port: number, mode: 'ok' | 'hang'): Promise<RunningProcess> {
  const proc = track(
    spawn(NODE, [join(ROOT, 'bench/lib/http-backend.ts'), String(port), mode], {
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  await waitForPort(port, proc.child, 10_000, 'the bench backend');
  return proc;
}

/** What legate runs: the envoy.yaml, the same proxy with no guard (nginx-like), or the classic breaker. */
type Variant = 'envoy' | 'plain' | 'classic';

/** The plain and classic variants in legate.yml terms: one upstream, `location /`, the same timeout. */
function nativeYaml(
  port: number,
  backend: number,
  variant: 'plain' | 'classic',
  timeoutMs: number,
): string {
  return [
    'http:',
    '  upstreams:',
    '    backend:',
    `      servers: [127.0.0.1:${backend}]`,
    // The classic breaker the bench trips: open after 5 calls at 50% failures, for longer than a run.
    ...(variant === 'classic'
      ? [
          '      breaker: { failure_rate: 50, window: 20, minimum_calls: 5, open_for: 600s, half_open_calls: 1 }',
        ]
      : []),
    '  servers:',
    `    - listen: 127.0.0.1:${port}`,
    '      locations:',
    variant === 'classic'
      ? `        - { path: /, upstream: backend, timeout: ${timeoutMs}ms }`
      : `        - { path: /, upstream: backend, read_timeout: ${timeoutMs} }`,
    '',
  ].join('\n');
}

/** `legate -c FILE -w N` as a user runs it, on its own admin port; waits for the listener. */
async function startLegateHttp(
  dir: string,
  port: number,
  backend: number,
  variant: Variant,
  st: Settings,
): Promise<RunningProcess> {
  const file = join(
    dir,
    variant === 'envoy' ? `envoy-${port}.yaml` : `legate-${variant}-${port}.yml`,
  );
  writeFileSync(
    file,
    variant === 'envoy'
      ? seedEnvoyYaml({
          port,
          backend,
          timeoutMs: st.timeoutMs,
          thresholds:
            '{ max_connections: 1024, max_pending_requests: 1024, max_requests: 1024, max_retries: 3 }',
          outlier:
            '{ consecutive_5xx: 5, interval: 1s, base_ejection_time: 30s, max_ejection_percent: 100 }',
        })
      : nativeYaml(port, backend, variant, st.timeoutMs),
  );
  const proc = await startLegate(file, st.workers, ['--admin', '127.0.0.1:0', '-s', '0']);
  await waitForPort(port, proc.child, 20_000, 'legate');
  return proc;
}

async function startNginx(
  dir: string,
  port: number,
  backend: number,
  st: Settings,
): Promise<RunningProcess> {
  const file = join(dir, 'nginx.conf');
  writeFileSync(
    file,
    `worker_processes ${st.workers};
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream backend { server 127.0.0.1:${backend}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_connect_timeout 250ms;
      proxy_read_timeout ${st.timeoutMs}ms;
    }
  }
}
`,
  );
  const proc = track(
    spawn(
      'nginx',
      ['-p', dir, '-c', file, '-g', `daemon off; pid ${join(dir, 'nginx.pid')}; error_log stderr;`],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    ),
  );
  await waitForPort(port, proc.child, 10_000, 'nginx');
  return proc;
}

/** The run with the median requests/s (the lower middle one of an even count), whole: its latencies go with it. */
function medianRun(runs: readonly WrkResult[]): WrkResult {
  const sorted = [...runs].sort((a, b) => a.rps - b.rps);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

interface CascadeResult {
  readonly calls: number;
  readonly inBudget: number;
  readonly statuses: Record<string, number>;
}

/** `concurrency` app loops calling `url` for `seconds`, each call abandoned at the budget. */
async function cascade(
  url: string,
  seconds: number,
  concurrency: number,
  budgetMs: number,
): Promise<CascadeResult> {
  const deadline = performance.now() + seconds * 1000;
  let calls = 0;
  let inBudget = 0;
  const statuses: Record<string, number> = {};
  const loop = async () => {
    while (performance.now() < deadline) {
      calls++;
      const t0 = performance.now();
      let key = 'over budget';
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(budgetMs) });
        await res.arrayBuffer();
        key = String(res.status);
        if (performance.now() - t0 <= budgetMs) inBudget++;
      } catch {
        // The app gave up at its budget (or the connection failed): no answer in time.
      }
      statuses[key] = (statuses[key] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { calls, inBudget, statuses };
}

/** Enough concurrent requests to make consecutive_5xx timeouts eject the host, or open the classic circuit. */
async function trip(url: string): Promise<void> {
  await Promise.all(
    Array.from({ length: 5 }, () =>
      fetch(url)
        .then((r) => r.arrayBuffer())
        .catch(() => undefined),
    ),
  );
}

export async function main(argv: readonly string[]): Promise<number> {
  const s = settingsOf(argv);
  if (s === undefined) {
    process.stdout.write(USAGE);
    return 0;
  }
  const dir = mkdtempSync(join(tmpdir(), 'legate-bench-breaker-'));
  const running: RunningProcess[] = [];
  const wrk = (port: number) =>
    runWrk(`http://127.0.0.1:${port}/`, {
      seconds: s.seconds,
      connections: s.connections,
      threads: 2,
      timeoutS: 5,
    });
  // One connection, one request at a time: what a single fast 503 costs, without queueing.
  const probe = (port: number) =>
    runWrk(`http://127.0.0.1:${port}/`, {
      seconds: s.seconds,
      connections: 1,
      threads: 1,
      timeoutS: 5,
    });
  try {
    const backendPort = await freePort();
    const [legatePort, plainPort, nginxPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
    ];

    // 1. Plain proxying.
    let backend = await startBackend(backendPort, 'ok');
    running.push(backend);
    const plain: Record<string, WrkResult> = {};
    const nginx = await startNginx(dir, nginxPort, backendPort, s);
    running.push(nginx);
    const legatePlain = await startLegateHttp(dir, plainPort, backendPort, 'plain', s);
    running.push(legatePlain);
    let legate = await startLegateHttp(dir, legatePort, backendPort, 'envoy', s);
    running.push(legate);
    // legate's CPU per request (all its threads, from /proc): a busy machine slows a process
    // down, but what one request costs it moves much less than requests/s does.
    const targets: [string, number, number | null][] = [
      ['direct', backendPort, null],
      ['nginx keepalive', nginxPort, null],
      ['legate, no breaker', plainPort, legatePlain.child.pid ?? null],
      ['legate + breakers', legatePort, legate.child.pid ?? null],
    ];
    // In turns, not one target after the other: on a shared machine the load moves within
    // seconds, and a target measured alone in a bad minute looks slower than it is.
    const runs: Record<string, WrkResult[]> = {};
    const cpuUs: Record<string, number[]> = {};
    for (const [name, , pid] of targets) {
      runs[name] = [];
      if (pid !== null) cpuUs[name] = [];
    }
    for (let round = 1; round <= s.rounds; round++)
      for (const [name, port, pid] of targets) {
        process.stderr.write(`plain: ${name} (round ${round}/${s.rounds})…\n`);
        const before = pid === null ? 0 : cpuSeconds(pid);
        const r = await wrk(port);
        runs[name].push(r);
        if (pid !== null)
          cpuUs[name].push(((cpuSeconds(pid) - before) * 1e6) / Math.max(1, r.requests));
      }
    for (const [name] of targets) plain[name] = medianRun(runs[name]);
    await legatePlain.stop();
    await legate.stop();
    await backend.stop();

    // 2. Backend hung.
    backend = await startBackend(backendPort, 'hang');
    running.push(backend);
    legate = await startLegateHttp(dir, legatePort, backendPort, 'envoy', s);
    running.push(legate);
    process.stderr.write('hung: tripping legate…\n');
    await trip(`http://127.0.0.1:${legatePort}/`);
    const hung: Record<string, WrkResult> = {};
    process.stderr.write('hung: legate…\n');
    hung['legate (ejected, 503 at once)'] = await wrk(legatePort);
    hung['legate (ejected), wrk -c1'] = await probe(legatePort);
    await legate.stop();
    legate = await startLegateHttp(dir, legatePort, backendPort, 'classic', s);
    running.push(legate);
    process.stderr.write('hung: tripping the classic breaker…\n');
    await trip(`http://127.0.0.1:${legatePort}/`);
    process.stderr.write('hung: legate classic breaker…\n');
    hung['legate classic breaker (open, 503 at once)'] = await wrk(legatePort);
    hung['legate classic breaker (open), wrk -c1'] = await probe(legatePort);
    process.stderr.write('hung: nginx…\n');
    hung['nginx (waits proxy_read_timeout)'] = await wrk(nginxPort);
    await legate.stop();

    // 3. Cascade, from a fresh legate: the first calls wait, then the breaker answers at once.
    legate = await startLegateHttp(dir, legatePort, backendPort, 'envoy', s);
    running.push(legate);
    const casc: Record<string, CascadeResult> = {};
    for (const [name, port] of [
      ['direct', backendPort],
      ['nginx', nginxPort],
      ['legate', legatePort],
    ] as const) {
      process.stderr.write(`cascade: ${name}…\n`);
      casc[name] = await cascade(`http://127.0.0.1:${port}/`, s.seconds, 20, s.budgetMs);
    }

    const report = [
      `### Plain proxying (wrk -c${s.connections}, ${s.seconds} s; each target's median run of ${s.rounds} taken in turns; legate's CPU per request: the median over its runs${s.quick ? '; --quick: measures nothing' : ''})`,
      '',
      markdownTable(
        ['target', 'requests/s', 'p50 ms', 'p99 ms', 'non-2xx', 'legate CPU µs/request'],
        Object.entries(plain).map(([n, r]) => [
          n,
          fmtRps(r.rps),
          fmt(r.p50Ms),
          fmt(r.p99Ms),
          String(r.non2xx),
          cpuUs[n] === undefined ? '–' : fmt(median(cpuUs[n]), 1),
        ]),
        [false, true, true, true, true, true],
      ),
      '',
      `### Backend hung (route timeout / proxy_read_timeout ${s.timeoutMs} ms; wrk -c${s.connections}, and -c1 where it says)`,
      '',
      markdownTable(
        ['target', 'answers/s', 'p50 ms', 'p99 ms', 'non-2xx', 'wrk timeouts'],
        Object.entries(hung).map(([n, r]) => [
          n,
          fmtRps(r.rps),
          fmt(r.p50Ms, 3),
          fmt(r.p99Ms, 3),
          String(r.non2xx),
          String(r.timeouts),
        ]),
        [false, true, true, true, true, true],
      ),
      '',
      `### Cascade: 20 app loops, ${s.budgetMs} ms budget per call, ${s.seconds} s, backend hung`,
      '',
      markdownTable(
        ['through', 'calls', 'answered in budget', 'share', 'answers'],
        Object.entries(casc).map(([n, c]) => [
          n,
          String(c.calls),
          String(c.inBudget),
          `${fmt((100 * c.inBudget) / Math.max(1, c.calls), 1)}%`,
          Object.entries(c.statuses)
            .map(([k, v]) => `${k}: ${v}`)
            .join(', '),
        ]),
        [false, true, true, true, false],
      ),
      '',
    ].join('\n');
    process.stdout.write(report);
    mkdirSync(s.out, { recursive: true });
    writeFileSync(
      join(s.out, 'breaker.json'),
      `${JSON.stringify({ settings: s, nginx: programVersion('nginx', '-v'), wrk: programVersion('wrk', '-v'), plain, plainRuns: runs, legateCpuUsPerRequest: cpuUs, hung, cascade: casc }, (k, v) => (k === 'raw' ? undefined : v), 2)}\n`,
    );
    writeFileSync(
      join(s.out, 'README-breaker.svg'),
      groupedBarChart({
        title: 'Circuit breaker ambassador',
        subtitle: `wrk -c${s.connections}; backend hung: route timeout ${s.timeoutMs} ms; cascade budget ${s.budgetMs} ms`,
        groups: ['plain: requests/s', 'hung: answers/s', 'cascade: calls in budget'],
        series: [
          { name: 'direct', values: [plain.direct.rps, null, casc.direct.inBudget] },
          {
            name: 'nginx keepalive',
            values: [
              plain['nginx keepalive'].rps,
              hung['nginx (waits proxy_read_timeout)'].rps,
              casc.nginx.inBudget,
            ],
          },
          { name: 'legate, no breaker', values: [plain['legate, no breaker'].rps, null, null] },
          {
            name: 'legate + breakers',
            values: [
              plain['legate + breakers'].rps,
              hung['legate (ejected, 503 at once)'].rps,
              casc.legate.inBudget,
            ],
          },
          {
            name: 'legate classic breaker',
            values: [null, hung['legate classic breaker (open, 503 at once)'].rps, null],
          },
        ],
        yLabel: 'per second / calls',
      }),
    );
    return 0;
  } finally {
    for (const p of running) await p.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
