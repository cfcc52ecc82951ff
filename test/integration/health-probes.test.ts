// The tcp, redis, send-expect (HAProxy tcp-check) and mysql health checks: real redis-server,
// small scripted TCP servers for tcp-check's rules, a frozen listener for connect timeouts.
// mysql: no MySQL/MariaDB server is installed here, so its check runs against a server that
// plays back captured handshake bytes (sources below) and records what the check sent.
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { CheckStep, HealthCheckKind } from '../../engine/config/tcp-types.ts';
import { runCheck } from '../../engine/health/probes/index.ts';
import {
  describeMysqlError,
  mysqlClientAuth,
  mysqlPacket,
  mysqlServerVersion,
} from '../../engine/health/probes/mysql.ts';
import { freePort, type RedisProcess, startRedisServer } from '../helpers/processes.ts';
import {
  type FrozenListener,
  type ScriptedServer,
  startFrozenListener,
  startScriptedServer,
} from '../helpers/tcp-servers.ts';

const TIMEOUT = 3000;
const local = (port: number) => ({ host: '127.0.0.1', port });

describe('tcp check', () => {
  let listener: ScriptedServer;
  let frozen: FrozenListener;
  before(async () => {
    [listener, frozen] = await Promise.all([startScriptedServer(), startFrozenListener()]);
  });
  after(async () => {
    await Promise.all([listener.close(), frozen.close()]);
  });

  it('L4OK when the server accepts, L4CON when nothing listens', async () => {
    const up = await runCheck({ kind: 'tcp' }, local(listener.port), TIMEOUT);
    assert.deepEqual([up.ok, up.code, up.reason], [true, 'L4OK', 'connected']);
    const down = await runCheck({ kind: 'tcp' }, local(await freePort()), TIMEOUT);
    assert.deepEqual([down.ok, down.code], [false, 'L4CON']);
    assert.match(down.reason, /^connection refused \(127\.0\.0\.1:\d+\)$/);
  });

  it('L4TOUT when the connect gets no answer within the timeout', async () => {
    const r = await runCheck({ kind: 'tcp' }, local(frozen.port), 300);
    assert.deepEqual([r.ok, r.code], [false, 'L4TOUT']);
    assert.match(r.reason, /^connect to 127\.0\.0\.1:\d+ timed out$/);
    assert.ok(r.durationMs >= 290 && r.durationMs < 2000, `took ${r.durationMs} ms`);
  });
});

describe('redis check (HAProxy redis-check: PING, expect +PONG)', () => {
  let redis: RedisProcess;
  let locked: RedisProcess;
  before(async () => {
    [redis, locked] = await Promise.all([
      startRedisServer(),
      startRedisServer({ args: ['--requirepass', 'secret'] }),
    ]);
  });
  after(async () => {
    await Promise.all([redis.stop(), locked.stop()]);
  });

  it('L7OK against redis-server', async () => {
    const r = await runCheck({ kind: 'redis' }, local(redis.port), TIMEOUT);
    assert.deepEqual([r.ok, r.code, r.reason], [true, 'L7OK', 'Redis server is ok']);
  });

  it('L7STS with the reply when Redis answers something else (requirepass)', async () => {
    const r = await runCheck({ kind: 'redis' }, local(locked.port), TIMEOUT);
    assert.deepEqual([r.ok, r.code], [false, 'L7STS']);
    assert.equal(r.reason, 'Redis answered "-NOAUTH Authentication required."');
  });

  it('L7TOUT when Redis is frozen (SIGSTOP), L4CON once it is stopped', async () => {
    const r = await startRedisServer();
    try {
      r.process.kill('SIGSTOP');
      const frozen = await runCheck({ kind: 'redis' }, local(r.port), 300);
      assert.deepEqual([frozen.ok, frozen.code], [false, 'L7TOUT']);
      r.process.kill('SIGCONT');
    } finally {
      await r.stop();
    }
    const stopped = await runCheck({ kind: 'redis' }, local(r.port), TIMEOUT);
    assert.equal(stopped.code, 'L4CON');
  });
});

describe('send-expect check (HAProxy tcp-check rules)', () => {
  let server: ScriptedServer;
  let other: ScriptedServer;
  /** A line protocol: greets "220 hello", answers PING, BIN (3 raw bytes), QUIT (then closes). */
  const speak = (socket: Socket) => {
    socket.write('220 hello\r\n');
    socket.on('data', (d: Buffer) => {
      const line = d.toString();
      if (line === 'PING\r\n') socket.write('+PONG\r\n');
      else if (line === 'BIN\r\n') socket.write(Buffer.from([1, 2, 0xff]));
      else if (line === 'QUIT\r\n') socket.end('bye\r\n');
    });
  };
  before(async () => {
    [server, other] = await Promise.all([
      startScriptedServer(speak),
      startScriptedServer((s) => s.write('other\r\n')),
    ]);
  });
  after(async () => {
    await Promise.all([server.close(), other.close()]);
  });

  const send = (text: string): CheckStep => ({ op: 'send', data: Buffer.from(text) });
  const expect = (
    match: 'string' | 'rstring' | 'binary' | 'rbinary',
    pattern: string,
    negate = false,
  ): CheckStep => ({ op: 'expect', negate, match, pattern });
  const check = (steps: CheckStep[], timeout = TIMEOUT) =>
    runCheck({ kind: 'send-expect', steps } satisfies HealthCheckKind, local(server.port), timeout);

  it('connect alone (or no rules) is L4OK; any rule after it ends L7OK', async () => {
    assert.equal((await check([])).code, 'L4OK');
    assert.equal((await check([{ op: 'connect', port: null }])).code, 'L4OK');
    const r = await check([expect('string', '220 hello')]);
    assert.deepEqual([r.ok, r.code], [true, 'L7OK'], r.reason);
  });

  it('runs send and expect in order; a send forgets what came before it', async () => {
    // ^\+PONG matches only if the greeting, read by the first expect, was dropped by the send.
    // (Like HAProxy, a send right after connect may come before the greeting arrives.)
    const r = await check([
      expect('rstring', '^220 '),
      send('PING\r\n'),
      expect('rstring', '^\\+PONG\r\n$'),
      expect('string', 'PONG'),
    ]);
    assert.equal(r.code, 'L7OK', r.reason);
    assert.equal(Buffer.concat(server.received.at(-1)!).toString(), 'PING\r\n');
  });

  it('binary and rbinary look at raw bytes and at their uppercase hex', async () => {
    const r = await check([
      expect('string', 'hello'),
      send('BIN\r\n'),
      expect('binary', '0102ff'),
      expect('rbinary', '^0102FF$'),
    ]);
    assert.equal(r.code, 'L7OK', r.reason);
  });

  it('a mismatch is L7RSP once the server closes, L7TOUT while it stays silent', async () => {
    const closed = await check([
      expect('string', '220'),
      send('QUIT\r\n'),
      expect('string', 'nope'),
    ]);
    assert.deepEqual([closed.ok, closed.code], [false, 'L7RSP']);
    assert.equal(closed.reason, `tcp-check step 3: did not find string 'nope' in "bye\\r\\n"`);
    const silent = await check([expect('string', 'never sent')], 300);
    assert.deepEqual([silent.ok, silent.code], [false, 'L7TOUT']);
  });

  it('expect ! fails at once when the pattern is there, and passes only when the server closes', async () => {
    const found = await check([expect('string', '220', true)]);
    assert.deepEqual([found.ok, found.code], [false, 'L7RSP']);
    assert.match(found.reason, /^tcp-check step 1: found ! string '220'/);
    assert.ok(found.durationMs < 1000);
    const closes = await check([
      expect('string', '220'),
      send('QUIT\r\n'),
      expect('string', 'ERR', true),
    ]);
    assert.equal(closes.code, 'L7OK', closes.reason);
    const open = await check([send('PING\r\n'), expect('string', 'ERR', true)], 300);
    assert.equal(open.code, 'L7TOUT');
  });

  it('connect port N talks to another port; bad patterns are reported, not thrown', async () => {
    const r = await check([{ op: 'connect', port: other.port }, expect('string', 'other')]);
    assert.equal(r.code, 'L7OK', r.reason);
    const regex = await check([expect('rstring', '(')]);
    assert.deepEqual([regex.code], ['L7RSP']);
    assert.match(regex.reason, /^tcp-check regex '\(' is invalid/);
    const hex = await check([expect('binary', 'abc')]);
    assert.equal(hex.reason, "tcp-check binary pattern 'abc' is not hex bytes");
  });
});

// A MySQL 5.5.46 Initial Handshake (HandshakeV10), header included, from a tcpdump capture
// published in github.com/TraceBundy/MySQL-Protocol-Analysis ("mysql协议分析.md"), bytes
// 0x34–0x96 of the frame (the TCP payload).
const HANDSHAKE_55 = Buffer.from(
  '5b0000000a352e352e34362d307562756e7475302e31342e30342e32005f0000006c622a4663405465' +
    '00fff70802000f8015000000000000000000007e6d267028707e4b37735f61006d7973716c5f6e61' +
    '746976655f70617373776f726400',
  'hex',
);
// A MySQL 8.0.32 handshake payload and the OK_Packet ending a login, from the byte-by-byte
// walkthrough in github.com/KarboniteKream/thoughts (_posts/2024-01-08-mysql-protocol.md);
// the 4-byte headers (length, sequence id) are added here.
const HANDSHAKE_80_PAYLOAD = Buffer.from(
  '0a382e302e3332000800000001c461946597640' +
    '4b00ffffff0200ffdf15000000000000000000003f7134715345' +
    '5e5d227a323d0063616368696e675f736861325f70617373776f726400',
  'hex',
);
const OK_PAYLOAD = Buffer.from('00000002000000', 'hex');
function packet(sequence: number, payload: Buffer): Buffer {
  const header = Buffer.from([
    payload.length & 0xff,
    (payload.length >> 8) & 0xff,
    payload.length >> 16,
    sequence,
  ]);
  return Buffer.concat([header, payload]);
}
// ERR packets are not from a capture: built from the documented ERR_Packet layout (0xff, error
// code LE, then '#'+SQLSTATE after a login, plain text before one) with MySQL's own messages.
const ERR_BLOCKED = packet(
  0,
  Buffer.concat([
    Buffer.from([0xff, 0x69, 0x04]), // 1129
    Buffer.from(
      "Host '127.0.0.1' is blocked because of many connection errors; unblock with 'mysqladmin flush-hosts'",
    ),
  ]),
);
const ERR_DENIED = packet(
  2,
  Buffer.concat([
    Buffer.from([0xff, 0x15, 0x04]), // 1045
    Buffer.from("#28000Access denied for user 'haproxy'@'localhost' (using password: NO)"),
  ]),
);

describe('mysql check (HAProxy mysql-check, post-41) — played-back server, not a real MySQL', () => {
  it("sends exactly HAProxy's Client Authentication packet and COM_QUIT", () => {
    // mysql41_req in HAProxy's src/tcpcheck.c with user "haproxy": length 7+7+27 = 41, sequence 1.
    const expected =
      '29000001' +
      '00820000' +
      '00800001' +
      '21' +
      '00'.repeat(23) +
      Buffer.from('haproxy\0').toString('hex') +
      '00' +
      '0100000001';
    assert.equal(mysqlClientAuth('haproxy').toString('hex'), expected);
  });

  it('parses the captured handshakes, split or whole', () => {
    const p = mysqlPacket(HANDSHAKE_55, 0)!;
    assert.equal(p.end, HANDSHAKE_55.length);
    assert.equal(mysqlServerVersion(p.payload), '5.5.46-0ubuntu0.14.04.2');
    assert.equal(mysqlPacket(HANDSHAKE_55.subarray(0, 50), 0), null);
    assert.equal(mysqlPacket(HANDSHAKE_55.subarray(0, 3), 0), null);
    assert.equal(
      mysqlServerVersion(mysqlPacket(packet(0, HANDSHAKE_80_PAYLOAD), 0)!.payload),
      '8.0.32',
    );
    assert.equal(
      describeMysqlError(mysqlPacket(ERR_DENIED, 0)!.payload),
      "MySQL error 1045 (28000): Access denied for user 'haproxy'@'localhost' (using password: NO)",
    );
  });

  const playback = (answers: {
    greeting: Buffer;
    afterLogin?: Buffer;
    closeAfterGreeting?: boolean;
  }) =>
    startScriptedServer((socket) => {
      socket.write(answers.greeting);
      if (answers.closeAfterGreeting) socket.end();
      socket.on('data', () => {
        if (answers.afterLogin) socket.end(answers.afterLogin);
      });
    });

  it('without a user: reads the handshake only, sends nothing (L7OK with the version)', async () => {
    const s = await playback({ greeting: HANDSHAKE_55 });
    try {
      const r = await runCheck({ kind: 'mysql', user: null }, local(s.port), TIMEOUT);
      assert.deepEqual(
        [r.ok, r.code, r.reason],
        [true, 'L7OK', 'MySQL 5.5.46-0ubuntu0.14.04.2 is ok'],
      );
      assert.equal(Buffer.concat(s.received[0]).length, 0);
    } finally {
      await s.close();
    }
  });

  it('with a user: sends the login and QUIT, passes on OK, fails L7STS on an ERR', async () => {
    const ok = await playback({
      greeting: packet(0, HANDSHAKE_80_PAYLOAD),
      afterLogin: packet(2, OK_PAYLOAD),
    });
    const denied = await playback({ greeting: HANDSHAKE_55, afterLogin: ERR_DENIED });
    try {
      const r = await runCheck({ kind: 'mysql', user: 'haproxy' }, local(ok.port), TIMEOUT);
      assert.deepEqual([r.ok, r.code, r.reason], [true, 'L7OK', 'MySQL 8.0.32 is ok']);
      assert.deepEqual(Buffer.concat(ok.received[0]), mysqlClientAuth('haproxy'));
      const d = await runCheck({ kind: 'mysql', user: 'haproxy' }, local(denied.port), TIMEOUT);
      assert.deepEqual([d.ok, d.code], [false, 'L7STS']);
      assert.equal(
        d.reason,
        "MySQL error 1045 (28000): Access denied for user 'haproxy'@'localhost' (using password: NO)",
      );
    } finally {
      await Promise.all([ok.close(), denied.close()]);
    }
  });

  it('an ERR instead of a handshake is L7STS; a truncated one is L7RSP', async () => {
    const blocked = await playback({ greeting: ERR_BLOCKED, closeAfterGreeting: true });
    const cut = await playback({
      greeting: HANDSHAKE_55.subarray(0, 40),
      closeAfterGreeting: true,
    });
    try {
      const b = await runCheck({ kind: 'mysql', user: null }, local(blocked.port), TIMEOUT);
      assert.deepEqual(
        [b.code, b.reason],
        [
          'L7STS',
          "MySQL error 1129: Host '127.0.0.1' is blocked because of many connection errors; unblock with 'mysqladmin flush-hosts'",
        ],
      );
      const c = await runCheck({ kind: 'mysql', user: null }, local(cut.port), TIMEOUT);
      assert.deepEqual([c.ok, c.code], [false, 'L7RSP']);
    } finally {
      await Promise.all([blocked.close(), cut.close()]);
    }
  });
});
