// A primary and its streaming standby behind the broker with a postgres check that requires a
// primary: sessions go to the primary; when it stops and the standby is promoted, the check
// finds the new primary and new sessions go there.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { httpGet } from '../helpers/admin.ts';
import { serverStats, serviceYaml, startBroker } from '../helpers/broker.ts';
import { until } from '../helpers/faults.ts';
import { PG_BIN, type PostgresCluster, startPostgres } from '../helpers/postgres.ts';
import { freePort, run } from '../helpers/processes.ts';

let primary: PostgresCluster;
let standby: PostgresCluster;

before(async () => {
  primary = await startPostgres({ auth: 'md5', user: 'app', password: 'pw' });
  standby = await startPostgres({ standbyOf: primary });
});

after(async () => {
  await Promise.all([standby?.stop(), primary?.stop()]);
});

it('require_primary: the standby is DOWN until promoted, then takes the sessions', async () => {
  const port = await freePort();
  const broker = await startBroker(
    serviceYaml({
      port,
      keys: 'balance: first\ncheck:\n  type: postgres\n  user: app\n  database: postgres\n  password: pw\n  require_primary: true\n  interval: 200\n  fall: 1\n  rise: 1\n  timeout: 2s',
      servers: `- address: 127.0.0.1:${primary.port}\n  name: a\n- address: 127.0.0.1:${standby.port}\n  name: b`,
    }),
  );
  const psql = (sql: string) =>
    run(
      `${PG_BIN}/psql`,
      ['-h', '127.0.0.1', '-p', String(port), '-U', 'app', '-d', 'postgres', '-XAtq', '-c', sql],
      {
        env: { PGPASSWORD: 'pw', PGCONNECT_TIMEOUT: '10', PGSSLMODE: 'disable' },
      },
    );
  try {
    await until(
      async () => (await serverStats(broker.adminPort, 'b')).status === 'DOWN',
      10000,
      'standby DOWN',
    );
    const b = await serverStats(broker.adminPort, 'b');
    assert.ok(b.check !== null && !/^L7OK/.test(b.check.code), JSON.stringify(b.check));
    const aStats = await serverStats(broker.adminPort, 'a');
    assert.equal(aStats.status, 'UP', JSON.stringify(aStats));
    const before = await psql('SELECT current_setting($$port$$), pg_is_in_recovery()');
    assert.equal(before.stdout.toString().trim(), `${primary.port}|f`, before.stderr);

    const config = await httpGet(broker.adminPort, '/config');
    assert.match(config.body, /"password": "<redacted>"/);
    assert.doesNotMatch(config.body, /"pw"/);

    await primary.halt();
    await standby.promote();
    await until(
      async () => (await serverStats(broker.adminPort, 'b')).status === 'UP',
      15000,
      'promoted standby UP',
    );
    assert.equal((await serverStats(broker.adminPort, 'a')).status, 'DOWN');
    const after = await psql('SELECT current_setting($$port$$), pg_is_in_recovery()');
    assert.equal(after.stdout.toString().trim(), `${standby.port}|f`, after.stderr);
  } finally {
    await broker.stop();
  }
});
