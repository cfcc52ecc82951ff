/**
 * `legate demo` (what `npm start` runs): the seed's four ambassadors, each on its seed port on
 * 127.0.0.1, in one legate process serving one config, in front of backends the demo starts
 * (redis-server shards, PostgreSQL, two web variants, a flaky backend). Ctrl-C stops legate
 * and every backend.
 */
import { parseConfig } from '../../config/load.ts';
import { runProxy } from '../../supervisor/run.ts';
import type { ParsedArgs } from '../args.ts';
import { parseHostPort, runOptions } from '../main.ts';
import { acceptsConnections, freePort } from '../redis-process.ts';
import { BREAKER_TITLE, startBreakerPod } from './breaker.ts';
import { BROKER_TITLE, startBrokerPod } from './broker.ts';
import { demoConfigText } from './config.ts';
import { isPod, type Pod, type PodResult } from './pod.ts';
import { type ChosenPort, choosePort } from './ports.ts';
import { REDIS_TITLE, startRedisPod } from './redis.ts';
import { HeldSignals } from './signals.ts';
import { SPLITTER_TITLE, startSplitterPod } from './splitter.ts';

/** The seed's ports, and where the demo goes when one cannot be bound. */
export const SEED_PORTS = {
  redis: [6379],
  broker: [5432],
  splitter: [80, 8080],
  breaker: [8001],
  admin: [9909],
  stats: [22222],
} as const;

interface PodPlan {
  readonly title: string;
  readonly ports: readonly number[];
  readonly start: (listen: ChosenPort) => Promise<Pod>;
}

const PLANS: readonly PodPlan[] = [
  {
    title: REDIS_TITLE,
    ports: SEED_PORTS.redis,
    start: startRedisPod,
  },
  {
    title: BROKER_TITLE,
    ports: SEED_PORTS.broker,
    start: (listen) => startBrokerPod(listen),
  },
  {
    title: SPLITTER_TITLE,
    ports: SEED_PORTS.splitter,
    start: startSplitterPod,
  },
  {
    title: BREAKER_TITLE,
    ports: SEED_PORTS.breaker,
    start: startBreakerPod,
  },
];

/** The admin address: --admin / LEGATE_ADMIN (port 0: a free one), else 9909 or a free port. */
async function adminPort(args: ParsedArgs): Promise<ChosenPort> {
  const given = args.options.get('admin') ?? process.env.LEGATE_ADMIN;
  if (given === undefined) return choosePort(SEED_PORTS.admin);
  const { port } = parseHostPort(given, args.options.has('admin') ? '--admin' : 'LEGATE_ADMIN');
  return { port: port === 0 ? await freePort() : port, note: null };
}

/** Starts each pod; one whose backends cannot start here (redis-server not installed, …) is skipped, with why. */
async function startPods(held: HeldSignals): Promise<PodResult[]> {
  const out: PodResult[] = [];
  for (const plan of PLANS) {
    if (held.received !== null) break;
    try {
      out.push(await plan.start(await choosePort(plan.ports)));
    } catch (err) {
      out.push({ title: plan.title, reason: `did not start: ${(err as Error).message}` });
    }
  }
  return out;
}

/** Which pods answer on their port (a TCP connect), so the banner never claims one that does not. */
async function answering(pods: readonly Pod[]): Promise<Set<Pod>> {
  const ok = await Promise.all(pods.map((p) => acceptsConnections(p.port)));
  return new Set(pods.filter((_, i) => ok[i]));
}

function banner(
  pods: readonly PodResult[],
  up: ReadonlySet<Pod>,
  admin: ChosenPort,
  stats: ChosenPort | null,
): string {
  const lines = [`legate demo: the seed's ambassadors in one legate process (pid ${process.pid})`];
  for (const p of pods) {
    lines.push('');
    if (!isPod(p)) {
      lines.push(`  ${p.title}: skipped, ${p.reason}`);
      continue;
    }
    if (!up.has(p)) {
      lines.push(`  ${p.title}: NOT answering on 127.0.0.1:${p.port}`);
      continue;
    }
    lines.push(`  ${p.title} on 127.0.0.1:${p.port}`);
    for (const note of p.notes) lines.push(`    ${note}`);
    lines.push(...p.tryIt.map((cmd, i) => `    ${i === 0 ? 'try:' : '    '}  ${cmd}`));
  }
  const a = admin.port;
  const top =
    a === SEED_PORTS.admin[0] ? 'npx legate top' : `npx legate top --admin 127.0.0.1:${a}`;
  lines.push('', `  admin: http://127.0.0.1:${a}/stats   http://127.0.0.1:${a}/metrics   ${top}`);
  if (admin.note !== null) lines.push(`    admin ${admin.note}`);
  if (stats?.note) lines.push(`    twemproxy stats ${stats.note}`);
  lines.push('Ctrl-C stops legate and every backend the demo started.', '');
  return lines.join('\n');
}

export async function runDemo(args: ParsedArgs): Promise<number> {
  const held = new HeldSignals();
  let pods: PodResult[] = [];
  try {
    pods = await startPods(held);
    const running = pods.filter(isPod);
    if (held.received !== null) return 130;
    if (running.length === 0) {
      for (const p of pods)
        if (!isPod(p)) process.stderr.write(`legate demo: ${p.title}: ${p.reason}\n`);
      return 1;
    }
    const admin = await adminPort(args);
    const config = parseConfig(
      demoConfigText(
        running.map((p) => p.config),
        admin.port,
      ),
      '(legate demo)',
    );
    const options = runOptions(config, args);
    const stats = args.options.has('stats-port') ? null : await choosePort(SEED_PORTS.stats);
    return await runProxy(config, {
      ...options,
      admin: { host: '127.0.0.1', port: admin.port },
      statsPort: stats?.port ?? options.statsPort,
      onServing: () => {
        const interrupted = held.received !== null;
        held.release();
        if (!interrupted)
          void answering(running).then((up) =>
            process.stderr.write(banner(pods, up, admin, stats)),
          );
      },
    });
  } finally {
    held.end();
    const teardown = new HeldSignals();
    await Promise.all(pods.filter(isPod).map((p) => p.stop()));
    teardown.end();
  }
}
