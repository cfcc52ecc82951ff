// The Redis bench's report: medians and ratios, the goals, the markdown and the SVG charts.
import { cpus } from 'node:os';
import { type AdminStats, findPercentiles } from './admin.ts';
import {
  type Footprint,
  type Goal,
  type MemoryResult,
  type RunRecord,
  type Summary,
  TARGET_ORDER,
  type TargetId,
  TESTS,
} from './redis-model.ts';
import { fmt, fmtRatio, fmtRps, markdownTable, median, ratio } from './report.ts';
import { README_MIN_SECONDS, type Settings, type TestName } from './settings.ts';
import { groupedBarChart } from './svg.ts';

/** The map key for per-target, per-test, per-pipeline values (calibrated -n). */
export function key(target: TargetId, test: TestName, pipeline: number): string {
  return `${target}|${test}|${pipeline}`;
}

/** The run lengths of the report: the -n values, or [null] when calibrated per target. */
export function lengthsOf(settings: Settings): readonly (number | null)[] {
  return settings.requests ?? [null];
}

export function summarize(settings: Settings, runs: readonly RunRecord[]): Summary[] {
  const out: Summary[] = [];
  const sameLength = (r: RunRecord, requests: number | null) =>
    requests === null || r.requests === requests;
  const rpsIn = (
    target: TargetId,
    test: TestName,
    pipeline: number,
    requests: number | null,
    round: number,
  ) =>
    runs.find(
      (r) =>
        r.target === target &&
        r.test === test &&
        r.pipeline === pipeline &&
        sameLength(r, requests) &&
        r.round === round,
    )?.row?.rps ?? null;
  for (const pipeline of settings.pipelines) {
    for (const test of settings.tests) {
      for (const requests of lengthsOf(settings)) {
        for (const target of TARGET_ORDER) {
          const mine = runs.filter(
            (r) =>
              r.target === target &&
              r.test === test &&
              r.pipeline === pipeline &&
              sameLength(r, requests),
          );
          const ok = mine.filter((r) => r.row !== null);
          const paired = (peer: TargetId) =>
            target === peer
              ? null
              : median(
                  mine.map((r) =>
                    ratio(r.row?.rps ?? null, rpsIn(peer, test, pipeline, requests, r.round)),
                  ),
                );
          out.push({
            pipeline,
            test,
            requests,
            target,
            runs: mine.length,
            okRuns: ok.length,
            rps: median(ok.map((r) => r.row?.rps)),
            p50Ms: median(ok.map((r) => r.row?.p50Ms)),
            p99Ms: median(ok.map((r) => r.row?.p99Ms)),
            secondsPerRun: median(ok.map((r) => r.wallSeconds)),
            cpuSecondsPerRun: median(ok.map((r) => r.cpuSeconds)),
            cpuMicrosPerRequest: median(
              ok.map((r) => (r.cpuSeconds === null ? null : (r.cpuSeconds / r.requests) * 1e6)),
            ),
            shardCpuMicrosPerRequest: median(
              ok.map((r) =>
                r.shardCpuSeconds === null ? null : (r.shardCpuSeconds / r.requests) * 1e6,
              ),
            ),
            vsNutcracker: target === 'direct' ? null : paired('nutcracker'),
            vsDirect: paired('direct'),
          });
        }
      }
    }
  }
  return out;
}

/** The summary row of one target, test and pipeline at the longest run length. */
function longest(
  summary: readonly Summary[],
  target: TargetId,
  test: TestName,
  pipeline: number,
): Summary | undefined {
  const rows = summary.filter(
    (s) => s.target === target && s.test === test && s.pipeline === pipeline,
  );
  return rows[rows.length - 1];
}

export function goals(summary: readonly Summary[], mem: readonly MemoryResult[]): Goal[] {
  const out: Goal[] = [];
  // Goals read the longest runs: short ones flatter whoever slows down over time.
  const find = (target: TargetId, test: TestName, pipeline: number) =>
    longest(summary, target, test, pipeline);
  for (const target of ['legate-auto', 'legate-1'] as const) {
    for (const [pipeline, want] of [
      [16, 2.0],
      [1, 1.1],
    ] as const) {
      for (const test of ['set', 'get'] as const) {
        const s = find(target, test, pipeline);
        if (!s) continue;
        out.push({
          goal: `${TESTS[test].label} -P ${pipeline} rps ≥ ${want}× nutcracker${s.requests === null ? '' : ` (-n ${s.requests})`}`,
          target,
          measured: fmtRatio(s.vsNutcracker),
          met: s.vsNutcracker === null ? null : s.vsNutcracker >= want,
        });
      }
    }
    for (const test of ['set', 'get'] as const) {
      const rows = summary.filter(
        (s) => s.target === target && s.test === test && s.pipeline === 16 && s.requests !== null,
      );
      if (rows.length < 2) continue;
      const short = rows[0];
      const long = rows[rows.length - 1];
      const kept = ratio(long.rps, short.rps);
      out.push({
        goal: `${TESTS[test].label} -P 16 no run-length decay: rps at -n ${long.requests} ≥ 95% of -n ${short.requests}`,
        target,
        measured: kept === null ? '—' : `${(kept * 100).toFixed(1)}%`,
        met: kept === null ? null : kept >= 0.95,
      });
    }
    for (const test of ['set', 'get'] as const) {
      const s = find(target, test, 1);
      const n = find('nutcracker', test, 1);
      if (!s || !n) continue;
      out.push({
        goal: `${TESTS[test].label} -P 1 p99 ≤ nutcracker's`,
        target,
        measured: `${fmt(s.p99Ms, 3)} vs ${fmt(n.p99Ms, 3)} ms`,
        met: s.p99Ms === null || n.p99Ms === null ? null : s.p99Ms <= n.p99Ms,
      });
    }
    const m = mem.find((r) => r.target === target);
    if (m)
      out.push({
        goal: 'memory growth ≤ 2 KB per idle client',
        target,
        measured: `${fmt(m.growthKbPerClient)} KB (${fmt(m.marginalKbPerClient)} at the margin)`,
        met: m.growthKbPerClient === null ? null : m.growthKbPerClient <= 2,
      });
  }
  return out;
}

/** nutcracker-format stats: the per-pool and per-server error counters that are not zero. */
export function statsErrors(stats: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  const walk = (o: unknown, path: string) => {
    if (o === null || typeof o !== 'object') return;
    for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
      if (
        typeof v === 'number' &&
        v > 0 &&
        /(_err|_error|timedout|ejects|client_eof_error)$/.test(k)
      )
        out[`${path}${k}`] = v;
      else walk(v, `${path}${k}.`);
    }
  };
  walk(stats, '');
  return out;
}

export function throughputCharts(
  settings: Settings,
  summary: readonly Summary[],
  labels: Map<TargetId, string>,
) {
  return settings.pipelines.map((pipeline) => ({
    file: `redis-throughput-P${pipeline}.svg`,
    svg: groupedBarChart({
      title: `Redis throughput, redis-benchmark -P ${pipeline} -c ${settings.clients}`,
      subtitle: `median of ${settings.rounds} round(s), requests/s${settings.requests ? `, -n ${settings.requests[settings.requests.length - 1]}` : ''}; ${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores`,
      groups: settings.tests.map((t) => TESTS[t].label),
      series: TARGET_ORDER.map((target) => ({
        name: labels.get(target) ?? target,
        values: settings.tests.map((test) => longest(summary, target, test, pipeline)?.rps ?? null),
      })),
      yLabel: 'requests per second',
    }),
  }));
}

export function memoryChart(mem: readonly MemoryResult[]) {
  return {
    file: 'redis-memory.svg',
    svg: groupedBarChart({
      title: 'Resident memory per idle client connection',
      subtitle: `${mem.map((m) => `${m.label}: ${m.opened}`).join(', ')} idle clients`,
      groups: ['KB per idle client', 'KB per client at the margin'],
      series: mem.map((m) => ({
        name: m.label,
        values: [m.growthKbPerClient, m.marginalKbPerClient],
      })),
      yLabel: 'KB',
      format: (v) => v.toFixed(2),
    }),
  };
}

/**
 * legate's own latency percentiles from admin /stats, pool-level histograms only (per-server
 * ones would crowd the chart; they stay in the JSON). Null, with the reason, when there is
 * nothing to draw.
 */
export function adminChart(
  admin: Record<string, AdminStats>,
  labels: Map<TargetId, string>,
): { file: string; svg: string } | string {
  const present = Object.entries(admin).filter(([, a]) => a.present);
  if (present.length === 0) {
    const why = Object.entries(admin)
      .map(([id, a]) => `${labels.get(id as TargetId)}: ${a.present ? '' : a.reason}`)
      .join(', ');
    return `legate admin /stats not available (${why}); HDR latency chart skipped`;
  }
  const found = present.flatMap(([target, a]) => {
    const body = a.present ? a.body : undefined;
    const unit = (body as { latency_unit?: unknown } | undefined)?.latency_unit;
    return findPercentiles(body)
      .filter((f) => !f.path.includes('.servers.'))
      .map((f) => ({
        target: target as TargetId,
        unit: typeof unit === 'string' ? unit : '',
        ...f,
      }));
  });
  const recorded = found.filter((f) => f.count === undefined || f.count > 0);
  if (recorded.length === 0) {
    return found.length === 0
      ? 'legate admin /stats answered but holds no latency percentiles; HDR latency chart skipped'
      : 'legate admin /stats answered but its latency histograms are empty (count 0) after the whole run; HDR latency chart skipped';
  }
  const names = [...new Set(recorded.flatMap((f) => [...f.values.keys()]))];
  const unit = recorded[0].unit;
  return {
    file: 'redis-latency-hdr.svg',
    svg: groupedBarChart({
      title: "legate's own latency percentiles (admin /stats, HDR histogram)",
      subtitle: `pool-level, cumulative over the whole run (every test and pipeline)${unit ? `; ${unit}` : ''}`,
      groups: names,
      series: recorded.map((f) => ({
        name: `${labels.get(f.target) ?? f.target}${f.owner ? ` pool ${f.owner}` : ''}`,
        values: names.map((n) => f.values.get(n) ?? null),
      })),
      yLabel: unit ? `latency (${unit})` : 'latency',
    }),
  };
}

/** rps of the longest runs as a share of the shortest, per target and test (with ≥ 2 lengths). */
function decayTable(
  settings: Settings,
  summary: readonly Summary[],
  pipeline: number,
  labels: Map<TargetId, string>,
): string[] {
  const lengths = lengthsOf(settings);
  if (lengths.length < 2) return [];
  const short = lengths[0];
  const long = lengths[lengths.length - 1];
  const rows = settings.tests.flatMap((test) =>
    TARGET_ORDER.map((target) => {
      const at = (n: number | null) =>
        summary.find(
          (s) =>
            s.target === target && s.test === test && s.pipeline === pipeline && s.requests === n,
        );
      const a = at(short);
      const b = at(long);
      const kept = ratio(b?.rps ?? null, a?.rps ?? null);
      return [
        TESTS[test].label,
        labels.get(target) ?? target,
        ...lengths.map((n) => fmtRatio(at(n)?.vsNutcracker ?? null)),
        kept === null ? '—' : `${(kept * 100).toFixed(1)}%`,
        `${fmt(a?.cpuMicrosPerRequest ?? null, 2)} → ${fmt(b?.cpuMicrosPerRequest ?? null, 2)}`,
      ];
    }),
  );
  return [
    `Run length: × nutcracker at each -n, and the longest runs' rps as a share of the shortest's (the goal: within 5%, i.e. ≥ 95%).`,
    '',
    markdownTable(
      [
        'test',
        'target',
        ...lengths.map((n) => `× nutcracker -n ${n}`),
        `rps -n ${long} ÷ -n ${short}`,
        'CPU µs/req short → long',
      ],
      rows,
      [false, false, ...lengths.map(() => true), true, true],
    ),
    '',
  ];
}

/**
 * The same comparison without the harness: plain redis-benchmark against nutcracker and legate
 * on the same three shards, one after the other, a few times each; the ratio of the medians.
 */
function plainCommand(settings: Settings, pipeline: number): string[] {
  const lengths = lengthsOf(settings);
  const n = lengths[lengths.length - 1] ?? 2000000;
  const tests = settings.tests.filter((t) => TESTS[t].command[0] === '-t').join(',');
  if (tests === '') return [];
  return [
    'The same ratio without the harness (three redis-server shards, nutcracker and legate over them with one config file, keys seeded as above; run it against each proxy port in turn, three times, and compare medians):',
    '',
    '```sh',
    `redis-benchmark -h 127.0.0.1 -p PORT -c ${settings.clients} -r ${settings.keyspace} -n ${n} -P ${pipeline} -t ${tests} -q`,
    '```',
    '',
  ];
}

export function markdown(
  settings: Settings,
  meta: Record<string, string | number>,
  summary: readonly Summary[],
  mem: readonly MemoryResult[],
  footprint: readonly Footprint[],
  goalList: readonly Goal[],
  labels: Map<TargetId, string>,
  sizes: Map<string, number>,
  problems: readonly string[],
  notes: readonly string[],
): string {
  const out: string[] = [];
  out.push(
    `## legate Redis benchmark${settings.quick ? ' (--quick: proves the harness, measures nothing)' : ''}`,
  );
  out.push('');
  out.push(
    `${meta.date}; ${meta.cpus} cores (${meta.cpuModel}); kernel ${meta.kernel}; node ${meta.node}; ${meta.redisServer}; ${meta.nutcracker}; legate ${meta.legate}. Load average (1, 5, 15 min) ${meta.loadBefore} before the runs, ${meta.loadAfter} after; CPU time stolen by the hypervisor during a run: ${meta.steal}.`,
  );
  if (!settings.memoryOnly) {
    const n =
      settings.requests !== undefined
        ? `-n ${settings.requests.join(', ')}`
        : `-n calibrated per target for ~${settings.runSeconds} s a run`;
    out.push(
      `redis-benchmark -c ${settings.clients} -r ${settings.keyspace} ${n}; ${settings.rounds} round(s), interleaved, target order rotated each round; before every run the shards and the direct redis are emptied and the same ${settings.keyspace} keys seeded. Three shards behind each proxy (hash fnv1a_64, ketama). rps, p50, p99 and s/run are medians over rounds; × columns are medians of same-round ratios; CPU is the target process's own (all threads), per run and per request; shards µs/req is what the three shards spent per request behind it (a proxy's batching shows there). Quote in the README only rows whose s/run is at least ${README_MIN_SECONDS} s (marked *short* otherwise).`,
    );
    for (const pipeline of settings.pipelines) {
      out.push('', `### -P ${pipeline}`, '');
      const rows = summary
        .filter((s) => s.pipeline === pipeline)
        .map((s) => {
          const { target, test } = s;
          const n = s.requests ?? sizes.get(key(target, test, pipeline));
          return [
            TESTS[test].label,
            labels.get(target) ?? target,
            fmtRps(s.rps),
            fmt(s.p50Ms, 3),
            fmt(s.p99Ms, 3),
            target.startsWith('legate') ? fmtRatio(s.vsNutcracker) : '',
            target === 'direct' ? '' : fmtRatio(s.vsDirect),
            `${fmt(s.secondsPerRun, 1)}${s.secondsPerRun !== null && s.secondsPerRun < README_MIN_SECONDS ? ' *short*' : ''}`,
            fmt(s.cpuSecondsPerRun),
            fmt(s.cpuMicrosPerRequest, 2),
            fmt(s.shardCpuMicrosPerRequest, 2),
            `${s.okRuns}/${s.runs}`,
            n === undefined ? '' : String(n),
          ];
        });
      out.push(
        markdownTable(
          [
            'test',
            'target',
            'rps',
            'p50 ms',
            'p99 ms',
            '× nutcracker',
            '× direct',
            's/run',
            'CPU s/run',
            'CPU µs/req',
            'shards µs/req',
            'ok runs',
            '-n',
          ],
          rows,
          [false, false, true, true, true, true, true, true, true, true, true, true, true],
        ),
      );
      out.push('', ...decayTable(settings, summary, pipeline, labels));
      out.push(...plainCommand(settings, pipeline));
    }
  }
  if (footprint.length > 0) {
    out.push('', '### Resident memory of the processes above', '');
    out.push(
      markdownTable(
        ['target', 'RSS at start MB', 'RSS after throughput MB'],
        footprint.map((f) => [
          f.label,
          fmt(f.rssAtStartKb === null ? null : f.rssAtStartKb / 1024, 1),
          fmt(f.rssAfterThroughputKb === null ? null : f.rssAfterThroughputKb / 1024, 1),
        ]),
        [false, true, true],
      ),
    );
  }
  if (mem.length > 0) {
    out.push('', '### Memory: idle client connections', '');
    out.push(
      `A fresh instance of each proxy, warmed up with one short SET run; then each client connects, sends one PING and stays idle. VmRSS of the proxy process (all threads) at rest before, with a quarter of the clients, with all of them (each after ${settings.quick ? '0.3' : '2'} s), and after closing them. "KB per client" is (all − before) ÷ clients, which the goal reads; "at the margin" is (all − quarter) ÷ the other three quarters, which free heap room left by the warm-up cannot hide but a step in heap growth can inflate.`,
      '',
    );
    out.push(
      markdownTable(
        [
          'target',
          'idle clients',
          'RSS before MB',
          'RSS with ¼ MB',
          'RSS with clients MB',
          'KB per client',
          'at the margin',
          'RSS after close MB',
          'open s',
        ],
        mem.map((m) => [
          m.label,
          m.opened === m.requested ? String(m.opened) : `${m.opened} of ${m.requested}`,
          fmt(m.rssBeforeKb / 1024, 1),
          fmt(m.rssQuarterKb / 1024, 1),
          fmt(m.rssWithClientsKb / 1024, 1),
          fmt(m.growthKbPerClient),
          fmt(m.marginalKbPerClient),
          fmt(m.rssAfterCloseKb / 1024, 1),
          fmt(m.openSeconds, 1),
        ]),
        [false, true, true, true, true, true, true, true, true],
      ),
    );
  }
  if (goalList.length > 0) {
    out.push('', "### Goals (the team's targets; measured, not tuned)", '');
    out.push(
      markdownTable(
        ['goal', 'target', 'measured', 'met'],
        goalList.map((g) => [
          g.goal,
          labels.get(g.target as TargetId) ?? g.target,
          g.measured,
          g.met === null ? '—' : g.met ? 'yes' : 'no',
        ]),
      ),
    );
  }
  if (notes.length > 0) out.push('', '### Notes', '', ...notes.map((n) => `- ${n}`));
  out.push('', '### Problems', '');
  out.push(...(problems.length === 0 ? ['none seen'] : problems.map((p) => `- ${p}`)));
  return `${out.join('\n')}\n`;
}
