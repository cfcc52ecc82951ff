/**
 * The expression of an `.if` / `.elif` line (configuration.txt 2.4), evaluated as HAProxy's
 * cfgcond.c does: the line's words joined by one space, then `0` false, other integers true,
 * an empty expression false, predicates `defined(NAME)`, `streq(a,b)`, `strneq(a,b)`,
 * `version_atleast(v)`, `version_before(v)`, `!`, `&&` (before `||`), parentheses.
 * `feature(…)` names HAProxy build options; legate has none of them, so it is refused rather
 * than guessed.
 */

export type Evaluated =
  | { readonly ok: true; readonly value: boolean }
  | { readonly ok: false; readonly offset: number; readonly message: string };

/** The HAProxy version `version_atleast` / `version_before` compare with: the seed's image, haproxy:2.9. */
export const EMULATED_VERSION = '2.9.0';

class CondError extends Error {
  readonly offset: number;
  constructor(offset: number, message: string) {
    super(message);
    this.offset = offset;
  }
}

export function evaluateCondition(
  text: string,
  env: (name: string) => string | undefined,
): Evaluated {
  if (text === '') return { ok: true, value: false };
  const parser = new Parser(text, env);
  try {
    const value = parser.or();
    parser.skipBlanks();
    if (parser.at < text.length) {
      throw new CondError(
        parser.at,
        `unexpected character '${text[parser.at]}' at the end of conditional expression '${text}'`,
      );
    }
    return { ok: true, value };
  } catch (error) {
    if (error instanceof CondError)
      return { ok: false, offset: error.offset, message: error.message };
    throw error;
  }
}

class Parser {
  at = 0;
  readonly #text: string;
  readonly #env: (name: string) => string | undefined;
  constructor(text: string, env: (name: string) => string | undefined) {
    this.#text = text;
    this.#env = env;
  }

  skipBlanks(): void {
    while (this.#text[this.at] === ' ' || this.#text[this.at] === '\t') this.at++;
  }

  #eat(token: string): boolean {
    this.skipBlanks();
    if (!this.#text.startsWith(token, this.at)) return false;
    this.at += token.length;
    return true;
  }

  or(): boolean {
    let value = this.and();
    while (this.#eat('||')) value = this.and() || value;
    return value;
  }

  and(): boolean {
    let value = this.term();
    while (this.#eat('&&')) value = this.term() && value;
    return value;
  }

  term(): boolean {
    this.skipBlanks();
    if (this.#eat('!')) return !this.term();
    if (this.#eat('(')) {
      const value = this.or();
      if (!this.#eat(')')) throw new CondError(this.at, "expected ')' in conditional expression");
      return value;
    }
    const start = this.at;
    const integer = /^-?\d+/.exec(this.#text.slice(start));
    if (integer !== null) {
      this.at += integer[0].length;
      return Number(integer[0]) !== 0;
    }
    const name = /^[a-z_]+/.exec(this.#text.slice(start));
    if (name === null || this.#text[start + name[0].length] !== '(') {
      throw new CondError(start, `unparsable conditional expression '${this.#text}'`);
    }
    this.at += name[0].length + 1;
    const args = this.#args();
    return this.#predicate(name[0], args, start);
  }

  /** Arguments up to the closing parenthesis: split on commas, a second level of quotes removed. */
  #args(): string[] {
    const args: string[] = [];
    let current = '';
    let quote: string | null = null;
    while (this.at < this.#text.length) {
      const c = this.#text[this.at++];
      if (quote !== null) {
        if (c === quote) quote = null;
        else if (c === '\\' && quote === '"' && this.at < this.#text.length)
          current += this.#text[this.at++];
        else current += c;
      } else if (c === '"' || c === "'") {
        quote = c;
      } else if (c === '\\' && this.at < this.#text.length) {
        current += this.#text[this.at++];
      } else if (c === ',') {
        args.push(current);
        current = '';
      } else if (c === ')') {
        args.push(current);
        return args;
      } else {
        current += c;
      }
    }
    throw new CondError(this.#text.length, "missing ')' after the predicate's arguments");
  }

  #predicate(name: string, args: string[], start: number): boolean {
    const want = (n: number) => {
      const given = args.length === 1 && args[0] === '' ? 0 : args.length;
      if (given !== n) {
        throw new CondError(
          start,
          `${name}() takes ${n} argument${n === 1 ? '' : 's'}, got ${given}`,
        );
      }
    };
    switch (name) {
      case 'defined':
        want(1);
        return this.#env(args[0]) !== undefined;
      case 'streq':
        want(2);
        return args[0] === args[1];
      case 'strneq':
        want(2);
        return args[0] !== args[1];
      case 'version_atleast':
        want(1);
        return compareVersions(EMULATED_VERSION, args[0]) >= 0;
      case 'version_before':
        want(1);
        return compareVersions(EMULATED_VERSION, args[0]) < 0;
      case 'feature':
        throw new CondError(
          start,
          `feature(${args.join(',')}) asks about HAProxy's build options, which legate does not have; ` +
            'choose with defined(), streq() or strneq() on an environment variable instead',
        );
      default:
        throw new CondError(start, `unknown predicate '${name}' in conditional expression`);
    }
  }
}

/** `2.4-dev19` → [2, 4]; missing parts count as zero, as `haproxy -v` versions compare. */
function compareVersions(a: string, b: string): number {
  const parts = (v: string) => (/^[\d.]+/.exec(v)?.[0] ?? '0').split('.').map(Number);
  const x = parts(a);
  const y = parts(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
