/**
 * IP addresses as text to their bytes, one parser for every role: ip_hash and
 * $binary_remote_addr (http), server addresses in shared memory and PROXY headers (tcp).
 * Validity is node's to decide (isIPv4 / isIPv6) before these run.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** Writes `a.b.c.d`'s first three bytes into `out`; false when the text is not dotted decimal. */
export function ipv4Prefix(text: string, start: number, out: Uint8Array): boolean {
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
export function ipv6Bytes(text: string): Uint8Array {
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
