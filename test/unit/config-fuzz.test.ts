// Every config reader under mutated input: the shipped examples of each dialect (nutcracker and
// native YAML, haproxy.cfg, nginx.conf, envoy.yaml), mutated by line, token and byte (seeded: a
// failure repeats with LEGATE_FUZZ_SEED). Each text must either read or be refused with a
// ConfigError whose issues say where and what; any other exception is a reader bug a user would
// see as a crash instead of an error naming the line.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ConfigError } from '../../engine/config/errors.ts';
import { parseConfig } from '../../engine/config/load.ts';
import { SEED_NGINX_CONF } from '../helpers/nginx.ts';
import { below, pick, prng } from '../helpers/prng.ts';

const SEED = Number(process.env.LEGATE_FUZZ_SEED ?? 20261201);
const CASES_PER_FILE = 600;

const ROOT = new URL('../../', import.meta.url).pathname;
const SEEDS: Record<string, string> = Object.fromEntries(
  [
    'config/nutcracker.yml',
    'config/legate.yml',
    'config/broker.yml',
    'config/splitter.yml',
    'config/haproxy.cfg',
    'config/envoy.yaml',
    'deploy/pods/experiment/nginx.conf',
    'deploy/pods/circuit-breaker/envoy.yml',
    'deploy/pods/service-broker/haproxy.cfg',
  ].map((f) => [f, readFileSync(ROOT + f, 'utf8')]),
);
SEEDS['the seed nginx snippet'] = SEED_NGINX_CONF;

/** Values a reader must refuse clearly or take: limits, signs, units, types, syntax. */
const VALUES: readonly string[] = [
  '0',
  '-1',
  '1',
  '65536',
  '99999999999999999999',
  '1e400',
  'NaN',
  '0x10',
  '1.5',
  '',
  '""',
  "''",
  '~',
  'null',
  'true',
  '[]',
  '{}',
  '[1, [2]]',
  '{a: 1}',
  '10ms',
  '1h30m',
  '-5s',
  '1k',
  '999999999999d',
  '127.0.0.1:0',
  '127.0.0.1:70000',
  '[::1]:80',
  ':80',
  'unix:/tmp/x.sock',
  '/tmp/x.sock',
  'a b c',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the configs' own ${VAR} syntax.
  '${UNSET}',
  '$remote_addr',
  '$nope',
  '#',
  ';',
  '{',
  '}',
  '"',
  '\\',
  '*',
  '&a',
  '!!binary',
  '\u0000',
  '\u00e9',
];

/** One mutation of `text`: a line dropped, doubled or moved; a token replaced; bytes changed. */
function mutate(random: () => number, text: string): string {
  const lines = text.split('\n');
  const at = below(random, lines.length);
  switch (below(random, 7)) {
    case 0:
      lines.splice(at, 1);
      return lines.join('\n');
    case 1:
      lines.splice(at, 0, lines[at]);
      return lines.join('\n');
    case 2: {
      const [moved] = lines.splice(at, 1);
      lines.splice(below(random, lines.length + 1), 0, moved);
      return lines.join('\n');
    }
    case 3: {
      // A token (word, number, quoted string) replaced by an awkward value.
      const tokens = [...text.matchAll(/[\w.:$/-]+|"[^"\n]*"/g)];
      if (tokens.length === 0) return text;
      const t = pick(random, tokens);
      const i = t.index ?? 0;
      return text.slice(0, i) + pick(random, VALUES) + text.slice(i + t[0].length);
    }
    case 4: {
      // A token replaced by another token of the same file (a directive where a value was).
      const tokens = [...text.matchAll(/[\w.:$/-]+/g)];
      if (tokens.length < 2) return text;
      const t = pick(random, tokens);
      const i = t.index ?? 0;
      return text.slice(0, i) + pick(random, tokens)[0] + text.slice(i + t[0].length);
    }
    case 5: {
      const i = below(random, text.length + 1);
      return text.slice(0, i) + String.fromCharCode(below(random, 128)) + text.slice(i + 1);
    }
    default:
      return text.slice(0, below(random, text.length + 1));
  }
}

describe('config readers under mutated input', () => {
  for (const [name, original] of Object.entries(SEEDS)) {
    it(`${name}: each mutation reads, or is refused with a ConfigError naming where`, (t) => {
      const random = prng(SEED ^ name.length);
      assert.doesNotThrow(() => parseConfig(original, name, {}), 'the unmutated file reads');
      let refused = 0;
      for (let n = 0; n < CASES_PER_FILE; n++) {
        let text = original;
        for (let m = 1 + below(random, 3); m > 0; m--) text = mutate(random, text);
        try {
          parseConfig(text, name, {});
        } catch (err) {
          if (!(err instanceof ConfigError)) {
            assert.fail(
              `case ${n} (seed ${SEED}) threw ${(err as Error).stack}\n--- text ---\n${text}`,
            );
          }
          assert.ok(err.issues.length > 0, `case ${n}: a ConfigError with no issue`);
          for (const issue of err.issues) {
            assert.ok(issue.message.length > 0, `case ${n}: an issue with no message`);
            assert.ok(
              Number.isInteger(issue.line) && issue.line >= 0,
              `case ${n}: line ${issue.line}`,
            );
          }
          refused++;
        }
      }
      t.diagnostic(`${refused} of ${CASES_PER_FILE} refused`);
      // Mutations that all read would mean they never reach the checks.
      assert.ok(refused > CASES_PER_FILE / 10, `only ${refused} of ${CASES_PER_FILE} refused`);
    });
  }
});
