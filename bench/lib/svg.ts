// Hand-written SVG bar charts: a grouped bar chart is a few dozen rects and labels, which is
// not worth a charting dependency.

export interface Series {
  readonly name: string;
  /** One value per group; null where there is no measurement. */
  readonly values: readonly (number | null)[];
}

export interface BarChart {
  readonly title: string;
  readonly subtitle?: string;
  readonly groups: readonly string[];
  readonly series: readonly Series[];
  readonly yLabel: string;
  readonly format?: (v: number) => string;
}

const COLORS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1'];

function xmlEscape(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}

/** A round axis maximum and step (1, 2 or 5 times a power of ten) covering `max` in ~5 steps. */
export function niceScale(max: number): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 0.2 };
  const rough = max / 5;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? 10 * power;
  return { top: Math.ceil(max / step) * step, step };
}

/** Compact numbers for labels: 1234567 → 1.23M, 45600 → 45.6k. */
export function compact(v: number): string {
  const abs = Math.abs(v);
  if (abs >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (abs >= 1e3) return `${Number((v / 1e3).toPrecision(3))}k`;
  return abs >= 100 || Number.isInteger(v) ? v.toFixed(0) : v.toPrecision(3);
}

/** One chart: a group per entry of `groups`, a bar per series inside each group. */
export function groupedBarChart(chart: BarChart): string {
  const format = chart.format ?? compact;
  const barWidth = 22;
  const barGap = 3;
  const groupGap = 28;
  const left = 70;
  const right = 20;
  const top = chart.subtitle ? 78 : 62;
  const plotHeight = 260;
  const bottom = 50;
  const n = chart.series.length;
  const groupWidth = n * barWidth + (n - 1) * barGap;
  const plotWidth = chart.groups.length * (groupWidth + groupGap) + groupGap;
  // Legend entries sit side by side above the plot; ~7 px per character at font-size 12.
  const legendWidth = chart.series.reduce((w, s) => w + 16 + s.name.length * 7 + 18, 0);
  const width = Math.max(left + plotWidth + right, left + legendWidth + right, 520);
  const height = top + plotHeight + bottom;
  const values = chart.series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  const { top: yMax, step } = niceScale(Math.max(0, ...values));
  const y = (v: number) => top + plotHeight - (v / yMax) * plotHeight;

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${left}" y="22" font-size="16" font-weight="bold">${xmlEscape(chart.title)}</text>`,
  ];
  if (chart.subtitle)
    out.push(`<text x="${left}" y="40" fill="#555">${xmlEscape(chart.subtitle)}</text>`);
  // Legend, one entry per series, on a row above the plot.
  let lx = left;
  const ly = top - 18;
  chart.series.forEach((s, i) => {
    out.push(
      `<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/>`,
      `<text x="${lx + 16}" y="${ly}">${xmlEscape(s.name)}</text>`,
    );
    lx += 16 + s.name.length * 7 + 18;
  });
  // Grid and y axis.
  for (let v = 0; v <= yMax + step / 2; v += step) {
    const yy = y(v).toFixed(1);
    out.push(
      `<line x1="${left}" y1="${yy}" x2="${left + plotWidth}" y2="${yy}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle" fill="#555">${xmlEscape(format(v))}</text>`,
    );
  }
  out.push(
    `<text transform="translate(16 ${top + plotHeight / 2}) rotate(-90)" text-anchor="middle" fill="#333">${xmlEscape(chart.yLabel)}</text>`,
  );
  // Bars.
  chart.groups.forEach((g, gi) => {
    const gx = left + groupGap + gi * (groupWidth + groupGap);
    chart.series.forEach((s, si) => {
      const v = s.values[gi];
      const x = gx + si * (barWidth + barGap);
      if (v === null || v === undefined) {
        out.push(
          `<text x="${x + barWidth / 2}" y="${top + plotHeight - 4}" text-anchor="middle" fill="#999" font-size="10">n/a</text>`,
        );
        return;
      }
      const h = Math.max(0, top + plotHeight - y(v));
      out.push(
        `<rect x="${x}" y="${y(v).toFixed(1)}" width="${barWidth}" height="${h.toFixed(1)}" fill="${COLORS[si % COLORS.length]}"><title>${xmlEscape(`${s.name} ${g}: ${format(v)}`)}</title></rect>`,
        `<text x="${x + barWidth / 2}" y="${(y(v) - 4).toFixed(1)}" text-anchor="middle" font-size="9" fill="#333">${xmlEscape(format(v))}</text>`,
      );
    });
    out.push(
      `<text x="${gx + groupWidth / 2}" y="${top + plotHeight + 18}" text-anchor="middle">${xmlEscape(g)}</text>`,
    );
  });
  out.push(
    `<line x1="${left}" y1="${top + plotHeight}" x2="${left + plotWidth}" y2="${top + plotHeight}" stroke="#333"/>`,
    '</svg>',
    '',
  );
  return out.join('\n');
}
