/**
 * The bytes ip_hash hashes for a client address (ngx_http_upstream_init_ip_hash_peer): an IPv4
 * address's first three bytes, an IPv6 address's sixteen, and for an IPv4-mapped IPv6 address
 * (`::ffff:a.b.c.d`, what a dual-stack listener reports) the IPv4 bytes, as nginx's IPv4
 * `listen 80` would have seen. Anything else (a unix socket) is three zero bytes.
 */
import { isIPv4, isIPv6 } from 'node:net';

const UNIX_KEY = new Uint8Array(3);

/** Writes `a.b.c.d`'s first three bytes into `out`; false when the text is not dotted decimal. */
function ipv4Prefix(text: string, start: number, out: Uint8Array): boolean {
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || part > 2) return false;
      if (part < 3) out[part] = value;
      part++;
      value = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      value = value * 10 + (c - 48);
      if (value > 255) return false;
      digits++;
    } else {
      return false;
    }
  }
  return part === 3 && digits > 0;
}

/** IPv6 text to its 16 bytes (node's own parser, via isIPv6, decides validity first). */
function ipv6Bytes(text: string): Uint8Array {
  const out = new Uint8Array(16);
  let head = text;
  let tail = '';
  const dbl = text.indexOf('::');
  if (dbl >= 0) {
    head = text.slice(0, dbl);
    tail = text.slice(dbl + 2);
  }
  const groups = (s: string): number[] => {
    if (s === '') return [];
    const out16: number[] = [];
    for (const g of s.split(':')) {
      if (g.includes('.')) {
        const v4 = new Uint8Array(4);
        const last = g.slice(g.lastIndexOf('.') + 1);
        ipv4Prefix(g, 0, v4);
        v4[3] = Number(last);
        out16.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else {
        out16.push(Number.parseInt(g, 16));
      }
    }
    return out16;
  };
  const h = groups(head);
  const t = groups(tail);
  const all = [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
  for (let i = 0; i < 8; i++) {
    out[2 * i] = all[i] >> 8;
    out[2 * i + 1] = all[i] & 0xff;
  }
  return out;
}

/**
 * ip_hash's key for a client address as text (`127.0.0.1`, `::1`, `::ffff:10.0.0.1`, a zone
 * suffix `%eth0` ignored). Returns a fresh array for IPv6; for IPv4 a 3-byte array.
 */
export function ipHashKey(address: string): Uint8Array {
  if (isIPv4(address)) {
    const out = new Uint8Array(3);
    ipv4Prefix(address, 0, out);
    return out;
  }
  const zone = address.indexOf('%');
  const bare = zone >= 0 ? address.slice(0, zone) : address;
  if (!isIPv6(bare)) return UNIX_KEY;
  const bytes = ipv6Bytes(bare.toLowerCase());
  if (isV4Mapped(bytes)) return bytes.slice(12, 15);
  return bytes;
}

/** An address's 4 (IPv4) or 16 (IPv6) bytes, nginx's $binary_remote_addr; null for anything else. */
export function addressBytes(address: string): Uint8Array | null {
  if (isIPv4(address)) {
    const out = new Uint8Array(4);
    ipv4Prefix(address, 0, out);
    out[3] = Number(address.slice(address.lastIndexOf('.') + 1));
    return out;
  }
  const zone = address.indexOf('%');
  const bare = zone >= 0 ? address.slice(0, zone) : address;
  return isIPv6(bare) ? ipv6Bytes(bare.toLowerCase()) : null;
}

/** ip_hash's key from the raw 4 or 16 address bytes (uWebSockets.js's getRemoteAddress). */
export function ipHashKeyFromBytes(bytes: Uint8Array): Uint8Array {
  if (bytes.length === 4) return bytes.subarray(0, 3);
  if (bytes.length === 16) return isV4Mapped(bytes) ? bytes.subarray(12, 15) : bytes;
  return UNIX_KEY;
}

function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}
