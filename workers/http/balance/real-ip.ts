/**
 * The client address behind trusted proxies, as nginx's realip module computes it (1.22:
 * ngx_http_realip_handler, ngx_http_get_forwarded_addr): only when the connection comes from a
 * `set_real_ip_from` address; X-Forwarded-For (and X-Real-IP, and any other header) is read from
 * its right end: the last address replaces the client's, and with `real_ip_recursive on` the walk
 * goes on leftwards while the address just taken is trusted too. Several X-Forwarded-For lines
 * are walked last line first; an address that does not parse stops the walk. ip_hash then hashes
 * the address found.
 */
import { BlockList, isIPv6, SocketAddress } from 'node:net';
import type { RealIpConfig } from '../../../engine/config/http-types.ts';

/** nginx's ngx_inet_addr: four dotted decimal octets (leading zeros allowed), printed canonically. */
function ipv4(text: string): string | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (m === null) return null;
  const octets = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])];
  return octets.every((o) => o <= 255) ? octets.join('.') : null;
}

function ipv6(text: string): string | null {
  if (!isIPv6(text) || text.includes('%')) return null;
  return new SocketAddress({ address: text, family: 'ipv6' }).address;
}

/** ngx_parse_addr_port: `addr`, `v4:port`, `[v6]:port` (not `[v6]` alone); the address or null. */
export function parseForwardedAddress(text: string): string | null {
  const bare = ipv4(text) ?? ipv6(text);
  if (bare !== null) return bare;
  let host: string;
  let port: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || close === text.length - 1 || text[close + 1] !== ':') return null;
    host = text.slice(1, close);
    port = text.slice(close + 2);
    if (ipv6(host) === null) return null;
  } else {
    const colon = text.indexOf(':');
    if (colon < 0) return null;
    host = text.slice(0, colon);
    port = text.slice(colon + 1);
  }
  const n = /^\d{1,5}$/.test(port) ? Number(port) : 0;
  if (n < 1 || n > 65535) return null;
  return ipv4(host) ?? ipv6(host);
}

/** How one header value's walk ended (nginx's NGX_OK / NGX_DONE / NGX_DECLINED). */
type Walk = 'ok' | 'done' | 'declined';

export class RealIp {
  readonly header: string;
  readonly recursive: boolean;
  readonly #trusted = new BlockList();
  readonly #trustUnix: boolean;

  constructor(config: RealIpConfig) {
    this.header = config.header;
    this.recursive = config.recursive;
    let unix = false;
    for (const cidr of config.trusted) {
      if (cidr === 'unix:') {
        unix = true;
        continue;
      }
      const slash = cidr.indexOf('/');
      const addr = slash < 0 ? cidr : cidr.slice(0, slash);
      const family = isIPv6(addr) ? 'ipv6' : 'ipv4';
      const bits = slash < 0 ? (family === 'ipv6' ? 128 : 32) : Number(cidr.slice(slash + 1));
      this.#trusted.addSubnet(addr, bits, family);
    }
    this.#trustUnix = unix;
  }

  /** Whether an address (text; '' or a path for a unix socket) is a trusted proxy. */
  trusts(address: string): boolean {
    if (address === '' || address.startsWith('/')) return this.#trustUnix;
    return this.#trusted.check(address, isIPv6(address) ? 'ipv6' : 'ipv4');
  }

  /**
   * The client address nginx would use: `remote` (the connection's) unless it is trusted and
   * the header (`values`: each line of it, in order; empty when absent) names another.
   */
  resolve(remote: string, values: readonly string[]): string {
    if (values.length === 0) return remote;
    const state = { address: remote };
    if (this.header !== 'x-forwarded-for') {
      // X-Real-IP and other headers: the first line only, walked the same way.
      return this.#walk(state, values[0]) === 'declined' ? remote : state.address;
    }
    let found = false;
    let result: Walk = 'declined';
    for (let i = values.length - 1; i >= 0; i--) {
      result = this.#walk(state, values[i]);
      if (!this.recursive) break;
      if (result === 'declined' && found) {
        result = 'done';
        break;
      }
      if (result !== 'ok') break;
      found = true;
    }
    return result === 'declined' ? remote : state.address;
  }

  /** ngx_http_get_forwarded_addr_internal over one header value. */
  #walk(state: { address: string }, xff: string): Walk {
    let found = false;
    let len = xff.length;
    for (;;) {
      if (!this.trusts(state.address)) return found ? 'done' : 'declined';
      let p = len - 1;
      // Trailing blanks and commas are skipped (but the first byte is never looked at).
      while (p > 0 && (xff[p] === ' ' || xff[p] === ',')) {
        p--;
        len--;
      }
      while (p > 0) {
        if (xff[p] === ' ' || xff[p] === ',') {
          p++;
          break;
        }
        p--;
      }
      const parsed = parseForwardedAddress(xff.slice(p, len));
      if (parsed === null) return found ? 'done' : 'declined';
      state.address = parsed;
      found = true;
      len = p - 1;
      if (!(this.recursive && p > 0)) return 'ok';
    }
  }
}
