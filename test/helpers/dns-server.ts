// A tiny DNS server on 127.0.0.1 (UDP) for tests of re-resolution: it answers A queries for the
// names it is given, NXDOMAIN for others, and nothing else (no AAAA records, no recursion).
import { createSocket, type Socket } from 'node:dgram';

export class TestDnsServer {
  readonly records = new Map<string, string>();
  /** Queries answered so far, by name. */
  readonly queries: string[] = [];
  /** Answers wait this long (a slow nameserver). */
  delayMs = 0;
  #socket: Socket | null = null;
  port = 0;

  async start(): Promise<void> {
    const socket = createSocket('udp4');
    this.#socket = socket;
    socket.on('message', (msg, rinfo) => {
      const reply = this.#answer(msg);
      if (reply === null) return;
      if (this.delayMs === 0) socket.send(reply, rinfo.port, rinfo.address);
      else setTimeout(() => socket.send(reply, rinfo.port, rinfo.address), this.delayMs);
    });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    this.port = socket.address().port;
  }

  #answer(msg: Buffer): Buffer | null {
    if (msg.length < 12) return null;
    // The question: labels from offset 12, then QTYPE and QCLASS.
    const labels: string[] = [];
    let i = 12;
    while (i < msg.length && msg[i] !== 0) {
      labels.push(msg.toString('latin1', i + 1, i + 1 + msg[i]));
      i += 1 + msg[i];
    }
    const questionEnd = i + 5;
    if (questionEnd > msg.length) return null;
    const qtype = msg.readUInt16BE(i + 1);
    const name = labels.join('.').toLowerCase();
    this.queries.push(name);
    const ip = this.records.get(name);
    const answer = ip !== undefined && qtype === 1;
    const header = Buffer.alloc(12);
    msg.copy(header, 0, 0, 2);
    // QR, RD copied, RA; RCODE 3 (NXDOMAIN) for an unknown name.
    header.writeUInt16BE(0x8180 | ((msg[2] & 0x01) << 8) | (ip === undefined ? 3 : 0), 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answer ? 1 : 0, 6);
    const question = msg.subarray(12, questionEnd);
    if (!answer) return Buffer.concat([header, question]);
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0);
    rr.writeUInt16BE(1, 2);
    rr.writeUInt16BE(1, 4);
    rr.writeUInt32BE(1, 6);
    rr.writeUInt16BE(4, 10);
    (ip as string).split('.').forEach((part, k) => {
      rr[12 + k] = Number(part);
    });
    return Buffer.concat([header, question, rr]);
  }

  stop(): void {
    this.#socket?.close();
    this.#socket = null;
  }
}
