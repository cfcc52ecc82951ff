import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { allocateHttpPeers, HttpPeerHealth } from '../../engine/shared/http-peers-memory.ts';
import { ipHashKey, ipHashKeyFromBytes } from '../../workers/http/balance/client-key.ts';
import { rehashCrc } from '../../workers/http/balance/hash.ts';
import {
  buildPoints,
  type HashConsistent,
  serverPoints,
  splitServer,
} from '../../workers/http/balance/hash-consistent.ts';
import { type Balancer, PeerSet, PickState } from '../../workers/http/balance/peers.ts';
import { parseForwardedAddress, RealIp } from '../../workers/http/balance/real-ip.ts';
import { parsePercent, SplitClients } from '../../workers/http/balance/split-clients.ts';
import { cookieTime, StickyCookies, serverId } from '../../workers/http/balance/sticky-cookie.ts';
import { balancerOf, type ServerLine } from '../helpers/http-peers.ts';

const enc = new TextEncoder();
const NOW = 1000;

/** One request: begin, pick once, release as a success. */
function once(b: Balancer, key: Uint8Array, hint = -1): number {
  const state = new PickState(b.peers.count);
  b.begin(state, key, hint);
  const peer = b.pick(state, NOW);
  if (peer >= 0) b.peers.release(peer, false, NOW);
  return peer;
}

function sequence(b: Balancer, n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += String.fromCharCode(65 + once(b, new Uint8Array(0)));
  return out;
}

const PROD_EXP: ServerLine[] = [
  { name: 'web-prod:80', weight: 9 },
  { name: 'web-experiment:80', weight: 1 },
];

/** ip_hash's hash for a key, without the walk: the facts' `h`. */
function ipHashValue(key: Uint8Array): number {
  let h = 89;
  for (const b of key) h = (h * 113 + b) % 6271;
  return h;
}

describe('client keys for ip_hash', () => {
  it('takes the first three bytes of IPv4, sixteen of IPv6, and unmaps ::ffff:a.b.c.d', () => {
    assert.deepEqual([...ipHashKey('10.0.4.77')], [10, 0, 4]);
    assert.deepEqual([...ipHashKey('::ffff:10.0.4.77')], [10, 0, 4]);
    assert.deepEqual([...ipHashKey('::FFFF:127.0.9.1')], [127, 0, 9]);
    assert.deepEqual([...ipHashKey('::1')], [...new Array(15).fill(0), 1]);
    assert.deepEqual(
      [...ipHashKey('2001:db8::ff00:42:8329')],
      [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0xff, 0, 0, 0x42, 0x83, 0x29],
    );
    assert.deepEqual([...ipHashKey('fe80::1%eth0')].slice(0, 2), [0xfe, 0x80]);
    assert.deepEqual([...ipHashKey('/run/legate.sock')], [0, 0, 0]);
    assert.deepEqual([...ipHashKeyFromBytes(Uint8Array.of(192, 168, 1, 9))], [192, 168, 1]);
    const mapped = new Uint8Array(16);
    mapped.set([0xff, 0xff, 10, 0, 0, 1], 10);
    assert.deepEqual([...ipHashKeyFromBytes(mapped)], [10, 0, 0]);
  });
});

describe('ip_hash (facts/nginx.md vectors)', () => {
  it('gives the documented hashes and variants for prod 9 : experiment 1', () => {
    const b = balancerOf('ip_hash', PROD_EXP);
    const cases: [string, number, number][] = [
      ['127.0.0.1', 4040, 0],
      ['10.0.0.1', 2565, 0],
      ['10.0.4.1', 2569, 1],
      ['10.0.4.200', 2569, 1],
      ['127.0.9.5', 4049, 1],
    ];
    for (const [ip, h, peer] of cases) {
      assert.equal(ipHashValue(ipHashKey(ip)), h, ip);
      assert.equal(once(b, ipHashKey(ip)), peer, ip);
    }
  });

  it('sends exactly one /24 in ten of a /16 to the experiment', () => {
    const b = balancerOf('ip_hash', PROD_EXP);
    let experiment = 0;
    for (let c = 0; c < 250; c++) experiment += once(b, ipHashKey(`10.1.${c}.1`));
    assert.equal(experiment, 25);
  });

  it('does not reshuffle when a server is down: only the down one’s clients move', () => {
    const lines: ServerLine[] = [{ name: 'a:80' }, { name: 'b:80' }, { name: 'c:80' }];
    const up = balancerOf('ip_hash', lines);
    const downB = balancerOf('ip_hash', [lines[0], { name: 'b:80', down: true }, lines[2]]);
    let moved = 0;
    for (let c = 0; c < 256; c++) {
      const key = ipHashKey(`10.2.${c}.1`);
      const before = once(up, key);
      const after = once(downB, key);
      assert.notEqual(after, 1);
      if (before !== 1) assert.equal(after, before);
      else moved++;
    }
    assert.ok(moved > 40, `some clients were on b (${moved})`);
  });

  it('on a failed peer, goes on hashing from where it was, skipping the tried one', () => {
    const b = balancerOf('ip_hash', PROD_EXP);
    const state = new PickState(2);
    b.begin(state, ipHashKey('10.0.4.1'), -1);
    assert.equal(b.pick(state, NOW), 1);
    b.peers.release(1, true, NOW);
    assert.equal(b.pick(state, NOW), 0, 'the retry takes the other peer');
    b.peers.release(0, false, NOW);
    assert.equal(b.pick(state, NOW), -1, 'no untried peer left');
    // max_fails=1: the experiment is out for fail_timeout, so its clients go to prod …
    assert.equal(once(b, ipHashKey('10.0.4.1')), 0);
    // … until the window has passed.
    const later = new PickState(2);
    b.begin(later, ipHashKey('10.0.4.1'), -1);
    assert.equal(b.pick(later, NOW + 10001), 1);
  });
});

describe('smooth weighted round robin', () => {
  it('gives AAAAABAAAA for 9:1 and AABACAA for 5:1:1', () => {
    assert.equal(sequence(balancerOf('round_robin', PROD_EXP), 20), 'AAAAABAAAA'.repeat(2));
    const three = balancerOf('round_robin', [
      { name: 'a:80', weight: 5 },
      { name: 'b:80', weight: 1 },
      { name: 'c:80', weight: 1 },
    ]);
    assert.equal(sequence(three, 14), 'AABACAA'.repeat(2));
  });

  it('skips down peers and goes to backups only when no primary is usable', () => {
    const b = balancerOf('round_robin', [
      { name: 'a:80', down: true },
      { name: 'b:80' },
      { name: 'c:80', backup: true },
    ]);
    assert.equal(sequence(b, 3), 'BBB');
    const state = new PickState(3);
    b.begin(state, new Uint8Array(0), -1);
    assert.equal(b.pick(state, NOW), 1);
    b.peers.release(1, true, NOW);
    assert.equal(b.pick(state, NOW), 2, 'the backup, after the only live primary failed');
    b.peers.release(2, false, NOW);
    assert.equal(b.pick(state, NOW), -1);
  });

  it('lowers a failed peer’s effective weight by weight/max_fails, then climbs back one a pick', () => {
    const b = balancerOf('round_robin', [
      { name: 'a:80', weight: 4, maxFails: 2 },
      { name: 'b:80', weight: 1 },
    ]);
    const state = new PickState(2);
    b.begin(state, new Uint8Array(0), -1);
    const first = b.pick(state, NOW);
    assert.equal(first, 0);
    b.peers.release(0, true, NOW);
    assert.equal(b.peers.effectiveWeight[0], 2);
    assert.equal(b.peers.health.fails(0), 1);
    once(b, new Uint8Array(0));
    assert.equal(b.peers.effectiveWeight[0], 3, 'each selection round adds one back');
  });

  it('clears failures after a success once a new window has begun (accessed < checked)', () => {
    const b = balancerOf('round_robin', [{ name: 'a:80', maxFails: 3 }, { name: 'b:80' }]);
    const state = new PickState(2);
    b.begin(state, new Uint8Array(0), -1);
    assert.equal(b.pick(state, NOW), 0);
    b.peers.release(0, true, NOW);
    assert.equal(b.peers.health.fails(0), 1);
    // A success inside the window leaves the count.
    const s2 = new PickState(2);
    b.begin(s2, new Uint8Array(0), -1);
    const p = b.pick(s2, NOW + 5);
    b.peers.release(p, false, NOW + 5);
    if (p === 0) assert.equal(b.peers.health.fails(0), 1);
    // Picked after the window: checked moves on, and the success clears the count.
    for (let i = 0; i < 4; i++) {
      const s = new PickState(2);
      b.begin(s, new Uint8Array(0), -1);
      const q = b.pick(s, NOW + 20000);
      b.peers.release(q, false, NOW + 20000);
    }
    assert.equal(b.peers.health.fails(0), 0);
  });

  it('respects max_conns, counted in the shared table', () => {
    const b = balancerOf('round_robin', [{ name: 'a:80', maxConns: 1 }, { name: 'b:80' }]);
    const s1 = new PickState(2);
    b.begin(s1, new Uint8Array(0), -1);
    assert.equal(b.pick(s1, NOW), 0);
    for (let i = 0; i < 3; i++) {
      const s = new PickState(2);
      b.begin(s, new Uint8Array(0), -1);
      assert.equal(b.pick(s, NOW), 1, 'a is full');
      b.peers.release(1, false, NOW);
    }
    b.peers.release(0, false, NOW);
    assert.equal(b.peers.conns(0), 0);
  });
});

describe('hash KEY', () => {
  it('hashes crc32([REHASH] KEY) as Cache::Memcached does', () => {
    assert.equal(rehashCrc(0, enc.encode('/a')), zlibCrc32('/a'));
    assert.equal(rehashCrc(1, enc.encode('/a')), zlibCrc32('1/a'));
    assert.equal(rehashCrc(12, enc.encode('/a')), zlibCrc32('12/a'));
  });

  it('picks the peer whose weight range holds the running sum', () => {
    const b = balancerOf('hash', PROD_EXP, { hashKey: '$request_uri' });
    for (let i = 0; i < 200; i++) {
      const key = enc.encode(`/item/${i}`);
      const expected = ((zlibCrc32(key) >>> 16) & 0x7fff) % 10 < 9 ? 0 : 1;
      assert.equal(once(b, key), expected);
    }
  });

  it('falls back to round robin for an empty key', () => {
    assert.equal(
      Array.from({ length: 10 }, () => once(balancerOf('hash', PROD_EXP), new Uint8Array(0))).join(
        '',
      ),
      '0000000000',
    );
  });
});

describe('hash KEY consistent', () => {
  it('makes points from the server string as written (first point of web-prod:80 is 942430258)', () => {
    assert.equal(serverPoints('web-prod:80', 1)[0], 942430258);
    assert.equal(serverPoints('web-prod:80', 9).length, 1440);
    assert.deepEqual(splitServer('web-prod:80'), { host: 'web-prod', port: '80' });
    assert.deepEqual(splitServer('unix:/tmp/s.sock'), { host: '/tmp/s.sock', port: '' });
    assert.deepEqual(splitServer('web-prod'), { host: 'web-prod', port: '' });
    assert.deepEqual(splitServer('[::1]:8080'), { host: '[::1]', port: '8080' });
  });

  it('sorts points and finds the first point at or after crc32(key), wrapping', () => {
    const ring = buildPoints(['web-prod:80', 'web-experiment:80'], [9, 1]);
    assert.equal(ring.hash.length, 1600);
    for (let i = 1; i < ring.hash.length; i++) assert.ok(ring.hash[i - 1] < ring.hash[i]);
    const b = balancerOf('hash_consistent', PROD_EXP, {
      hashKey: '$request_uri',
    }) as HashConsistent;
    for (let i = 0; i < 300; i++) {
      const key = enc.encode(`/k/${i}`);
      const h = zlibCrc32(key);
      let at = ring.hash.findIndex((p) => p >= h);
      if (at < 0) at = 0;
      assert.equal(once(b, key), ring.server[at]);
    }
  });

  it('moves only the removed server’s keys when one goes down', () => {
    const lines: ServerLine[] = [{ name: 'a:80' }, { name: 'b:80' }, { name: 'c:80' }];
    const all = balancerOf('hash_consistent', lines, { hashKey: '$request_uri' });
    const cDown = balancerOf(
      'hash_consistent',
      [lines[0], lines[1], { name: 'c:80', down: true }],
      {
        hashKey: '$request_uri',
      },
    );
    for (let i = 0; i < 300; i++) {
      const key = enc.encode(`/m/${i}`);
      const before = once(all, key);
      const after = once(cDown, key);
      if (before !== 2) assert.equal(after, before);
      else assert.notEqual(after, 2);
    }
  });
});

describe('least_conn', () => {
  it('takes the peer with the fewest connections per weight, round robin on ties', () => {
    const b = balancerOf('least_conn', [{ name: 'a:80' }, { name: 'b:80' }, { name: 'c:80' }]);
    const held: number[] = [];
    const states = Array.from({ length: 3 }, () => new PickState(3));
    for (const s of states) {
      b.begin(s, new Uint8Array(0), -1);
      held.push(b.pick(s, NOW));
    }
    assert.deepEqual([...held].sort(), [0, 1, 2], 'three open requests spread over three peers');
    b.peers.release(1, false, NOW);
    const s = new PickState(3);
    b.begin(s, new Uint8Array(0), -1);
    assert.equal(b.pick(s, NOW), 1, 'b has fewest connections now');
  });
});

describe('random', () => {
  it('draws by weight, and with two takes the less loaded of two distinct peers', () => {
    const draws = [0, 9, 5];
    let i = 0;
    const b = balancerOf('random', PROD_EXP, {}, undefined);
    assert.ok([0, 1].includes(once(b, new Uint8Array(0))));
    const fixed = balancerOf('random', PROD_EXP, {}, () => draws[i++ % draws.length]);
    assert.equal(once(fixed, new Uint8Array(0)), 0, 'x=0 is in prod’s range [0,9)');
    assert.equal(once(fixed, new Uint8Array(0)), 1, 'x=9 is the experiment’s');
    const two = balancerOf(
      'random',
      PROD_EXP,
      { randomTwo: true },
      () => draws[i++ % draws.length],
    );
    i = 0;
    // Draws 0 (prod) then 9 (experiment), both idle: nginx keeps the second one drawn.
    assert.equal(once(two, new Uint8Array(0)), 1);
    // The experiment holds a connection: per weight it is busier (1×9 > 0×1), so prod wins.
    const busy = new PickState(2);
    two.begin(busy, new Uint8Array(0), -1);
    i = 0;
    assert.equal(two.pick(busy, NOW), 1);
    i = 0;
    assert.equal(once(two, new Uint8Array(0)), 0);
  });
});

describe('split_clients', () => {
  it('reads percentages to two decimals', () => {
    assert.equal(parsePercent('10%'), 1000);
    assert.equal(parsePercent('0.5%'), 50);
    assert.equal(parsePercent('33.33%'), 3333);
    assert.equal(parsePercent('1.234%'), null);
    assert.equal(parsePercent('10'), null);
  });

  it('bounds parts as nginx does, with the 100%-without-* gap at the top', () => {
    const s = new SplitClients([
      { hundredths: 9000, value: 'prod' },
      { hundredths: 1000, value: 'exp' },
    ]);
    assert.deepEqual([...s.bounds], [3865470565, 4294967294]);
    const star = new SplitClients([
      { hundredths: 1000, value: 'exp' },
      { hundredths: null, value: 'prod' },
    ]);
    let exp = 0;
    for (let i = 0; i < 2000; i++) if (star.value(enc.encode(`client-${i}`)) === 'exp') exp++;
    assert.ok(exp > 140 && exp < 260, `about 10% (${exp} of 2000)`);
  });
});

describe('sticky cookie', () => {
  it('names a peer by the hex MD5 of its address and writes the attributes in nginx’s order', () => {
    const health = new HttpPeerHealth(allocateHttpPeers(2, 1));
    const peers = new PeerSet(
      [
        {
          name: 'a:80',
          address: '127.0.0.1:8081',
          weight: 1,
          maxFails: 1,
          failTimeoutMs: 10000,
          maxConns: 0,
          down: false,
          backup: false,
        },
        {
          name: 'b:80',
          address: '127.0.0.1:8082',
          weight: 1,
          maxFails: 1,
          failTimeoutMs: 10000,
          maxConns: 0,
          down: false,
          backup: false,
        },
      ],
      health,
    );
    const id = createHash('md5').update('127.0.0.1:8081').digest('hex');
    assert.equal(serverId('127.0.0.1:8081'), id);
    const sticky = new StickyCookies(
      {
        name: 'srv',
        expires: 3600,
        domain: '.example.com',
        path: '/',
        secure: true,
        httpOnly: true,
        sameSite: 'lax',
      },
      peers,
    );
    assert.equal(sticky.peerOf(id), 0);
    assert.equal(sticky.peerOf('nope'), -1);
    assert.equal(
      sticky.setCookie(0, 1700000000),
      `srv=${id}; expires=${cookieTime(1700003600)}; max-age=3600; domain=.example.com; httponly; secure; samesite=lax; path=/`,
    );
    assert.equal(cookieTime(2145916555), 'Thu, 31-Dec-37 23:55:55 GMT');
  });

  it('sends a request with a usable peer’s cookie to that peer, under any balancer', () => {
    for (const kind of ['round_robin', 'ip_hash', 'hash', 'least_conn'] as const) {
      const b = balancerOf(kind, PROD_EXP, { hashKey: '$request_uri' });
      for (let i = 0; i < 20; i++) assert.equal(once(b, ipHashKey('127.0.0.1'), 1), 1, kind);
    }
    const down = balancerOf('round_robin', [PROD_EXP[0], { name: 'x:80', down: true }]);
    assert.equal(once(down, new Uint8Array(0), 1), 0, 'a down sticky peer is not used');
  });
});

describe('real client address (set_real_ip_from)', () => {
  it('parses forwarded addresses as ngx_parse_addr_port does', () => {
    assert.equal(parseForwardedAddress('1.2.3.4'), '1.2.3.4');
    assert.equal(parseForwardedAddress('01.2.3.4:80'), '1.2.3.4');
    assert.equal(parseForwardedAddress('[2001:DB8::1]:443'), '2001:db8::1');
    assert.equal(parseForwardedAddress('[::1]'), null);
    assert.equal(parseForwardedAddress('1.2.3.4:0'), null);
    assert.equal(parseForwardedAddress('host:80'), null);
  });

  it('trusts unix sockets only with unix:, and IPv4-mapped clients as IPv4', () => {
    const r = new RealIp({
      trusted: ['10.0.0.0/8', 'unix:'],
      header: 'x-forwarded-for',
      recursive: false,
    });
    assert.equal(r.resolve('', ['1.2.3.4']), '1.2.3.4');
    assert.equal(r.resolve('::ffff:10.1.1.1', ['1.2.3.4']), '1.2.3.4');
    assert.equal(r.resolve('11.0.0.1', ['1.2.3.4']), '11.0.0.1');
    assert.equal(r.resolve('10.0.0.1', []), '10.0.0.1');
    const noUnix = new RealIp({
      trusted: ['10.0.0.0/8'],
      header: 'x-forwarded-for',
      recursive: false,
    });
    assert.equal(noUnix.resolve('', ['1.2.3.4']), '');
  });
});
