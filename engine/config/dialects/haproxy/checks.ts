/** `option pgsql-check|redis-check|mysql-check|tcp-check` and `tcp-check` rules. */
import type { CheckStep, HealthCheckKind } from '../../tcp-types.ts';
import type { Report, Statement } from './report.ts';
import { parseCount } from './units.ts';

const OTHER_CHECKS: Readonly<Record<string, string>> = {
  httpchk: "an HTTP check; for a TCP service write 'option tcp-check' with tcp-check send/expect",
  'ssl-hello-chk': "legate has no SSL hello check; use 'option tcp-check' or a plain check",
  'ldap-check': "legate has no LDAP check; use 'option tcp-check' with send-binary/expect binary",
  smtpchk: "legate has no SMTP check; use 'option tcp-check' with 'tcp-check expect string 220'",
  'spop-check': "legate has no SPOP check; use 'option tcp-check'",
  'external-check': "legate runs no external check programs; use 'option tcp-check'",
};

/** The check an `option X-check` line asks for; undefined when the line is wrong (reported). */
export function readCheckOption(stmt: Statement, report: Report): HealthCheckKind | undefined {
  const words = stmt.words.map((w) => w.text);
  const option = words[1];
  switch (option) {
    case 'pgsql-check': {
      if (words[2] !== 'user' || words[3] === undefined) {
        report.error(stmt, "'option pgsql-check' expects 'user <username>' as argument", 1);
        return undefined;
      }
      if (words.length > 4)
        report.error(
          stmt,
          `unexpected '${words[4]}' after 'option pgsql-check user ${words[3]}'`,
          4,
        );
      // HAProxy's pgsql-check never sends SSLRequest and logs no one in: the same here.
      return {
        kind: 'postgres',
        user: words[3],
        database: null,
        password: null,
        ssl: 'disable',
        requirePrimary: false,
      };
    }
    case 'redis-check':
      if (words.length > 2)
        report.error(stmt, `unexpected '${words[2]}' after 'option redis-check'`, 2);
      return { kind: 'redis' };
    case 'mysql-check': {
      if (words.length === 2) return { kind: 'mysql', user: null };
      if (words[2] !== 'user' || words[3] === undefined) {
        report.error(stmt, "'option mysql-check' takes 'user <username>' [post-41|pre-41]", 2);
        return undefined;
      }
      if (words[4] !== undefined && words[4] !== 'post-41') {
        const why =
          words[4] === 'pre-41'
            ? 'legate speaks the 4.1 protocol only; use post-41 or nothing'
            : `unexpected '${words[4]}'`;
        report.error(stmt, why, 4);
      }
      return { kind: 'mysql', user: words[3] };
    }
    case 'tcp-check':
      if (words.length > 2)
        report.error(stmt, `unexpected '${words[2]}' after 'option tcp-check'`, 2);
      return { kind: 'send-expect', steps: [] };
    default:
      report.error(stmt, `'option ${option}' is not supported: ${OTHER_CHECKS[option] ?? ''}`, 1);
      return undefined;
  }
}

export function isCheckOption(option: string): boolean {
  return option.endsWith('-check') || option.endsWith('chk');
}

const EXPECT_KINDS = ['string', 'rstring', 'binary', 'rbinary'] as const;

/** One `tcp-check` rule; undefined when wrong (reported) or when it is only a comment. */
export function readTcpCheckRule(stmt: Statement, report: Report): CheckStep | undefined {
  const words = stmt.words.map((w) => w.text);
  const rule = words[1];
  const trailing = (from: number) => {
    // `comment <msg>` may end any rule; it only names the rule in HAProxy's logs.
    if (words[from] === 'comment' && words[from + 1] !== undefined && words.length === from + 2)
      return true;
    if (words.length === from) return true;
    report.error(
      stmt,
      `'tcp-check ${rule}': '${words[from]}' is not supported by legate (it reads the rule and an optional comment)`,
      from,
    );
    return false;
  };
  switch (rule) {
    case 'comment':
      return undefined;
    case 'connect': {
      let port: number | null = null;
      let i = 2;
      if (words[i] === 'default') i++;
      if (words[i] === 'port') {
        const n = parseCount(words[i + 1] ?? '', 1, 65535);
        if (typeof n === 'string') {
          report.error(stmt, `'tcp-check connect port' ${n}`, i + 1);
          return undefined;
        }
        port = n;
        i += 2;
      }
      return trailing(i) ? { op: 'connect', port } : undefined;
    }
    case 'send':
      if (words[2] === undefined) {
        report.error(stmt, "'tcp-check send' expects the data to send", 1);
        return undefined;
      }
      return trailing(3) ? { op: 'send', data: new TextEncoder().encode(words[2]) } : undefined;
    case 'send-binary': {
      const hex = words[2];
      if (hex === undefined || hex.length % 2 !== 0 || !/^[0-9A-Fa-f]*$/.test(hex)) {
        report.error(
          stmt,
          `'tcp-check send-binary' expects an even number of hex digits, got '${hex ?? ''}'`,
          2,
        );
        return undefined;
      }
      return trailing(3)
        ? { op: 'send', data: Uint8Array.from(Buffer.from(hex, 'hex')) }
        : undefined;
    }
    case 'expect': {
      let i = 2;
      if (words[i] === 'min-recv' || words[i] === 'comment') i += 2;
      let negate = false;
      if (words[i] === '!') {
        negate = true;
        i++;
      } else if (words[i]?.startsWith('!')) {
        negate = true;
        words[i] = words[i].slice(1);
      }
      const match = words[i] as (typeof EXPECT_KINDS)[number];
      if (!EXPECT_KINDS.includes(match)) {
        report.error(
          stmt,
          `'tcp-check expect' reads string, rstring, binary or rbinary, got '${words[i] ?? ''}'`,
          Math.min(i, words.length - 1),
        );
        return undefined;
      }
      const pattern = words[i + 1];
      if (pattern === undefined) {
        report.error(stmt, `'tcp-check expect ${match}' expects a pattern`, i);
        return undefined;
      }
      if (match === 'binary' && (pattern.length % 2 !== 0 || !/^[0-9A-Fa-f]*$/.test(pattern))) {
        report.error(
          stmt,
          `'tcp-check expect binary' expects an even number of hex digits, got '${pattern}'`,
          i + 1,
        );
        return undefined;
      }
      if (match === 'rstring' || match === 'rbinary') {
        try {
          new RegExp(pattern);
        } catch (error) {
          report.error(
            stmt,
            `invalid regular expression '${pattern}': ${(error as Error).message}`,
            i + 1,
          );
          return undefined;
        }
      }
      return trailing(i + 2) ? { op: 'expect', negate, match, pattern } : undefined;
    }
    default:
      report.error(
        stmt,
        `'tcp-check ${rule ?? ''}' is not supported; legate reads tcp-check connect, send, send-binary, expect and comment`,
        1,
      );
      return undefined;
  }
}
