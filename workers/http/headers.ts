import type { ProxySettings } from '../../engine/config/http-types.ts';
import {
  compileValue,
  evaluate,
  type ValueTemplate,
  type VariableScope,
  type VariableSource,
} from './variables.ts';

/**
 * Client headers nginx's proxy_pass never forwards (facts/nginx.md), plus Transfer-Encoding:
 * the upstream client frames the body itself. nginx passes Proxy-Connection on; so does legate.
 */
const DROPPED_REQUEST: ReadonlySet<string> = new Set([
  'host',
  'connection',
  'keep-alive',
  'te',
  'expect',
  'upgrade',
  'transfer-encoding',
]);

/** Upstream response headers not passed on: hop-by-hop, and the ones nginx replaces (Date, Server). */
const DROPPED_RESPONSE: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'proxy-connection',
  'upgrade',
  'date',
  'server',
]);

interface SetHeader {
  readonly name: string;
  readonly lower: string;
  readonly value: ValueTemplate;
}

/** A location's request headers towards the upstream, compiled once per config. */
export class RequestHeaders {
  readonly #set: readonly SetHeader[];
  /** Lower-case names proxy_set_header decides (set or removed): client values for them are dropped. */
  readonly #owned: ReadonlySet<string>;
  readonly #hostFromConfig: boolean;

  constructor(proxy: ProxySettings, where: string, scope: VariableScope) {
    const set: SetHeader[] = [];
    for (const h of proxy.setHeaders) {
      set.push({
        name: h.name,
        lower: h.name.toLowerCase(),
        value: compileValue(h.value, where, scope),
      });
    }
    this.#set = set;
    this.#owned = new Set(set.map((h) => h.lower));
    this.#hostFromConfig = this.#owned.has('host');
  }

  /**
   * What the upstream receives, flat [name, value, …]: Host (the upstream's name unless set),
   * the proxy_set_header ones (empty values removed), then the client's, less the dropped.
   */
  build(src: VariableSource): string[] {
    const out: string[] = [];
    if (!this.#hostFromConfig) out.push('Host', src.proxyHost);
    for (const h of this.#set) {
      const v = evaluate(h.value, src);
      if (v !== '') out.push(h.name, v);
    }
    const raw = src.rawHeaders;
    const owned = this.#owned;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i];
      const lower = name.toLowerCase();
      // underscores_in_headers off: nginx ignores such names.
      if (DROPPED_REQUEST.has(lower) || owned.has(lower) || name.includes('_')) continue;
      out.push(name, raw[i + 1]);
    }
    return out;
  }
}

/**
 * The upstream response's headers for the client, flat; `length` is its Content-Length
 * (null: none). X-Accel-* are nginx's internal ones and stay hidden as nginx hides them.
 */
export function responseHeaders(raw: readonly Buffer[]): {
  headers: string[];
  length: number | null;
} {
  const headers: string[] = [];
  let length: number | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toString('latin1');
    const lower = name.toLowerCase();
    if (DROPPED_RESPONSE.has(lower) || lower.startsWith('x-accel-')) continue;
    const value = raw[i + 1].toString('latin1');
    if (lower === 'content-length') length = Number(value);
    headers.push(name, value);
  }
  headers.push('Server', 'legate');
  return { headers, length };
}
