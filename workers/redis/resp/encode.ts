/** Replies legate writes itself (local commands, errors). Not on the forwarding path. */

export const OK = Buffer.from('+OK\r\n');
export const PONG = Buffer.from('+PONG\r\n');
export const NULL_BULK = Buffer.from('$-1\r\n');
export const EMPTY_ARRAY = Buffer.from('*0\r\n');

/** `-<message>\r\n`; each CR or LF inside the message becomes a space (as Redis does), so the reply stays one line. */
export function errorReply(message: string): Buffer {
  return Buffer.from(`-${message.replace(/[\r\n]/g, ' ')}\r\n`);
}

export function integerReply(n: number): Buffer {
  return Buffer.from(`:${n}\r\n`);
}

export function simpleReply(s: string): Buffer {
  return Buffer.from(`+${s}\r\n`);
}

export function bulkReply(value: Uint8Array | string): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value) : value;
  const head = Buffer.from(`$${bytes.length}\r\n`);
  const out = Buffer.allocUnsafe(head.length + bytes.length + 2);
  head.copy(out, 0);
  out.set(bytes, head.length);
  out[out.length - 2] = 13;
  out[out.length - 1] = 10;
  return out;
}

/** An array whose elements are already-encoded replies. */
export function arrayReply(elements: readonly Uint8Array[]): Buffer {
  return Buffer.concat([Buffer.from(`*${elements.length}\r\n`), ...elements]);
}
