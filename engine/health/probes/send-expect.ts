import type { CheckStep } from '../../config/tcp-types.ts';
import { CheckFailure, type Verdict } from './check-result.ts';
import { ProbeConnection } from './probe-connection.ts';

type Expect = Extract<CheckStep, { op: 'expect' }>;

/**
 * HAProxy's `tcp-check` rules, in order, with its semantics (src/tcpcheck.c):
 * - a first rule that is not `connect` gets an implicit connect to the server's port;
 * - `connect [port N]` closes the previous connection and opens a new one;
 * - `send` writes bytes and forgets what was received so far; consecutive `expect`s all look at
 *   everything received since the last send or connect;
 * - `string`/`binary` match anywhere in it, `rstring` is a regex on the text, `rbinary` a regex
 *   on its uppercase hex dump; `!` passes when the pattern is not there;
 * - on no match, it waits for more bytes until the server closes (or 64 KB arrived): a negated
 *   expect therefore passes only once the server closes, and fails with L7TOUT otherwise;
 * - it ends L4OK when the last rule was a connect, else L7OK; a failed expect is L7RSP.
 */
export async function probeSendExpect(
  steps: readonly CheckStep[],
  host: string,
  port: number,
  deadline: number,
): Promise<Verdict> {
  const implicit = steps[0]?.op !== 'connect';
  const rules: readonly CheckStep[] = implicit ? [{ op: 'connect', port: null }, ...steps] : steps;
  let c: ProbeConnection | null = null;
  let last: CheckStep['op'] = 'connect';
  try {
    for (let i = 0; i < rules.length; i++) {
      const step = rules[i];
      last = step.op;
      if (step.op === 'connect') {
        if (c) await c.close();
        c = null;
        c = await ProbeConnection.open(host, step.port ?? port, deadline);
      } else if (step.op === 'send') {
        c!.clear();
        c!.write(step.data);
      } else {
        await expect(c!, step, implicit ? i : i + 1);
      }
    }
    return last === 'connect'
      ? { code: 'L4OK', reason: 'connected (tcp-check)' }
      : { code: 'L7OK', reason: 'all tcp-check rules passed' };
  } finally {
    if (c) await c.close();
  }
}

/** The bytes a `binary` pattern names (hex digits, as HAProxy writes them). */
export function hexBytes(hex: string): Buffer {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex))
    throw new CheckFailure('L7RSP', `tcp-check binary pattern '${hex}' is not hex bytes`);
  return Buffer.from(hex, 'hex');
}

function compile(pattern: string): RegExp {
  try {
    return new RegExp(pattern);
  } catch (err) {
    throw new CheckFailure(
      'L7RSP',
      `tcp-check regex '${pattern}' is invalid: ${(err as Error).message}`,
    );
  }
}

async function expect(c: ProbeConnection, step: Expect, index: number): Promise<void> {
  const needle =
    step.match === 'string'
      ? Buffer.from(step.pattern, 'utf8')
      : step.match === 'binary'
        ? hexBytes(step.pattern)
        : null;
  const regex = needle === null ? compile(step.pattern) : null;
  let lastRead = c.full;
  for (;;) {
    const input = c.input();
    // Like HAProxy, a string or binary expect first waits for at least as many bytes as it names.
    if (!(needle && input.length < needle.length && !lastRead)) {
      const found = needle
        ? input.indexOf(needle) >= 0
        : regex!.test(
            step.match === 'rbinary' ? input.toString('hex').toUpperCase() : input.toString('utf8'),
          );
      // Like HAProxy: no match yet waits for more bytes, even for a negated pattern.
      if (found || lastRead) {
        if (found !== step.negate) return;
        const shown = JSON.stringify(input.toString('latin1', 0, 120));
        throw new CheckFailure(
          'L7RSP',
          `tcp-check step ${index}: ${found ? 'found' : 'did not find'} ${step.negate ? '! ' : ''}${step.match} '${step.pattern}' in ${shown}`,
        );
      }
    }
    lastRead = !(await c.more());
  }
}
