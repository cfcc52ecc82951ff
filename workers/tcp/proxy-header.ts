import { isIP } from 'node:net';
import { addressBytes } from '../../engine/shared/ip.ts';

const V2_SIGNATURE = Buffer.from([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
]);

function split(address: string): { ip: string; port: number } {
  const colon = address.lastIndexOf(':');
  const ip = address.slice(0, colon).replace(/^::ffff:/, '');
  return { ip, port: Number(address.slice(colon + 1)) };
}

/**
 * The PROXY protocol header (haproxy.org/download/2.9/doc/proxy-protocol.txt) telling the
 * server who the client is: `send_proxy: v1` (text) or `v2` (binary). `source` and
 * `destination` are `ip:port`; anything else (a unix socket) is sent as UNKNOWN / LOCAL.
 */
export function proxyHeader(version: 'v1' | 'v2', source: string, destination: string): Buffer {
  const src = split(source);
  const dst = split(destination);
  const family = isIP(src.ip);
  const known = family !== 0 && family === isIP(dst.ip) && src.port > 0 && dst.port > 0;
  const v6 = family === 6;
  if (version === 'v1') {
    if (!known) return Buffer.from('PROXY UNKNOWN\r\n');
    return Buffer.from(
      `PROXY ${v6 ? 'TCP6' : 'TCP4'} ${src.ip} ${dst.ip} ${src.port} ${dst.port}\r\n`,
    );
  }
  if (!known) return Buffer.concat([V2_SIGNATURE, Buffer.from([0x20, 0x00, 0x00, 0x00])]);
  const addrLen = v6 ? 36 : 12;
  const out = Buffer.alloc(16 + addrLen);
  V2_SIGNATURE.copy(out, 0);
  out[12] = 0x21; // version 2, PROXY
  out[13] = v6 ? 0x21 : 0x11; // TCP over IPv6 / IPv4
  out.writeUInt16BE(addrLen, 14);
  // `known`: both are IP addresses of one family, so both have bytes.
  out.set(addressBytes(src.ip) as Uint8Array, 16);
  out.set(addressBytes(dst.ip) as Uint8Array, v6 ? 32 : 20);
  if (v6) {
    out.writeUInt16BE(src.port, 48);
    out.writeUInt16BE(dst.port, 50);
  } else {
    out.writeUInt16BE(src.port, 24);
    out.writeUInt16BE(dst.port, 26);
  }
  return out;
}
