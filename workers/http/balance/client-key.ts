/**
 * The bytes ip_hash hashes for a client address (ngx_http_upstream_init_ip_hash_peer): an IPv4
 * address's first three bytes, an IPv6 address's sixteen, and for an IPv4-mapped IPv6 address
 * (`::ffff:a.b.c.d`, what a dual-stack listener reports) the IPv4 bytes, as nginx's IPv4
 * `listen 80` would have seen. Anything else (a unix socket) is three zero bytes.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { ipv4Prefix, ipv6Bytes } from '../../../engine/shared/ip.ts';

const UNIX_KEY = new Uint8Array(3);

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
