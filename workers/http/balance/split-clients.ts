/**
 * nginx's split_clients (ngx_http_split_clients_module.c, 1.22): MurmurHash2 (seed 0) of the
 * evaluated string; each part's percentage, to two decimals, becomes a cumulative bound
 * `last += hundredths * 0xffffffff / 10000` (uint32, truncated); the first part with
 * `hash < bound` wins, `*` matches whatever reaches it. With no `*`, a hash at or past the last
 * bound matches nothing (the variable is empty) — even when the parts add up to 100%.
 */
import type { SplitClientsConfig } from '../../../engine/config/http-types.ts';
import { murmurHash2 } from '../../../engine/hash/murmur.ts';

export interface SplitPart {
  /** Hundredths of a percent (10.5% → 1050); null for `*`. */
  readonly hundredths: number | null;
  readonly value: string;
}

export class SplitClients {
  readonly values: readonly string[];
  /** Per part, its upper bound; -1 for `*`. */
  readonly bounds: Float64Array;

  constructor(parts: readonly SplitPart[]) {
    this.values = parts.map((p) => p.value);
    this.bounds = new Float64Array(parts.length);
    let last = 0;
    for (let i = 0; i < parts.length; i++) {
      const h = parts[i].hundredths;
      if (h === null || h === 0) {
        this.bounds[i] = -1;
        continue;
      }
      last = (last + Math.floor((h * 0xffffffff) / 10000)) >>> 0;
      this.bounds[i] = last;
    }
  }

  /** From the config model, whose percentages are numbers like 10.5 (or '*'). */
  static fromConfig(config: SplitClientsConfig): SplitClients {
    return new SplitClients(
      config.parts.map((p) => ({
        hundredths: p.percent === '*' ? null : Math.round(p.percent * 100),
        value: p.value,
      })),
    );
  }

  /** The part index for these bytes; -1: none (nginx's empty value). */
  part(bytes: Uint8Array): number {
    const h = murmurHash2(bytes, 0, bytes.length, 0);
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (bounds[i] < 0 || h < bounds[i]) return i;
    }
    return -1;
  }

  /** The value for these bytes; '' when no part matches. */
  value(bytes: Uint8Array): string {
    const i = this.part(bytes);
    return i < 0 ? '' : this.values[i];
  }
}

/**
 * nginx's percentage text to hundredths (ngx_atofp with 2 decimals): `10%`, `0.5%`, `33.33%`;
 * null when malformed (more than two decimals, no `%`, not a number).
 */
export function parsePercent(text: string): number | null {
  const m = /^(\d+)(?:\.(\d{1,2}))?%$/.exec(text);
  if (m === null) return null;
  const frac = (m[2] ?? '').padEnd(2, '0');
  return Number(m[1]) * 100 + Number(frac);
}
