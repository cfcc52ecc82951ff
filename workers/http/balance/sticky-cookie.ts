/**
 * nginx 1.29.6's `sticky cookie NAME …` (ngx_http_upstream_sticky_module.c): each peer's server
 * id is the hex MD5 of its address as nginx names it (`127.0.0.1:8081`); a request whose cookie
 * holds a usable peer's id goes to that peer (round robin still counts it, see round-robin.ts);
 * every proxied response gets `Set-Cookie: NAME=ID[; expires=…; max-age=N][; domain=D]
 * [; httponly][; secure][; samesite=S][; path=P]` — in that order, as nginx writes it.
 */
import type { StickyCookie } from '../../../engine/config/http-types.ts';
import { md5Digest } from '../../../engine/hash/md5.ts';
import type { PeerSet } from './peers.ts';

const encoder = new TextEncoder();
const MAX_EXPIRES = '; expires=Thu, 31-Dec-37 23:55:55 GMT; max-age=315360000';
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** A peer's server id: lower-case hex MD5 of its address text. */
export function serverId(address: string): string {
  const digest = md5Digest(encoder.encode(address));
  let out = '';
  for (const b of digest) out += b.toString(16).padStart(2, '0');
  return out;
}

/** nginx's ngx_http_cookie_time: `Thu, 31-Dec-37 23:55:55 GMT` (two-digit year up to 2037). */
export function cookieTime(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    `${DAYS[d.getUTCDay()]}, ${two(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-` +
    `${d.getUTCFullYear() > 2037 ? d.getUTCFullYear() : two(d.getUTCFullYear() % 100)} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:` +
    `${two(d.getUTCSeconds())} GMT`
  );
}

export class StickyCookies {
  readonly config: StickyCookie;
  /** Per peer (PeerSet order), its id. */
  readonly ids: readonly string[];
  readonly #attributesAfterExpiry: string;

  constructor(config: StickyCookie, peers: PeerSet) {
    this.config = config;
    this.ids = peers.specs.map((s) => serverId(s.address));
    let rest = '';
    if (config.domain !== null && config.domain !== '') rest += `; domain=${config.domain}`;
    if (config.httpOnly) rest += '; httponly';
    if (config.secure) rest += '; secure';
    if (config.sameSite !== null) rest += `; samesite=${config.sameSite}`;
    if (config.path !== null) rest += `; path=${config.path}`;
    this.#attributesAfterExpiry = rest;
  }

  /** The peer whose id the cookie value holds, or -1 (unknown id, or no cookie). */
  peerOf(cookieValue: string | null | undefined): number {
    if (cookieValue === null || cookieValue === undefined || cookieValue === '') return -1;
    return this.ids.indexOf(cookieValue);
  }

  /** The Set-Cookie value for a response served by `peer`. */
  setCookie(peer: number, nowSeconds = Math.floor(Date.now() / 1000)): string {
    const expires = this.config.expires;
    let out = `${this.config.name}=${this.ids[peer]}`;
    if (expires === 'max') out += MAX_EXPIRES;
    else if (expires !== null) {
      out += `; expires=${cookieTime(nowSeconds + expires)}; max-age=${expires}`;
    }
    return out + this.#attributesAfterExpiry;
  }
}
