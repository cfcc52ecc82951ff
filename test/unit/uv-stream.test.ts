// workers/net/stream.ts (bare handles) and socket-stream.ts (net.Socket, the fallback), each over
// a real loopback connection: whatever mix of ranges is pushed in a
// turn (copied or by reference, from the shared read buffer or not, growing the turn's buffer
// or not), the peer reads exactly those bytes in order; a peer that stops reading makes writes
// wait (writeQueueSize, then streamDrained); end() delivers everything before the FIN; endWrite()
// half-closes (our FIN, reading goes on until the peer's); a host
// name is dialed at each of its addresses until one answers.
import assert from 'node:assert/strict';
import { after, before, describe, it, test } from 'node:test';
import { FlushScheduler } from '../../workers/net/flush-scheduler.ts';
import { READ_BUFFER, type StreamEvents } from '../../workers/net/stream.ts';
import {
  chooseTransport,
  type ListeningSocket,
  makeTransport,
  type Stream,
} from '../../workers/net/transport.ts';
import { checkBindings, UV_PROBLEM } from '../../workers/net/uv.ts';
import { prng } from '../helpers/prng.ts';

/** Collects what a stream reads and reports its events. */
class Sink implements StreamEvents {
  chunks: Buffer[] = [];
  bytes = 0;
  ended = false;
  closed = false;
  connected = false;
  drained = 0;
  errors: string[] = [];
  #waiters: (() => void)[] = [];

  streamData(length: number): void {
    this.chunks.push(Buffer.from(READ_BUFFER.subarray(0, length)));
    this.bytes += length;
    this.#wake();
  }
  streamEnd(): void {
    this.ended = true;
    this.#wake();
  }
  streamError(message: string): void {
    this.errors.push(message);
    this.#wake();
  }
  streamDrained(): void {
    this.drained++;
    this.#wake();
  }
  streamConnected(): void {
    this.connected = true;
    this.#wake();
  }
  streamClosed(): void {
    this.closed = true;
    this.#wake();
  }
  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }
  /** Resolves once `done()` holds; rejects after `ms`. */
  async until(done: () => boolean, what: string, ms = 10000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('the bindings of the pinned Node have the shape the bare handles need', () => {
  assert.equal(UV_PROBLEM, null);
});

for (const kind of ['uv', 'node'] as const) {
  describe(kind === 'uv' ? 'bare libuv handles' : 'net.Socket', () => {
    const net = makeTransport(kind, UV_PROBLEM);
    const scheduler = new FlushScheduler();
    let listener: ListeningSocket;
    const accepted: { stream: Stream; sink: Sink }[] = [];

    before(async () => {
      listener = await net.listen({ host: '127.0.0.1', port: 0 }, 64, (handle) => {
        const sink = new Sink();
        accepted.push({ stream: net.accept(handle, sink, scheduler), sink });
      });
    });

    after(() => {
      listener.close();
      for (const a of accepted) a.stream.destroy();
    });

    async function pair(): Promise<{ out: Stream; outSink: Sink; peer: Stream; peerSink: Sink }> {
      const before = accepted.length;
      const outSink = new Sink();
      const out = net.dial({ host: '127.0.0.1', port: listener.port }, outSink, scheduler);
      await outSink.until(() => outSink.connected && accepted.length > before, 'connect');
      const { stream: peer, sink: peerSink } = accepted[accepted.length - 1];
      return { out, outSink, peer, peerSink };
    }

    it('any mix of ranges pushed over many turns arrives exactly, in order', async () => {
      const { out, outSink, peer, peerSink } = await pair();
      const random = prng(0x57e4);
      const sizes = [0, 1, 7, 100, 4096, 16383, 16384, 16385, 40000, 65536, 100000];
      const expected: Buffer[] = [];
      for (let t = 0; t < 60; t++) {
        const pushes = 1 + Math.floor(random() * 12);
        for (let p = 0; p < pushes; p++) {
          const size = sizes[Math.floor(random() * sizes.length)];
          const fromReadBuffer = size <= READ_BUFFER.length && random() < 0.4;
          const source = fromReadBuffer ? READ_BUFFER : Buffer.allocUnsafe(size + 20);
          const start = fromReadBuffer ? 0 : Math.floor(random() * 20);
          for (let i = 0; i < size; i++) source[start + i] = Math.floor(random() * 256);
          expected.push(Buffer.from(source.subarray(start, start + size)));
          out.pushRange(source, start, start + size);
          // The read buffer is reused by the next read: what was pushed from it must have been copied.
          if (fromReadBuffer) READ_BUFFER.fill(0xee, 0, size);
        }
        await turn();
      }
      // Each flush that left nothing waiting said so (a paused client must hear it).
      assert.ok(outSink.drained > 0, 'streamDrained after synchronous flushes');
      const all = Buffer.concat(expected);
      await peerSink.until(() => peerSink.bytes >= all.length, `${all.length} bytes`);
      assert.equal(peerSink.bytes, all.length);
      assert.ok(Buffer.concat(peerSink.chunks).equals(all), 'the bytes read are the bytes pushed');
      out.destroy();
      peer.destroy();
    });

    it('a peer that stops reading makes writes wait, then drain; end() delivers all before the FIN', async () => {
      const { out, outSink, peer, peerSink } = await pair();
      peer.pause();
      const block = Buffer.alloc(1024 * 1024, 0x61);
      let pushed = 0;
      // Far more than the kernel buffers hold on loopback: some writes must wait in libuv.
      for (let i = 0; i < 32 && out.writeQueueSize === 0; i++) {
        out.push(block);
        pushed += block.length;
        await turn();
      }
      assert.ok(out.writeQueueSize > 0, `writes wait for the peer (${pushed} bytes pushed)`);
      const drainedBefore = outSink.drained;
      await turn();
      assert.equal(outSink.drained, drainedBefore, 'no drain while bytes wait');
      peer.resume();
      await outSink.until(() => outSink.drained > drainedBefore, 'streamDrained');
      assert.equal(out.writeQueueSize, 0);
      const tail = Buffer.from('the last bytes');
      out.push(tail);
      out.end();
      // Pushed after end(): dropped, not an EPIPE that would cut the connection before its FIN.
      out.push(Buffer.from('too late'));
      await peerSink.until(() => peerSink.ended, 'the FIN');
      assert.equal(peerSink.bytes, pushed + tail.length);
      assert.ok(Buffer.concat(peerSink.chunks).subarray(pushed).equals(tail));
      await outSink.until(() => outSink.closed, 'our side closed after end()');
      assert.deepEqual(outSink.errors, []);
      assert.equal(peerSink.bytes, pushed + tail.length, 'nothing after the FIN');
      peer.destroy();
    });

    it('endWrite() sends our FIN and keeps reading until the peer ends too, then closes', async () => {
      const { out, outSink, peer, peerSink } = await pair();
      out.push(Buffer.from('request'));
      out.endWrite();
      out.push(Buffer.from('too late'));
      await peerSink.until(() => peerSink.ended, 'the FIN');
      assert.equal(Buffer.concat(peerSink.chunks).toString(), 'request');
      // Half-closed, not closed: the other direction still carries bytes.
      assert.equal(outSink.closed, false);
      peer.push(Buffer.from('reply after the FIN'));
      await outSink.until(() => outSink.bytes >= 19, 'the reply');
      assert.equal(Buffer.concat(outSink.chunks).toString(), 'reply after the FIN');
      assert.equal(outSink.closed, false);
      peer.end();
      await outSink.until(() => outSink.ended && outSink.closed, 'the peer FIN, then our close');
      await peerSink.until(() => peerSink.closed, 'the peer closed');
      assert.deepEqual(outSink.errors, []);
      assert.deepEqual(peerSink.errors, []);
    });

    it("writeRange writes at once (collected while connecting, written on connect); end() after the peer's FIN closes with everything delivered", async () => {
      const outSink = new Sink();
      const before = accepted.length;
      const out = net.dial({ host: '127.0.0.1', port: listener.port }, outSink, scheduler);
      READ_BUFFER.write('early ', 0);
      out.writeRange(READ_BUFFER, 0, 6);
      READ_BUFFER.fill(0xee, 0, 6);
      assert.equal(out.pendingBytes, 6, 'held until connected');
      await outSink.until(() => outSink.connected && accepted.length > before, 'connect');
      const { stream: peer, sink: peerSink } = accepted[accepted.length - 1];
      READ_BUFFER.write('now', 0);
      out.writeRange(READ_BUFFER, 0, 3);
      READ_BUFFER.fill(0xee, 0, 3);
      assert.equal(out.pendingBytes, 0, 'written without waiting for the turn to end');
      await peerSink.until(() => peerSink.bytes >= 9, '9 bytes');
      assert.equal(Buffer.concat(peerSink.chunks).toString(), 'early now');
      peer.endWrite();
      await outSink.until(() => outSink.ended, "the peer's FIN");
      out.push(Buffer.from(' and the last'));
      out.end();
      await peerSink.until(() => peerSink.ended, 'our FIN');
      assert.equal(Buffer.concat(peerSink.chunks).toString(), 'early now and the last');
      await outSink.until(() => outSink.closed, 'closed');
      await peerSink.until(() => peerSink.closed, 'the peer closed after both FINs');
      assert.deepEqual(outSink.errors, []);
      assert.deepEqual(peerSink.errors, []);
    });

    it('a refused connect is an error naming the address, then a close', async () => {
      const sink = new Sink();
      net.dial({ host: '127.0.0.1', port: 1 }, sink, scheduler);
      await sink.until(() => sink.closed, 'close');
      assert.deepEqual(sink.errors, ['connect ECONNREFUSED 127.0.0.1:1']);
      assert.equal(sink.connected, false);
    });

    it('a host name is tried at each of its addresses until one answers', async () => {
      // localhost resolves to 127.0.0.1 (and ::1 where /etc/hosts says so); the listener is on
      // 127.0.0.1 only, so this connects whichever address comes first.
      const sink = new Sink();
      const out = net.dial({ host: 'localhost', port: listener.port }, sink, scheduler);
      await sink.until(() => sink.connected || sink.closed, 'connect');
      assert.deepEqual(sink.errors, []);
      assert.equal(sink.connected, true);
      out.destroy();
    });
  });
}

test('LEGATE_NET and the bindings choose the transport, with why', () => {
  const kindOf = (c: ReturnType<typeof chooseTransport>) => ('kind' in c ? c.kind : c.error);
  assert.equal(kindOf(chooseTransport(undefined, null)), 'uv');
  assert.equal(kindOf(chooseTransport('auto', null)), 'uv');
  assert.deepEqual(chooseTransport('node', null), { kind: 'node', why: 'LEGATE_NET=node' });
  const changed = chooseTransport(undefined, 'missing useUserBuffer');
  assert.equal(kindOf(changed), 'node');
  assert.match('why' in changed ? changed.why : '', /not as expected \(missing useUserBuffer\)/);
  assert.match(
    (chooseTransport('uv', 'missing TCP') as { error: string }).error,
    /LEGATE_NET=uv, but .* \(missing TCP\)/,
  );
  assert.match((chooseTransport('libuv', null) as { error: string }).error, /auto, uv or node/);
  assert.throws(() => makeTransport('bogus', null), { code: 'LEGATE_NET' });
});

test('bindings of a changed shape are named, not used', () => {
  const tcp = { TCP: function TCP() {}, TCPConnectWrap: function W() {}, constants: {} };
  const problem = checkBindings(<T>(name: string) => {
    if (name === 'tcp_wrap') return tcp as T;
    if (name === 'pipe_wrap') return { Pipe: function P() {} } as T;
    throw new Error(`No such binding: ${name}`);
  });
  assert.deepEqual(problem, { problem: 'No such binding: stream_wrap' });
  const partial = checkBindings(
    <T>(name: string) =>
      (name === 'stream_wrap' ? { streamBaseState: new Int32Array(4) } : tcp) as T,
  );
  assert.ok('problem' in partial);
  assert.match(partial.problem, /^missing UV_TCP_REUSEPORT, Pipe, PipeConnectWrap, WriteWrap, /);
  assert.match(partial.problem, /useUserBuffer/);
});
