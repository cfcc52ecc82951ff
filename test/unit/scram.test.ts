// The SCRAM-SHA-256 client the postgres check logs in with, on RFC 7677's test vector (section 3);
// the real-server side of it is in test/integration/health-probe-postgres.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ScramClient } from '../../engine/health/probes/scram.ts';

const SERVER_FIRST =
  'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';

describe('ScramClient', () => {
  it('produces RFC 7677 messages and checks the server signature', () => {
    const c = new ScramClient('pencil', 'user', 'rOprNGfwEbeRWgbNEkqO');
    assert.equal(c.first(), 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
    assert.equal(
      c.final(SERVER_FIRST),
      'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
    );
    assert.equal(c.verify('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4='), true);
    assert.equal(c.verify('v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4='), false);
    assert.equal(c.verify('e=invalid-proof'), false);
  });

  it('refuses a server nonce that does not extend its own, and a malformed message', () => {
    const c = new ScramClient('pencil', 'user', 'abc');
    assert.throws(() => c.final('r=xyz123,s=AAAA,i=4096'), /nonce does not extend ours/);
    assert.throws(() => c.final('r=abc,s=AAAA,i=4096'), /nonce does not extend ours/);
    assert.throws(() => c.final('r=abcdef,i=4096'), /malformed/);
    assert.throws(() => c.final('r=abcdef,s=AAAA,i=zero'), /malformed/);
    assert.equal(c.verify('v=anything'), false, 'no signature expected before final()');
  });
});
