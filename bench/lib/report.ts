// Small helpers for turning runs into the report: medians, number formats, markdown tables.

/** The median of the finite values, or null when there are none. */
export function median(values: readonly (number | null | undefined)[]): number | null {
  const v = values
    .filter((x): x is number => typeof x === 'number' && Number.isFinite(x))
    .sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** `numerator / denominator`, or null when either is missing or the denominator is 0. */
export function ratio(numerator: number | null, denominator: number | null): number | null {
  if (numerator === null || denominator === null || denominator === 0) return null;
  return numerator / denominator;
}

export function fmt(v: number | null, digits = 2): string {
  return v === null ? '—' : v.toFixed(digits);
}

/** Throughput with thousands separators: 123456.7 → 123,457. */
export function fmtRps(v: number | null): string {
  return v === null ? '—' : Math.round(v).toLocaleString('en-US');
}

export function fmtRatio(v: number | null): string {
  return v === null ? '—' : `${v.toFixed(2)}×`;
}

/** A GitHub-flavoured markdown table; `right` marks the columns to right-align (numbers). */
export function markdownTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  right: readonly boolean[] = [],
): string {
  const cell = (s: string) => s.replaceAll('|', '\\|');
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => cell(r[i]).length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => (right[i] ? cell(c).padStart(widths[i]) : cell(c).padEnd(widths[i]))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (right[i] ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(headers), rule, ...rows.map(line)].join('\n');
}
