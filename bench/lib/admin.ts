// legate's admin endpoint (/stats with HDR latency percentiles). It does not exist yet in every
// version the bench may run against, so every function here answers "absent" rather than throw.

export type AdminStats =
  | { readonly present: true; readonly body: unknown }
  | { readonly present: false; readonly reason: string };

/** GET http://ADDRESS/stats, parsed as JSON; `present: false` with the reason when it can't be. */
export async function fetchAdminStats(address: string, timeoutMs = 2000): Promise<AdminStats> {
  try {
    const res = await fetch(`http://${address}/stats`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return { present: false, reason: `HTTP ${res.status}` };
    const text = await res.text();
    try {
      return { present: true, body: JSON.parse(text) };
    } catch {
      return { present: false, reason: 'the answer is not JSON' };
    }
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    return { present: false, reason: cause ?? (err as Error).message };
  }
}

/** A latency histogram found in a stats document: where it was, and its percentiles. */
export interface FoundPercentiles {
  readonly path: string;
  /** The `name` of the nearest enclosing object that has one (a pool, a server). */
  readonly owner: string | undefined;
  /** Its `count` field, when it has one: how many latencies it holds. */
  readonly count: number | undefined;
  /** Percentile label (e.g. "p99") → value, in the document's unit. */
  readonly values: ReadonlyMap<string, number>;
}

const PERCENTILE_KEY = /^p(\d+(?:[._]\d+)?)$/i;

/**
 * Every object in `body` holding at least two numeric fields named like percentiles (p50, p99,
 * p99.9...), with the path to it. The admin format is young, so the bench looks for the
 * shape rather than depending on exact field names.
 */
export function findPercentiles(
  body: unknown,
  path = '$',
  owner: string | undefined = undefined,
): FoundPercentiles[] {
  if (body === null || typeof body !== 'object') return [];
  const record = body as Record<string, unknown>;
  const name = typeof record.name === 'string' ? record.name : owner;
  const found: FoundPercentiles[] = [];
  const values = new Map<string, number>();
  for (const [k, v] of Object.entries(record)) {
    if (typeof v === 'number' && PERCENTILE_KEY.test(k)) values.set(k, v);
    else if (v !== null && typeof v === 'object')
      found.push(...findPercentiles(v, `${path}.${k}`, name));
  }
  if (values.size >= 2) {
    const count = typeof record.count === 'number' ? record.count : undefined;
    found.unshift({ path, owner: name, count, values });
  }
  return found;
}
